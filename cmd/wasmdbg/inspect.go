package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/internal/inspect"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

type inspectOptions struct {
	json, strict bool
	host         string
}

func newInspectCmd(io stdio) *cobra.Command {
	var opt inspectOptions
	var hosts []string
	for _, h := range inspect.Hosts() {
		hosts = append(hosts, fmt.Sprintf("  %-12s %s", h[0], h[1]))
	}
	cmd := &cobra.Command{
		Use:   "inspect MODULE.wasm",
		Short: "Say what a Proxy-Wasm module is and whether Envoy would load it",
		Long: `inspect reads a Proxy-Wasm module and reports its ABI version, the callbacks it
exports, its allocator and start mode, the imports it needs checked against what
the host provides, its debug information (name section, DWARF, source map),
producers and a language/SDK guess, and the bytes in each section.

When the host would refuse the module, the verdict gives the exact message Envoy
would log (proxy-wasm-cpp-host's) and a hint. The module is still inspected and
the exit status is 0, unless --strict is given. MODULE may be - for stdin.

Exit status: 0 inspected, 1 the file is unreadable or not a valid module (the
error names the section and offset), 2 usage, 3 --strict and the host would
refuse the module.

Hosts (--host):
` + strings.Join(hosts, "\n"),
		Example: `  wasmdbg inspect plugin.wasm
  wasmdbg inspect --json plugin.wasm | jq .host_check
  wasmdbg inspect --host envoy-1.32 --strict plugin.wasm   # exit 3 if Envoy 1.32 would refuse it`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(io, args[0], opt)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opt.json, "json", false, "print the report as JSON")
	f.StringVar(&opt.host, "host", "envoy", "the host to check imports and exports against")
	f.BoolVar(&opt.strict, "strict", false, "exit with status 3 when the host would not load the module")
	return cmd
}

func runInspect(io stdio, path string, opt inspectOptions) error {
	if err := inspect.CheckHost(opt.host); err != nil {
		return usageErrorf("--host: %v", err)
	}
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = readAll(io.in)
		path = "stdin"
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return err
	}
	m, err := wasm.Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r, err := inspect.Inspect(m, len(b), inspect.Options{Host: opt.host, File: path})
	if err != nil {
		return err
	}
	write := r.WriteText
	if opt.json {
		write = r.WriteJSON
	}
	if err := write(io.out); err != nil {
		return err
	}
	if opt.strict && !r.HostCheck.Loads {
		return errTrapped
	}
	return nil
}

func readAll(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("read stdin: no input")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return b, nil
}
