package symbolize

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// ParseAddress reads an address as a person or a tool writes it: hex with
// 0x ("0x1bf"), decimal ("447"), or a function offset ("func[5]+0x12").
// Plain numbers are module offsets, or code offsets when code is true.
func ParseAddress(s string, code bool) (loc.Offset, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "func["); ok {
		idx, off, ok := strings.Cut(rest, "]+")
		if !ok {
			return nil, fmt.Errorf("bad address %q: want func[N]+0xOFF", s)
		}
		i, err := strconv.ParseUint(idx, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("bad address %q: function index %q is not a number", s, idx)
		}
		o, err := parseNumber(off)
		if err != nil {
			return nil, fmt.Errorf("bad address %q: %v", s, err)
		}
		return loc.FuncOffset{Func: uint32(i), Offset: o}, nil
	}
	v, err := parseNumber(s)
	if err != nil {
		return nil, fmt.Errorf("bad address %q: %v", s, err)
	}
	if code {
		return loc.CodeOffset(v), nil
	}
	return loc.ModuleOffset(v), nil
}

func parseNumber(s string) (uint64, error) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		h := s[2:]
		v, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return 0, errors.New("want hex (0x1bf) or decimal (447)")
		}
		return v, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("want hex (0x1bf) or decimal (447)")
	}
	return v, nil
}

// Result is the answer for one address, as `wasmdbg symbolize --json`
// prints it: the address as given, the same place in the module and code
// conventions, and the frames innermost first (or why there are none).
type Result struct {
	Address      string  `json:"address"`
	ModuleOffset string  `json:"module_offset,omitempty"`
	CodeOffset   string  `json:"code_offset,omitempty"`
	Function     *uint32 `json:"function_index,omitempty"`
	Frames       []Frame `json:"frames"`
	Error        string  `json:"error,omitempty"`
}

// Resolve looks off up and fills a Result.
func (m *Module) Resolve(off loc.Offset) (Result, error) {
	r := Result{Address: addressString(off), Frames: []Frame{}}
	frames, err := m.Lookup(off)
	if err != nil {
		r.Error = err.Error()
		return r, err
	}
	mo, _ := m.ModuleOffset(off)
	co, _ := m.CodeOffset(off)
	idx, _ := m.FuncIndex(off)
	r.ModuleOffset, r.CodeOffset, r.Function = mo.String(), fmt.Sprintf("0x%x", uint64(co)), &idx
	r.Frames = frames
	return r, nil
}

func addressString(off loc.Offset) string {
	switch o := off.(type) {
	case loc.ModuleOffset:
		return o.String()
	case loc.CodeOffset:
		return fmt.Sprintf("0x%x", uint64(o))
	}
	return off.String()
}

// Format says how answers are printed.
type Format struct {
	JSON         bool // one JSON array of Results
	PrintAddress bool // text: each address before its frames (llvm-symbolizer -a)
	NoDemangle   bool // text: names as stored (llvm-symbolizer --no-demangle)
}

// WriteText writes a Result as llvm-symbolizer does: per frame the function
// name (demangled unless f.NoDemangle), then file:line:column ("??" for what
// is unknown), then an empty line; with f.PrintAddress the address first.
func WriteText(w io.Writer, r Result, f Format) error {
	bw := bufio.NewWriter(w)
	writeText(bw, r, f)
	return bw.Flush()
}

func writeText(bw *bufio.Writer, r Result, format Format) {
	var scratch [512]byte
	bw.Write(appendText(scratch[:0], r, format))
}

// appendText appends what writeText writes.
func appendText(b []byte, r Result, format Format) []byte {
	if format.PrintAddress {
		b = append(append(b, r.Address...), '\n')
	}
	if len(r.Frames) == 0 {
		b = append(b, "??\n??:0:0\n"...)
	}
	for _, f := range r.Frames {
		name := f.Name()
		if format.NoDemangle {
			name = f.Function
		}
		if name == "" {
			name = "??"
		}
		file := f.File
		if file == "" {
			file = "??"
		}
		b = append(append(b, name...), '\n')
		b = append(append(b, file...), ':')
		b = append(appendInt(b, f.Line), ':')
		b = append(appendInt(b, f.Column), '\n')
	}
	return append(b, '\n')
}

// appendInt is strconv.AppendInt(b, int64(n), 10), quicker for the small
// numbers of lines and columns.
func appendInt(b []byte, n int) []byte {
	if n < 0 || n >= 1e9 {
		return strconv.AppendInt(b, int64(n), 10)
	}
	var d [9]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return append(b, d[i:]...)
		}
	}
}

// Batch answers addresses read one per line from r (llvm-symbolizer's
// stdin mode), writing text or one JSON array as f says; plain numbers are
// code offsets when code is true, else module offsets. Empty lines
// are skipped. An address that cannot be read or resolved is reported
// through errf with its line (name:line: …) and answered "??" (text) or
// with an "error" (JSON), so answers stay in step with the input. It
// returns the number of addresses that failed. Output is flushed whenever
// no more input is waiting, so a program can feed addresses one at a time.
func (m *Module) Batch(r io.Reader, name string, w io.Writer, code bool, f Format, errf func(error)) (failed int, err error) {
	asJSON := f.JSON
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	if asJSON {
		bw.WriteString("[")
	}
	var frames []Frame // reused: the text is written before the next lookup
	var text []byte
	for lineNo := 1; ; lineNo++ {
		line, rerr := br.ReadString('\n')
		if s := strings.TrimSpace(line); s != "" {
			var res Result
			var ferr error
			if asJSON || f.PrintAddress {
				res, ferr = m.resolveLine(s, code)
			} else { // the common batch case: frames only
				var off loc.Offset
				if off, ferr = ParseAddress(s, code); ferr == nil {
					frames, ferr = m.lookup(frames[:0], off)
					res.Frames = frames
				}
			}
			if ferr != nil {
				failed++
				errf(fmt.Errorf("%s:%d: %w", name, lineNo, ferr))
			}
			if asJSON {
				if n > 0 {
					bw.WriteString(",")
				}
				b, _ := json.Marshal(res)
				bw.WriteString("\n")
				bw.Write(b)
			} else {
				text = appendText(text[:0], res, f)
				bw.Write(text)
			}
			n++
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			bw.Flush()
			return failed, rerr
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return failed, err
			}
		}
	}
	if asJSON {
		if n > 0 {
			bw.WriteString("\n")
		}
		bw.WriteString("]\n")
	}
	return failed, bw.Flush()
}

func (m *Module) resolveLine(s string, code bool) (Result, error) {
	off, err := ParseAddress(s, code)
	if err != nil {
		return Result{Address: s, Frames: []Frame{}, Error: err.Error()}, err
	}
	return m.Resolve(off)
}
