package symbolize

import (
	"os"
	"testing"

	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// TestGoNamesFromPclntab: a Go module's names come back as Go prints them,
// package paths included, from the pclntab in its data section
// (testdata/gonames.wat); a written form two names share is left as the
// name section has it, with only the receiver restored where certain.
func TestGoNamesFromPclntab(t *testing.T) {
	b, err := os.ReadFile("testdata/gonames.wasm")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New("gonames.wasm", appendCustom(b, "go:buildid", []byte("go-build-id/test")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		idx       uint32
		raw, want string
	}{
		{0, "github.com_proxy_wasm_proxy_wasm_go_sdk_proxywasm_internal.proxyOnContextCreate",
			"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/internal.proxyOnContextCreate"},
		{1, "main.__filter_.OnHttpRequestHeaders", "main.(*filter).OnHttpRequestHeaders"},
		{2, "github.com_a_b_c.F", ""},
		{3, "main.main", ""},
	} {
		f, err := m.LookupFunc(tt.idx)
		if err != nil || f.Function != tt.raw || f.Demangled != tt.want {
			t.Errorf("func[%d]: %q demangled %q, %v; want %q demangled %q", tt.idx, f.Function, f.Demangled, err, tt.raw, tt.want)
		}
	}
}

// TestDataImage: segments are laid out by address, gaps read as zeros, and
// a malformed data section gives no image.
func TestDataImage(t *testing.T) {
	b, err := os.ReadFile("testdata/gonames.wasm")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := wasm.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	img, ok := dataImage(mod)
	if !ok || len(img.segs) != 2 {
		t.Fatalf("image %+v, %v", img, ok)
	}
	at, ok := img.find(pclntabMagics)
	if !ok || at != 4096 {
		t.Errorf("pclntab at %d, %v; want 4096", at, ok)
	}
	got, _ := img.read(4112, 24) // nfiles, the zero gap (textStart), funcnameOffset
	want := []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 72, 0, 0, 0, 0, 0, 0, 0}
	if string(got) != string(want) {
		t.Errorf("read % x, want % x", got, want)
	}
	if _, ok := img.read(1<<32-4, 8); ok {
		t.Error("read past 4 GiB succeeded")
	}
	sec, _ := mod.Section(wasm.SectionData)
	for _, cut := range []int{1, 3, 10, len(sec.Payload) - 1} {
		bad := *mod
		bad.Sections = append([]wasm.Section(nil), mod.Sections...)
		for i := range bad.Sections {
			if bad.Sections[i].ID == wasm.SectionData {
				bad.Sections[i].Payload = sec.Payload[:cut]
			}
		}
		if img, ok := dataImage(&bad); ok {
			t.Errorf("data section cut at %d: image %+v", cut, img)
		}
	}
}

// FuzzGoNames decodes arbitrary data sections as a Go module's pclntab:
// never a panic, and every name it restores writes back to its key.
func FuzzGoNames(f *testing.F) {
	b, err := os.ReadFile("testdata/gonames.wasm")
	if err != nil {
		f.Fatal(err)
	}
	mod, err := wasm.Parse(b)
	if err != nil {
		f.Fatal(err)
	}
	sec, _ := mod.Section(wasm.SectionData)
	f.Add(sec.Payload)
	f.Add(sec.Payload[:len(sec.Payload)/2])
	f.Add([]byte{1, 0, 0x41, 0x80, 0x80, 0x80, 0x80, 0x08, 0x0b, 8, 0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := *mod
		m.Sections = append([]wasm.Section(nil), mod.Sections...)
		for i := range m.Sections {
			if m.Sections[i].ID == wasm.SectionData {
				m.Sections[i].Payload = data
			}
		}
		for written, name := range goFuncNames(&m) {
			if goUnsafe.ReplaceAllString(name, "_") != written {
				t.Errorf("%q restored as %q", written, name)
			}
		}
	})
}
