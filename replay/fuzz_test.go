package replay

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

func seedDir(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzReadInput: captures, HAR files and tap traces never panic the
// readers, and a capture that parses writes back to one that parses the
// same.
func FuzzReadInput(f *testing.F) {
	seedDir(f, "testdata/captures")
	seedDir(f, "testdata/inputs")
	f.Add([]byte(`{"version":1,"streams":[{"kind":"tcp","tcp":[{"downstream":{"base64":"AAE="}},{"close":"downstream"}]}]}`))
	f.Add([]byte(`{"http_buffered_trace":{"request":{"headers":[{"key":":path","value":"/"}]}}}`))
	f.Add([]byte(`{"log":{"entries":[{"request":{"method":"GET","url":"http://a/b"}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := ReadInput("fuzz.json", data)
		if err != nil {
			return
		}
		out, err := c.Encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		c2, err := ParseCapture("re.json", out)
		if err != nil {
			t.Fatalf("the written capture does not parse: %v\n%s", err, out)
		}
		out2, _ := c2.Encode()
		if string(out) != string(out2) {
			t.Fatalf("writing is not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzParseModule: the section reader never panics on any bytes.
func FuzzParseModule(f *testing.F) {
	seedDir(f, "testdata/wat")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseModule(b)
		if err != nil {
			return
		}
		for _, body := range m.parsed.Code {
			m.parsed.FuncAt(body.Start)
		}
		withOffsetDWARF(b, m, "x")
	})
}

func FuzzDecodePairs(f *testing.F) {
	f.Add(encodePairs([]Header{{":path", "/"}, {"a", "b"}}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, ok := decodePairs(b)
		if ok {
			if got := encodePairs(hs); string(got) != string(b) {
				t.Fatalf("decode then encode differs: %x vs %x", got, b)
			}
		}
	})
}

// FuzzHostFunctions calls every host function with arguments from the
// fuzzer (random pointers, sizes, enums) on a live VM, in the VM, root and
// stream contexts: nothing may panic, and memory errors must come back as
// statuses.
func FuzzHostFunctions(f *testing.F) {
	wasm := readFile(f, "testdata/wat/hostile.wasm")
	m, err := Compile(context.Background(), wasm, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { m.Close(context.Background()) })
	funcs := abi.HostFuncs(abi.Version021)
	f.Add(uint8(0), uint8(2), []byte{2, 0, 0, 0, 0, 4, 0, 0, 5, 0, 0, 0})
	f.Add(uint8(18), uint8(2), []byte{0, 0, 0, 0, 0, 4, 0, 0, 5, 0, 0, 0, 0, 2, 0, 0, 4, 2, 0, 0})
	f.Add(uint8(255), uint8(1), []byte{0xff, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, which, ctxSel uint8, args []byte) {
		fn := funcs[int(which)%len(funcs)]
		if fn.Name == "proc_exit" {
			return
		}
		vm, err := m.NewVM(context.Background(), VMConfig{PluginConfig: []byte("x"), Calls: noCalls{}})
		if err != nil {
			t.Fatal(err)
		}
		defer vm.Close(context.Background())
		stream := vm.newContext(kindHTTP, vm.rootCtx.id)
		h := &httpStream{vm: vm, ctx: stream, stream: &Stream{info: &StreamInfo{Source: "1.2.3.4:5"}}}
		stream.http = h
		h.reqHeaders = newHeaderMap([]Header{{":path", "/"}, {"x", "y"}})
		h.reqHeadersOn = true
		h.reqBody, h.reqBodyOn = bodyBuffer{data: []byte("body"), mutable: true}, true
		switch ctxSel % 3 {
		case 0:
			vm.current = vm.vmCtx
		case 1:
			vm.current = vm.rootCtx
		default:
			vm.current = stream
		}
		s := make([]uint64, max(len(fn.Params), 1))
		for i := range s {
			var v uint64
			if len(args) >= 4 {
				v = uint64(binary.LittleEndian.Uint32(args))
				args = args[4:]
			}
			if i < len(fn.Params) && fn.Params[i].Type == abi.I64 {
				if len(args) >= 4 {
					v |= uint64(binary.LittleEndian.Uint32(args)) << 32
					args = args[4:]
				}
			} else {
				v |= 0xdeadbeef << 32 // wazero leaves the upper half of an i32 slot unspecified
			}
			s[i] = v
		}
		impl := envImpls[fn.Name]
		if fn.Module != "env" {
			impl = wasiImpls[fn.Name]
		}
		impl(vm, s)
		vm.runAfter()
		vm.drainAsync()
	})
}
