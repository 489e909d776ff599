package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"

	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// The files users name on the command line, opened so that a mistake gets
// one clear error: the file's name once (os errors already carry it), a
// directory or a module where a log belongs said as such.

// wasmMagic starts every binary WebAssembly module.
var wasmMagic = []byte("\x00asm")

// openLog opens a log file for trace and tui. A directory, or a module given
// where the log belongs (the usual slip: the .wasm as the argument instead of
// --module), is refused with what to do instead.
func openLog(name string) (*os.File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory: give a log file", name)
	}
	head := make([]byte, len(wasmMagic))
	if n, _ := f.ReadAt(head, 0); n == len(head) && bytes.Equal(head, wasmMagic) {
		f.Close()
		return nil, usageErrorf("%s is a WebAssembly module, not a log: give it with --module %s and the log as the argument", name, name)
	}
	return f, nil
}

// readModule reads the plugin a replay, serve or tui runs. A file that is
// not a module, or a truncated or corrupt one, is an input error (exit 1,
// as in inspect) with its section and offset, said once before anything is
// compiled.
func readModule(path string) ([]byte, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory: give the plugin's .wasm file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := wasm.Parse(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// readError names the file an input error is about, unless the error
// already does (every *fs.PathError: "open x.json: no such file or
// directory").
func readError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// logStart is how Envoy's default log line starts: "[2024-03-08 08:16:46.750]".
var logStart = regexp.MustCompile(`^\[\d{4}-\d\d-\d\d[ T]\d\d:\d\d`)

// looksLikeLog reports whether input given to replay is a proxy log rather
// than a capture: its first line is Envoy's, or it mentions the wasm logger.
func looksLikeLog(data []byte) bool {
	head := data[:min(len(data), 64<<10)]
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	first, _, _ := bytes.Cut(head, []byte("\n"))
	return logStart.Match(first) || bytes.Contains(head, []byte("[wasm]")) || bytes.Contains(head, []byte("wasm log "))
}
