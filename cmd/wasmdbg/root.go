package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses, the same for every subcommand (DESIGN.md §3.4).
const (
	exitOK      = 0 // ran clean
	exitError   = 1 // something failed
	exitUsage   = 2 // bad flags or arguments
	exitTrapped = 3 // the plugin trapped or an expectation failed
)

// exitErr carries an exit status out of a subcommand. A nil err means the
// command already printed what it had to say.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitErr) Unwrap() error { return e.err }

// usageErrorf reports a mistake in how the command was called (exit 2).
func usageErrorf(format string, args ...any) error {
	return &exitErr{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// errTrapped ends a command whose plugin trapped or whose expectation failed
// (exit 3), after the command has printed the details.
var errTrapped = &exitErr{code: exitTrapped}

// stdio is what a command reads from and writes to; tests pass buffers.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// Main runs wasmdbg with the given arguments (args[0] is the program name)
// and returns the process exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	io := stdio{in: stdin, out: stdout, err: stderr}
	root := newRootCmd(displayName(args[0]), io)
	root.SetArgs(args[1:])
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	failed, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	code := exitError
	var ee *exitErr
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	} else if isCobraUsageError(err) {
		code = exitUsage
	}
	fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	if code == exitUsage {
		// The help of the command that was called, which has its examples.
		if failed == nil {
			failed = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", failed.CommandPath())
	}
	return code
}

// displayName is how the program calls itself in help text: "wasmdbg", or
// "kubectl wasmdbg" when installed as a kubectl plugin (kubectl-wasmdbg).
func displayName(argv0 string) string {
	base := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	if strings.HasPrefix(base, "kubectl-") {
		return "kubectl " + strings.ReplaceAll(strings.TrimPrefix(base, "kubectl-"), "_", "-")
	}
	return "wasmdbg"
}

// isCobraUsageError recognises the errors cobra returns for unknown commands
// and bad arguments; flag errors are already wrapped by SetFlagErrorFunc.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

func newRootCmd(name string, io stdio) *cobra.Command {
	root := &cobra.Command{
		Use: "wasmdbg",
		// As a kubectl plugin, help says "kubectl wasmdbg …".
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: name},
		Short:       "Debug Proxy-Wasm plugins: traces, backtraces, replays and live proxies",
		Long: `wasmdbg makes Proxy-Wasm plugins (WebAssembly extensions of Envoy, Istio and
their relatives) debuggable: it decodes wasm:trace streams and crash logs,
symbolizes in-VM backtraces to file:line, replays captured requests through a
local Proxy-Wasm host, and attaches to running proxies.

Exit status: 0 ok, 1 error, 2 usage, 3 the plugin trapped or an expectation failed.`,
		Example:       "  " + name + " inspect plugin.wasm\n  " + name + " version",
		SilenceUsage:  true,
		SilenceErrors: true,
		// A bare "wasmdbg" prints help rather than an error.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q", args[0])
			}
			return cmd.Help()
		},
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitErr{code: exitUsage, err: err}
	})
	for _, c := range []*cobra.Command{
		newVersionCmd(io),
		newSymbolizeCmd(io),
		newInspectCmd(io),
		newLevelCmd(io),
		newMetricsCmd(io),
		newPluginsCmd(io),
		newAttachCmd(io),
		newTraceCmd(io),
		newReplayCmd(io),
		newServeCmd(io),
		newDemoCmd(io),
		newCaptureCmd(io),
		newTUICmd(io),
	} {
		root.AddCommand(c)
	}
	return root
}

// exactArgs is cobra.ExactArgs with a usage exit status.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return argCountError(cmd, args, countNoun(n, "argument"))
		}
		return nil
	}
}

// rangeArgs is cobra.RangeArgs with a usage exit status.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return argCountError(cmd, args, fmt.Sprintf("%d to %d arguments", lo, hi))
		}
		return nil
	}
}

// argCountError says how many arguments the command takes, which ones it
// got, and its usage line. A word given to a command that reaches pods
// with --pod is most likely a pod name.
func argCountError(cmd *cobra.Command, args []string, want string) error {
	got := "none"
	if len(args) > 0 {
		q := make([]string, len(args))
		for i, a := range args {
			q[i] = strconv.Quote(a)
		}
		got = strings.Join(q, " ")
	}
	if want == "0 arguments" {
		msg := fmt.Sprintf("%s takes no arguments, got %s", cmd.CommandPath(), got)
		if len(args) == 1 && cmd.Flags().Lookup("pod") != nil {
			msg += fmt.Sprintf("; to reach a pod, give --pod %s", args[0])
		}
		return usageErrorf("%s", msg)
	}
	return usageErrorf("%s takes %s, got %s (usage: %s)", cmd.CommandPath(), want, got, cmd.UseLine())
}

// countNoun writes "1 argument" or "2 arguments".
func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
