package replay

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// TestStrippedTinyGoPanic replays a module shaped like a TinyGo plugin
// built with -no-debug (testdata/wat/tinygo.wat): its panic arrives on
// stdout one character per fd_write, and the module has no name section.
func TestStrippedTinyGoPanic(t *testing.T) {
	m := compileFile(t, "testdata/wat/tinygo.wasm", Options{Timeout: time.Second})
	c := loadCapture(t, "testdata/captures/basic.json")
	text, _, res := run(t, m, c, Callbacks)
	if res.Crash == nil {
		t.Fatal("no crash")
	}
	if got, want := res.Crash.PanicText, "panic: runtime error: index out of range"; got != want {
		t.Errorf("panic text %q, want %q", got, want)
	}
	// cpp-host's V8::getFailMessage prints the backtrace only when the
	// module names its functions; the crash keeps its frames for the
	// symbolized report.
	const head = "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable"
	if got := res.Crash.V8Message(); got != head {
		t.Errorf("V8 message %q, want %q", got, head)
	}
	if len(res.Crash.Frames) != 2 || res.Crash.Frames[0].Name != "unknown(function index:9)" {
		t.Errorf("frames %+v, want unknown(function index:9) under the callback", res.Crash.Frames)
	}
	if !strings.Contains(string(text), head+"\n") || strings.Contains(string(text), "in-VM backtrace") {
		t.Errorf("rendered trace has a backtrace V8 would not print:\n%s", text)
	}
}

// TestNamedModuleBacktrace: with a name section the V8 block lists the
// frames.
func TestNamedModuleBacktrace(t *testing.T) {
	m := compileFile(t, "testdata/wat/basic.wasm", Options{Timeout: time.Second})
	c := loadCapture(t, "testdata/captures/basic.json")
	_, _, res := run(t, m, c, Callbacks)
	if res.Crash == nil {
		t.Fatal("no crash")
	}
	want := "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\n" +
		"Proxy-Wasm plugin in-VM backtrace:\n" +
		"  0:  0x"
	if got := res.Crash.V8Message(); !strings.HasPrefix(got, want) {
		t.Errorf("V8 message %q, want it to start %q", got, want)
	}
}

// TestPrereleaseABIHint: a plugin of envoy-wasm's 2019 ABI fails to load
// as in Envoy, and the hint says why rather than "not a plugin".
func TestPrereleaseABIHint(t *testing.T) {
	_, err := Compile(context.Background(), readFile(t, "testdata/wat/prerelease.wasm"), Options{})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want a LoadError", err)
	}
	want := LoadError{Reason: "unknown_abi_version", Message: "Missing or unknown Proxy-Wasm ABI version",
		Hint: "the module exports _proxy_onStart: it was built for the 2019 pre-release Envoy Wasm ABI, before proxy_abi_version_* markers, which no released Envoy or Istio loads; rebuild it with a current Proxy-Wasm SDK (ABI 0.2.1)"}
	if *le != want {
		t.Errorf("got %+v\nwant %+v", *le, want)
	}
}

// TestConfigAttributeNote: an attribute Envoy answers from its
// configuration, absent from the capture, is NotFound with a note saying
// where to give it; an unknown name is NotFound without one.
func TestConfigAttributeNote(t *testing.T) {
	vm := &VM{}
	if _, st := vm.getProperty(&hostContext{}, "cluster_name"); st != abi.NotFound {
		t.Errorf("cluster_name: status %v, want NotFound", st)
	}
	if _, st := vm.getProperty(&hostContext{}, "no_such_attribute"); st != abi.NotFound {
		t.Errorf("no_such_attribute: status %v, want NotFound", st)
	}
	want := []string{"property cluster_name is not in the capture, so the plugin got NotFound; Envoy answers it from its configuration: give it under host.properties"}
	if got := vm.Notes(); !reflect.DeepEqual(got, want) {
		t.Errorf("notes %q, want %q", got, want)
	}
}

// TestPropertyPathTrailingNUL: the C++ SDK NUL-terminates every segment of
// a property path, the last one too; Envoy's getProperty stops at the
// path's end, so the trailing NUL names nothing more.
func TestPropertyPathTrailingNUL(t *testing.T) {
	c, err := ParseCapture("props.json", []byte(`{"version":1,"host":{"properties":{"node":{"metadata":{"cluster":"c"}}}},"streams":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	vm := &VM{cfg: VMConfig{Properties: c.Host.Properties}}
	for _, tt := range []struct {
		path string
		want abi.Status
		val  string
	}{
		{"node\x00metadata\x00cluster", abi.Ok, "c"},
		{"node\x00metadata\x00cluster\x00", abi.Ok, "c"},
		{"node\x00metadata\x00cluster\x00\x00", abi.NotFound, ""},
		{"\x00", abi.NotFound, ""},
		{"", abi.NotFound, ""},
	} {
		v, st := vm.getProperty(&hostContext{}, tt.path)
		if st != tt.want || string(v) != tt.val {
			t.Errorf("getProperty(%q) = %q, %v; want %q, %v", tt.path, v, st, tt.val, tt.want)
		}
	}
}
