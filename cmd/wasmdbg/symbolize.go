package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/symbolize"
)

type symbolizeOptions struct {
	module, debugFile, sourceMap, addrFile string
	codeOffsets, json, printAddress        bool
	stripRustHash, noDemangle              bool
}

func newSymbolizeCmd(io stdio) *cobra.Command {
	var o symbolizeOptions
	cmd := &cobra.Command{
		Use:   "symbolize --module M.wasm [ADDR…|FILE|-]",
		Short: "Turn backtrace offsets into function, file:line:col and inlined frames",
		Long: `symbolize answers "where in my code?" for offsets in a WebAssembly module, from
its DWARF (4 and 5, with inlined calls), its source map, its name section or its
exports, best first; C++ and Rust names are demangled and Go's are restored.

With addresses (arguments, or one per line with --addr-file F|-) it prints, like
llvm-symbolizer, each frame's function then file:line:col, innermost (inlined)
first, and an empty line after each address; --json prints one array.
Addresses are module (file) offsets as V8, Envoy and wasmtime print them, hex
(0x1bf) or decimal; --code-offsets reads code-section offsets as DWARF,
llvm-symbolizer and wazero use; func[N]+0xOFF is a function-relative offset.

Without addresses it is a filter: it copies a log (FILE, or standard input)
unchanged and adds the resolved frames under every backtrace frame it finds
(Envoy/V8 "  0:  0xdbd - name", wasmtime "0: 0x1234 - mod!name", wazero
"wasm stack trace:"), so it follows a live stream:
kubectl logs -f POD | wasmdbg symbolize --module plugin.wasm

A stripped module is symbolized with --debug-file, a debug build of the same
code (the code sections must be identical).`,
		Example: `  wasmdbg symbolize --module plugin.wasm 0x1bf 0x2b9
  wasmdbg symbolize --module plugin.wasm --code-offsets --json 0x27
  wasmdbg symbolize --module plugin.wasm --addr-file offsets.txt
  wasmdbg symbolize --module plugin.wasm --debug-file plugin.debug.wasm 0x1bf
  wasmdbg symbolize --module plugin.wasm envoy.log
  kubectl logs -f deploy/gateway -c istio-proxy | wasmdbg symbolize --module plugin.wasm`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSymbolize(io, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.module, "module", "m", "", "the module (.wasm) the offsets are in (required)")
	f.StringVar(&o.debugFile, "debug-file", "", "a debug build of the same code, for a stripped module")
	f.StringVar(&o.sourceMap, "source-map", "", "the module's source map (default: its sourceMappingURL, beside the module)")
	f.StringVar(&o.addrFile, "addr-file", "", "read addresses one per line from this file (- for standard input)")
	f.BoolVar(&o.codeOffsets, "code-offsets", false, "addresses are code-section offsets (DWARF, llvm-symbolizer, wazero), not module offsets")
	f.BoolVar(&o.json, "json", false, "print a JSON array of {address, module_offset, code_offset, frames}")
	f.BoolVarP(&o.printAddress, "print-address", "a", false, "print each address before its frames (text output)")
	f.BoolVar(&o.stripRustHash, "strip-rust-hash", false, "drop the ::h<hash> suffix of legacy Rust names")
	f.BoolVar(&o.noDemangle, "no-demangle", false, "print names as the module stores them (text output; JSON has both)")
	return cmd
}

func runSymbolize(io stdio, o symbolizeOptions, args []string) error {
	if o.module == "" {
		return usageErrorf("symbolize needs --module M.wasm: the module the offsets are in")
	}
	var addrs []string
	var input string
	switch {
	case o.addrFile != "" && len(args) > 0:
		return usageErrorf("give addresses either as arguments or with --addr-file, not both")
	case o.addrFile != "":
	case len(args) == 1 && (args[0] == "-" || !isSymbolizeAddress(args[0])):
		input = args[0]
	case len(args) > 0:
		for _, a := range args {
			if !isSymbolizeAddress(a) {
				return usageErrorf("%q is not an address (hex 0x1bf, decimal 447 or func[N]+0xOFF); to filter a log, give only its file name", a)
			}
		}
		addrs = args
	}
	filtering := o.addrFile == "" && len(addrs) == 0
	if filtering && (o.json || o.printAddress || o.noDemangle) {
		return usageErrorf("--json, --print-address and --no-demangle apply to addresses; a log is filtered as text")
	}
	if filtering && input != "" && input != "-" {
		// "symbolize -m M.wasm 1bf" (no 0x) is neither an address nor a file.
		if _, err := os.Stat(input); errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(input, "./") {
			return usageErrorf("%q is neither an address (hex 0x1bf, decimal 447 or func[N]+0xOFF) nor a file", input)
		}
	}
	if o.sourceMap != "" {
		// Read only when DWARF does not answer: a wrong path would go unnoticed.
		if _, err := os.Stat(o.sourceMap); err != nil {
			return fmt.Errorf("--source-map: %w", err)
		}
	}
	m, err := symbolize.Open(o.module, symbolize.Options{
		DebugFile:     o.debugFile,
		SourceMap:     o.sourceMap,
		StripRustHash: o.stripRustHash,
		Warn:          func(msg string) { fmt.Fprintf(io.err, "wasmdbg: warning: %s\n", msg) },
	})
	if err != nil {
		return err
	}
	switch {
	case filtering:
		r, closeIn, err := symbolizeInput(io, input)
		if err != nil {
			return err
		}
		defer closeIn()
		return m.Filter(r, io.out)
	case o.addrFile != "":
		r, closeIn, err := symbolizeInput(io, o.addrFile)
		if err != nil {
			return err
		}
		defer closeIn()
		name := o.addrFile
		if name == "-" {
			name = "<stdin>"
		}
		failed, err := m.Batch(r, name, io.out, o.codeOffsets, o.format(), func(e error) {
			fmt.Fprintf(io.err, "wasmdbg: %v\n", e)
		})
		if err != nil {
			return err
		}
		return symbolizeFailed(failed)
	}
	results := make([]symbolize.Result, 0, len(addrs))
	failed := 0
	for _, a := range addrs {
		off, err := symbolize.ParseAddress(a, o.codeOffsets)
		if err != nil {
			return usageErrorf("%v", err)
		}
		r, err := m.Resolve(off)
		if err != nil {
			failed++
			fmt.Fprintf(io.err, "wasmdbg: %v\n", err)
		}
		results = append(results, r)
	}
	if o.json {
		b, _ := json.MarshalIndent(results, "", "  ")
		fmt.Fprintf(io.out, "%s\n", b)
	} else {
		for _, r := range results {
			if err := symbolize.WriteText(io.out, r, o.format()); err != nil {
				return err
			}
		}
	}
	return symbolizeFailed(failed)
}

func (o symbolizeOptions) format() symbolize.Format {
	return symbolize.Format{JSON: o.json, PrintAddress: o.printAddress, NoDemangle: o.noDemangle}
}

// symbolizeFailed is the error that ends a run where some addresses had no
// answer (each already reported).
func symbolizeFailed(n int) error {
	if n == 0 {
		return nil
	}
	return &exitErr{code: exitError}
}

func isSymbolizeAddress(s string) bool {
	_, err := symbolize.ParseAddress(s, false)
	return err == nil
}

// symbolizeInput opens a file argument, "-" or "" meaning standard input.
func symbolizeInput(io stdio, name string) (io.Reader, func(), error) {
	if name == "" || name == "-" {
		return io.in, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
