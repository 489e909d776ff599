package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/replay"
)

func newCaptureCmd(io stdio) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capture",
		Short: "Make and convert replay captures (capture format v1)",
		Long: `capture works with the files wasmdbg replay reads. A capture (format v1,
replay/capture.schema.json) holds the plugin's configuration, the host facts
that make a replay deterministic (start time, clock step, random seed,
properties, shared data) and the streams: HTTP requests and responses with
their bodies and trailers, byte-exact, the answers to the plugin's calls, TCP
data, and optional expectations.`,
		Example: "  wasmdbg capture convert session.har capture.json --config 'deny=x-deny'",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newCaptureConvertCmd(io))
	addLiveCapture(cmd, io)
	return cmd
}

func newCaptureConvertCmd(io stdio) *cobra.Command {
	var (
		in       inputFlags
		module   string
		noRedact bool
	)
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Write a HAR file or Envoy tap traces (or a capture) as a capture v1 file",
		Long: `convert reads IN (a HAR file, Envoy tap traces, or a capture; "-" for standard
input) and writes the capture v1 form to OUT ("-" for standard output). HAR
files and taps do not record the plugin: --config, --root-id, --vm-id,
--plugin-name, --cluster and --module fill it in.

Credentials are redacted by default (authorization, cookie, set-cookie,
proxy-authorization become "[redacted]"); --no-redact keeps them.`,
		Example: `  wasmdbg capture convert session.har capture.json --config 'deny=x-deny' --root-id my_root
  wasmdbg capture convert tap.json - --module plugin.wasm --cluster auth`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ov, err := in.overrides(cmd)
			if err != nil {
				return err
			}
			c, name, err := readReplayInput(io, args[0])
			if err != nil {
				return err
			}
			ov.Apply(c)
			if module != "" {
				c.Module = module
			}
			if !noRedact {
				if n := replay.Redact(c); n > 0 {
					fmt.Fprintf(io.err, "wasmdbg: redacted %d credential header value(s); --no-redact keeps them\n", n)
				}
			}
			for _, n := range c.Notes {
				fmt.Fprintf(io.err, "wasmdbg: note: %s: %s\n", name, n)
			}
			out, err := c.Encode()
			if err != nil {
				return err
			}
			if args[1] == "-" {
				_, err = io.out.Write(out)
				return err
			}
			return os.WriteFile(args[1], out, 0o644)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVar(&module, "module", "", `set the capture's "module" (the .wasm path, relative to the capture)`)
	cmd.Flags().BoolVar(&noRedact, "no-redact", false, "keep credential headers")
	return cmd
}
