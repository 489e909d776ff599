package inspect

import (
	"bytes"
	"debug/dwarf"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func inspectFile(t *testing.T, name, host string) *Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return inspectBytes(t, name, b, host)
}

func inspectBytes(t *testing.T, name string, b []byte, host string) *Report {
	t.Helper()
	m, err := wasm.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	r, err := Inspect(m, len(b), Options{Host: host, File: name})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func messages(ps []Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Message)
	}
	return out
}

// TestHostCheck asserts the full messages cpp-host would print for each
// way a module fails to load, in the order it meets them.
func TestHostCheck(t *testing.T) {
	tests := []struct {
		file, host  string
		abi         string
		allocator   string
		start       Start
		problems    []string
		reasons     []string
		hintPrefix  string // of the first problem's hint
		missing     int
		mismatched  int
		uncalled    []string // callbacks with a note
		badExported []string
	}{
		{
			file: "as-abort.wasm", abi: "0.2.0", allocator: "malloc",
			start:      Start{Mode: "start section", Calls: []string{}, StartSection: true, StartFunction: "func[3] <start>"},
			problems:   []string{"Failed to load Wasm module due to a missing import: env.abort"},
			reasons:    []string{"missing_import"},
			hintPrefix: "AssemblyScript imports env.abort unless told otherwise: build with --use abort=abort_proc_exit",
			missing:    1,
			uncalled:   []string{"proxy_on_grpc_trailing_metadata"},
		},
		{
			file: "mismatch.wasm", abi: "0.2.1", allocator: "proxy_on_memory_allocate",
			start: Start{Mode: "reactor", Calls: []string{"_initialize"}},
			problems: []string{
				"Failed to load Wasm module due to an import type mismatch: env.proxy_log, want: i32 i32 -> i32, but host exports: i32 i32 i32 -> i32",
				"Bad function signature for: proxy_on_request_headers, want: i32 i32 i32 -> i32, but the module exports: i32 i32 -> i32",
				"Bad function signature for: proxy_on_done, want: i32 -> i32, but the module exports: i32 -> void",
			},
			reasons:     []string{"import_type_mismatch", "bad_export_signature", "bad_export_signature"},
			hintPrefix:  "the module declares env.proxy_log with other types than the host's proxy_log(level i32, message i32, message_size i32) -> i32: fix the declaration",
			mismatched:  1,
			badExported: []string{"proxy_on_request_headers", "proxy_on_done"},
		},
		{
			file: "abi010.wasm", abi: "0.1.0", allocator: "malloc",
			start:      Start{Mode: "command", Calls: []string{"_start"}},
			problems:   []string{"Failed to load Wasm module due to a missing import: env.proxy_continue_stream"},
			reasons:    []string{"missing_import"},
			hintPrefix: "env.proxy_continue_stream exists only in ABI 0.2.0, 0.2.1, and this module declares ABI 0.1.0 (export proxy_abi_version_0_1_0)",
			missing:    1,
			uncalled:   []string{"proxy_on_foreign_function"},
		},
		{
			file: "no-abi.wasm", abi: "none", allocator: "malloc",
			start:      Start{Mode: "command", Calls: []string{"_start"}},
			problems:   []string{"Missing or unknown Proxy-Wasm ABI version"},
			reasons:    []string{"unknown_abi_version"},
			hintPrefix: "the module exports Proxy-Wasm callbacks but no proxy_abi_version_* marker",
			uncalled:   []string{"main"},
		},
		{
			file: "pic.wasm", abi: "0.2.1", allocator: "none",
			start: Start{Mode: "reactor", Calls: []string{"_initialize", "__main_void"}},
			problems: []string{
				"Failed to load Wasm module due to a missing import: env.__stack_pointer",
				"Failed to load Wasm module due to a missing import: env.__memory_base",
				"Failed to load Wasm module due to a missing import: env.emscripten_memcpy_big",
				"Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.sock_open",
				"Failed to load Wasm module due to a missing import: wasi:io/streams@0.2.0.write",
				"Wasm module is missing malloc function.",
			},
			reasons:    []string{"missing_import", "missing_import", "missing_import", "missing_import", "missing_import", "missing_malloc"},
			hintPrefix: "proxy-wasm-cpp-host cannot import globals",
			missing:    5,
		},
		{
			file: "go-wasi.wasm", abi: "0.2.1", allocator: "proxy_on_memory_allocate",
			start:    Start{Mode: "reactor", Calls: []string{"_initialize"}},
			problems: []string{},
		},
		{
			file: "go-wasi.wasm", host: "envoy-1.33", abi: "0.2.1", allocator: "proxy_on_memory_allocate",
			start:      Start{Mode: "reactor", Calls: []string{"_initialize"}},
			problems:   []string{"Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.fd_fdstat_set_rights"},
			reasons:    []string{"missing_import"},
			hintPrefix: "wasi_snapshot_preview1.fd_fdstat_set_rights is provided only since proxy-wasm-cpp-host #533 (2026-04, Envoy releases after it); the host envoy-1.33 predates it.",
			missing:    1,
		},
		{
			file: "go-wasi.wasm", host: "envoy-1.32", abi: "0.2.1", allocator: "proxy_on_memory_allocate",
			start: Start{Mode: "reactor", Calls: []string{"_initialize"}},
			problems: []string{
				"Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.sched_yield",
				"Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.fd_fdstat_set_rights",
			},
			reasons:    []string{"missing_import", "missing_import"},
			hintPrefix: "wasi_snapshot_preview1.sched_yield is provided only since proxy-wasm-cpp-host #427 (2024-12, Envoy 1.33+); the host envoy-1.32 predates it.",
			missing:    2,
		},
	}
	for _, tt := range tests {
		name := tt.file + " --host " + tt.host
		r := inspectFile(t, tt.file, tt.host)
		if r.ABIVersion != tt.abi || r.Allocator != tt.allocator {
			t.Errorf("%s: abi %q allocator %q, want %q %q", name, r.ABIVersion, r.Allocator, tt.abi, tt.allocator)
		}
		if !reflect.DeepEqual(r.Start, tt.start) {
			t.Errorf("%s: start %+v, want %+v", name, r.Start, tt.start)
		}
		hc := r.HostCheck
		if got := messages(hc.Problems); !reflect.DeepEqual(got, tt.problems) {
			t.Errorf("%s: problems\n%q\nwant\n%q", name, got, tt.problems)
		}
		if hc.Loads != (len(tt.problems) == 0) {
			t.Errorf("%s: loads %v with %d problems", name, hc.Loads, len(tt.problems))
		}
		var reasons []string
		for _, p := range hc.Problems {
			reasons = append(reasons, p.Reason)
			if p.Hint == "" {
				t.Errorf("%s: %s has no hint", name, p.Message)
			}
		}
		if !reflect.DeepEqual(reasons, tt.reasons) {
			t.Errorf("%s: reasons %q, want %q", name, reasons, tt.reasons)
		}
		if tt.hintPrefix != "" && (len(hc.Problems) == 0 || !strings.HasPrefix(hc.Problems[0].Hint, tt.hintPrefix)) {
			t.Errorf("%s: first hint %q, want prefix %q", name, hc.Problems[0].Hint, tt.hintPrefix)
		}
		if len(hc.Missing) != tt.missing || len(hc.Mismatched) != tt.mismatched {
			t.Errorf("%s: %d missing, %d mismatched", name, len(hc.Missing), len(hc.Mismatched))
		}
		var uncalled, bad []string
		for _, c := range r.Callbacks {
			if c.Note != "" {
				uncalled = append(uncalled, c.Name)
			}
			if !c.OK {
				bad = append(bad, c.Name)
			}
		}
		if !reflect.DeepEqual(uncalled, tt.uncalled) || !reflect.DeepEqual(bad, tt.badExported) {
			t.Errorf("%s: uncalled %q bad %q, want %q %q", name, uncalled, bad, tt.uncalled, tt.badExported)
		}
	}
}

func TestImportStatus(t *testing.T) {
	r := inspectFile(t, "go-wasi.wasm", "")
	want := map[string][]Import{
		"wasi_snapshot_preview1": {
			{Name: "fd_write", Kind: "func", Signature: "i32 i32 i32 i32 -> i32", Status: "ok"},
			{Name: "sched_yield", Kind: "func", Signature: "void -> i32", Status: "ok", Since: "proxy-wasm-cpp-host #427 (2024-12, Envoy 1.33+)"},
			{Name: "fd_fdstat_set_rights", Kind: "func", Signature: "i32 i64 i64 -> i32", Status: "ok", Since: "proxy-wasm-cpp-host #533 (2026-04, Envoy releases after it)"},
		},
		"env": {{Name: "proxy_log", Kind: "func", Signature: "i32 i32 i32 -> i32", Status: "ok"}},
	}
	if !reflect.DeepEqual(r.Imports, want) {
		t.Errorf("imports\n%+v\nwant\n%+v", r.Imports, want)
	}
	r = inspectFile(t, "pic.wasm", "")
	var types []string
	for _, im := range r.Imports["env"] {
		types = append(types, im.Name+": "+im.Type+im.Signature+" "+im.Status)
	}
	wantTypes := []string{
		"memory: memory 1 pages ok",
		"__indirect_function_table: table funcref 0 elements ok",
		"__stack_pointer: global mut i32 missing",
		"__memory_base: global i32 missing",
		"emscripten_notify_memory_growth: i32 -> void ok",
		"emscripten_memcpy_big: i32 i32 i32 -> i32 missing",
	}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("env imports\n%q\nwant\n%q", types, wantTypes)
	}
}

func TestLanguage(t *testing.T) {
	tests := []struct {
		file      string
		name, sdk string
		toolchain string
	}{
		{"as-abort.wasm", "AssemblyScript", "", ""},
		{"go-wasi.wasm", "Go", "", "go1.26.8"},
		{"mismatch.wasm", "unknown", "", ""},
		// stripped builds: no names, no producers
		{"emscripten.wasm", "C++", "proxy-wasm-cpp-sdk", "Emscripten"},
		{"as-stripped.wasm", "AssemblyScript", "@gcoredev/proxy-wasm-sdk-as", ""},
		{"pic.wasm", "C", "", "Emscripten"},
		{"zig.wasm", "Zig", "proxy-wasm-zig-sdk", "zig 0.14.0"},
	}
	for _, tt := range tests {
		l := inspectFile(t, tt.file, "").Language
		if l.Name != tt.name || l.SDK != tt.sdk || l.Toolchain != tt.toolchain {
			t.Errorf("%s: %+v, want %s %q %q", tt.file, l, tt.name, tt.sdk, tt.toolchain)
		}
	}
	if ev := inspectFile(t, "go-wasi.wasm", "").Language.Evidence; !reflect.DeepEqual(ev, []string{
		"producers language: Go go1.26.8", "custom section go:buildid (the Go linker's)", "name section: 2 Go runtime/main functions"}) {
		t.Errorf("go-wasi evidence %q", ev)
	}
}

func TestLanguageEvidenceStripped(t *testing.T) {
	for _, tt := range []struct {
		file string
		want []string
	}{
		{"emscripten.wasm", []string{
			"C++ runtime: 1 __cxa_* exports and imports",
			"Emscripten runtime: 1 env imports",
			"Emscripten runtime exports: stackSave, stackRestore",
			"custom section emscripten_metadata (Emscripten's)",
			"exports proxy_validate_configuration and proxy_on_request_metadata, which proxy-wasm-cpp-sdk defines",
		}},
		{"as-stripped.wasm", []string{
			"data section: UTF-16 ~lib/ paths (AssemblyScript's strings)",
			"data section: UTF-16 ~lib/@gcoredev/proxy-wasm-sdk-as paths",
		}},
	} {
		if ev := inspectFile(t, tt.file, "").Language.Evidence; !reflect.DeepEqual(ev, tt.want) {
			t.Errorf("%s evidence %q, want %q", tt.file, ev, tt.want)
		}
	}
}

// TestLanguageFromNames: the name forms each toolchain writes, alone.
func TestLanguageFromNames(t *testing.T) {
	for _, tt := range []struct {
		names []string
		want  string
	}{
		// Emscripten writes Itanium names with an extra underscore.
		{[]string{"__ZN6google8protobuf7Message5ClearEv", "_malloc"}, "C++"},
		{[]string{"_ZN5proxy4ViewC2EPKcm"}, "C++"},
		{[]string{"_ZN6plugin5crash6deeper17h537654f97834de11E"}, "Rust"},
		{[]string{"fmt.allocPrint__anon_1812", "proxy_log|env"}, "Zig"},
		{[]string{"~lib/rt/itcms/__new"}, "AssemblyScript"},
		{[]string{"memcpy", "strlen"}, "unknown"},
	} {
		m := &wasm.Module{HasNames: true, Names: wasm.Names{Funcs: map[uint32]string{}}}
		for i, n := range tt.names {
			m.Names.Funcs[uint32(i)] = n
		}
		if got := guessLanguage(m).Name; got != tt.want {
			t.Errorf("names %q: %s, want %s", tt.names, got, tt.want)
		}
	}
}

func TestSDKFromName(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"~lib/@gcoredev/proxy-wasm-sdk-as/assembly/runtime/getBaseContext", "@gcoredev/proxy-wasm-sdk-as"},
		{"~lib/@solo-io/proxy-runtime/runtime/RootContext#onConfigure", "@solo-io/proxy-runtime"},
		{"github.com_tetratelabs_proxy_wasm_go_sdk_proxywasm.SetVMContext", "proxy-wasm-go-sdk (github.com/tetratelabs)"},
		{"_ZN10proxy_wasm10dispatcher10Dispatcher14on_http_request17h0123456789abcdefE", "proxy-wasm-rust-sdk"},
		{"main.main", ""},
	} {
		if got := sdkFromName(tt.name); got != tt.want {
			t.Errorf("sdkFromName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, tt := range []struct{ name, want string }{
		{"(github.com/alibaba/higress/plugins/wasm-go/pkg/wrapper.Log).Critical", "Higress wasm-go"},
		{"github.com_higress_group_wasm_go_pkg_wrapper.ProcessRequestHeaders", "Higress wasm-go"},
		{"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm.LogWarnf", ""},
	} {
		if got := frameworkFromName(tt.name); got != tt.want {
			t.Errorf("frameworkFromName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestPrereleaseABI: a module of envoy-wasm's 2019 ABI is told apart from
// something that is not a plugin at all.
func TestPrereleaseABI(t *testing.T) {
	r := inspectFile(t, "prerelease.wasm", "")
	want := []Problem{
		{Reason: "unknown_abi_version", Message: "Missing or unknown Proxy-Wasm ABI version",
			Hint: "the module exports _proxy_onStart: it was built for the 2019 pre-release Envoy Wasm ABI, before proxy_abi_version_* markers, which no released Envoy or Istio loads; rebuild it with a current Proxy-Wasm SDK (ABI 0.2.1)"},
		{Reason: "missing_import", Name: "env._proxy_log", Message: "Failed to load Wasm module due to a missing import: env._proxy_log",
			Hint: "env._proxy_log is a host function of the 2019 pre-release Envoy Wasm ABI, which no released Envoy or Istio provides: rebuild the plugin with a current Proxy-Wasm SDK (ABI 0.2.1)"},
	}
	if got := r.HostCheck.Problems; len(got) < 2 || !reflect.DeepEqual(got[:2], want) {
		t.Errorf("problems\n%+v\nwant them to start\n%+v", got, want)
	}
}

func TestMisnamedCallback(t *testing.T) {
	r := inspectFile(t, "as-abort.wasm", "")
	c := r.Callbacks[len(r.Callbacks)-1]
	want := Callback{Name: "proxy_on_grpc_trailing_metadata", Signature: "i32 i32 i32 -> void", OK: true,
		Note: "not called: no host looks up this name; the callback is named proxy_on_grpc_receive_trailing_metadata"}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	for _, tt := range []struct{ in, want string }{
		{"proxy_on_request_header", "proxy_on_request_headers"},
		{"proxy_on_custom_thing", ""},
	} {
		if got := closestCallback(tt.in); got != tt.want {
			t.Errorf("closestCallback(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStaleDWARF(t *testing.T) {
	d := inspectFile(t, "stale-dwarf.wasm", "").Debug
	if !d.DWARF || !d.DWARFStale || d.DWARFRanges != 0 || d.DWARFVersion != 4 || d.NameSection {
		t.Errorf("stale-dwarf.wasm: %+v", d)
	}
	b, err := os.ReadFile("../wasm/testdata/dwarf5.wasm")
	if err != nil {
		t.Fatal(err)
	}
	d = inspectBytes(t, "dwarf5.wasm", b, "").Debug
	if d.DWARFStale || d.DWARFRanges != 2 || d.DWARFMatched != 2 || d.DWARFError != "" {
		t.Errorf("dwarf5.wasm: %+v", d)
	}
}

// TestDWARFPartlyOff: a few compile-unit ranges that start inside a
// function (TinyGo's assembly units after its asyncify pass) make only the
// answers inside them doubtful; most of them off is a stale module. The
// C++ fixture's first range list entries are moved 4 bytes into their
// functions, one, then all.
func TestDWARFPartlyOff(t *testing.T) {
	fx, ok := fixtures.Get("cpp")
	if !ok {
		t.Skip("no cpp fixture")
	}
	b, err := fx.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := wasm.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	base := inspectBytes(t, "plugin.wasm", b, "").Debug
	if base.DWARFRanges < 4 || base.DWARFMatched != base.DWARFRanges {
		t.Fatalf("the fixture's ranges: %+v", base)
	}
	rs, _ := m.CustomSection(".debug_ranges")
	d, err := dwarf.New(m.Custom(".debug_abbrev"), nil, nil, m.Custom(".debug_info"), nil, nil, rs.Data, m.Custom(".debug_str"))
	if err != nil {
		t.Fatal(err)
	}
	// The file offsets of the compile units' range list entries that
	// start at a function body.
	starts := map[uint32]bool{}
	for _, c := range m.Code {
		starts[uint32(c.Start-m.CodeStart)] = true
	}
	var at []int
	for r := d.Reader(); ; r.SkipChildren() {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		off, ok := e.Val(dwarf.AttrRanges).(int64)
		if !ok {
			continue
		}
		for i := int(off); i+8 <= len(rs.Data); i += 8 {
			lo, hi := binary.LittleEndian.Uint32(rs.Data[i:]), binary.LittleEndian.Uint32(rs.Data[i+4:])
			if lo == 0 && hi == 0 {
				break
			}
			if starts[lo] {
				at = append(at, int(rs.DataOffset)+i)
			}
		}
	}
	if 2*len(at) <= base.DWARFRanges {
		t.Fatalf("%d of the fixture's %d ranges are in range lists", len(at), base.DWARFRanges)
	}
	shift := func(n int) []byte {
		p := append([]byte(nil), b...)
		for _, o := range at[:n] {
			binary.LittleEndian.PutUint32(p[o:], binary.LittleEndian.Uint32(p[o:])+4)
		}
		return p
	}
	for _, tt := range []struct {
		n     int
		stale bool
		line  string
	}{
		{1, false, "1 of %d address ranges start where no function body does: answers inside those may be wrong; the others start at function bodies"},
		{len(at), true, "STALE: %d of %d address ranges start where no function body does; the module was rewritten after linking (wasm-opt?) and DWARF answers will be wrong"},
	} {
		r := inspectBytes(t, "patched.wasm", shift(tt.n), "")
		d := r.Debug
		if d.DWARFStale != tt.stale || d.DWARFRanges-d.DWARFMatched < tt.n {
			t.Errorf("%d shifted: %+v", tt.n, d)
		}
		var buf bytes.Buffer
		if err := r.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(tt.line, d.DWARFRanges)
		if tt.stale {
			want = fmt.Sprintf(tt.line, d.DWARFRanges-d.DWARFMatched, d.DWARFRanges)
		}
		if !strings.Contains(buf.String(), want) {
			t.Errorf("%d shifted: text lacks %q:\n%s", tt.n, want, buf.String())
		}
	}
}

// TestExitAtStart: TinyGo 0.35+ commands call proc_exit at the end of
// _start, which Envoy traps while the VM starts; 0.34 ones return.
func TestExitAtStart(t *testing.T) {
	for _, tt := range []struct {
		file     string
		problems []string
		hint     string
	}{
		{"tinygo-cmd.wasm", []string{"Function: _start failed: Uncaught Error: restricted_callback"},
			"the module is a WASI command: TinyGo 0.35.0 calls wasi_snapshot_preview1.proc_exit when main returns, which Envoy does not allow while the VM starts (\"Wasm VM failed Failed to initialize Wasm code\"); build it as a reactor with -buildmode=c-shared, which exports _initialize instead"},
		{"tinygo-cmd-034.wasm", []string{}, ""},
	} {
		r := inspectFile(t, tt.file, "")
		hc := r.HostCheck
		if got := messages(hc.Problems); !reflect.DeepEqual(got, tt.problems) {
			t.Errorf("%s: problems %q, want %q", tt.file, got, tt.problems)
		}
		if len(hc.Problems) > 0 && (hc.Problems[0].Hint != tt.hint || hc.Problems[0].Reason != "restricted_callback") {
			t.Errorf("%s: %+v, want hint %q", tt.file, hc.Problems[0], tt.hint)
		}
		want := len(tt.problems) == 0
		for host, loads := range hc.LoadsIn {
			if loads != want {
				t.Errorf("%s: loads in %s %v, want %v", tt.file, host, loads, want)
			}
		}
	}
}

func TestUnknownHost(t *testing.T) {
	m, _ := wasm.Parse([]byte("\x00asm\x01\x00\x00\x00"))
	_, err := Inspect(m, 8, Options{Host: "nginx"})
	want := `unknown host "nginx": choose one of envoy, envoy-1.33, envoy-1.32`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if CheckHost("envoy-1.32") != nil || CheckHost("") != nil {
		t.Error("known hosts rejected")
	}
}

// Each older host generation must lack at least one function of the ABI
// tables, or its name promises a difference that is not there.
func TestHostGenerations(t *testing.T) {
	for _, h := range hosts[1:] {
		r := inspectFile(t, "go-wasi.wasm", h.name)
		if r.HostCheck.Loads {
			t.Errorf("%s: go-wasi.wasm loads; the host generation lacks nothing", h.name)
		}
	}
}

func TestDWARFVersions(t *testing.T) {
	unit := func(v int, body int) []byte {
		b := make([]byte, 4+2+body)
		b[0] = byte(2 + body)
		b[4] = byte(v)
		return b
	}
	unit64 := func(v int) []byte {
		return []byte{0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, byte(v), 0, 0}
	}
	tests := []struct {
		name     string
		in       []byte
		versions []int
		units    int
	}{
		{"empty", nil, nil, 0},
		{"one v4", unit(4, 7), []int{4}, 1},
		{"v5 and v4", append(append(unit(5, 8), unit(4, 7)...), unit(5, 1)...), []int{4, 5}, 3},
		{"64-bit", unit64(5), []int{5}, 1},
		{"truncated second", append(unit(4, 7), 0x20, 0, 0), []int{4}, 1},
		{"bad version", unit(9, 3), nil, 0},
		{"length past end", append([]byte{0xf0, 0, 0, 0}, 4, 0), []int{4}, 1},
	}
	for _, tt := range tests {
		vs, n := unitVersions(tt.in)
		if !reflect.DeepEqual(vs, tt.versions) || n != tt.units {
			t.Errorf("%s: versions %v units %d, want %v %d", tt.name, vs, n, tt.versions, tt.units)
		}
	}
	if v := lineVersion([]byte{10, 0, 0, 0, 5, 0}); v != 5 {
		t.Errorf("line version %d", v)
	}
	if v := lineVersion([]byte{1, 0}); v != 0 {
		t.Errorf("short line header: version %d", v)
	}
}

// TestFixtures checks inspect against the facts each fixture's build
// guarantees: every real plugin loads in Envoy, with its ABI version,
// name section and DWARF version, and the language it was written in.
func TestFixtures(t *testing.T) {
	all := fixtures.All()
	if len(all) == 0 {
		t.Skip("no fixtures registered yet")
	}
	langs := map[string]string{"c": "C", "cpp": "C++", "rust": "Rust", "go": "Go", "tinygo": "TinyGo", "assemblyscript": "AssemblyScript"}
	for _, f := range all {
		b, err := f.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		r := inspectBytes(t, f.Name, b, "")
		if !r.HostCheck.Loads {
			t.Errorf("%s: would not load: %q", f.Name, messages(r.HostCheck.Problems))
		}
		if r.ABIVersion != f.ABI {
			t.Errorf("%s: ABI %s, fixture says %s", f.Name, r.ABIVersion, f.ABI)
		}
		if r.Debug.NameSection != f.NameSection || (f.NameSection && r.Debug.FunctionsNamed == 0) {
			t.Errorf("%s: name section %v (%d named), fixture says %v", f.Name, r.Debug.NameSection, r.Debug.FunctionsNamed, f.NameSection)
		}
		if r.Debug.DWARFVersion != f.DWARF || r.Debug.DWARF != (f.DWARF != 0) {
			t.Errorf("%s: DWARF %v version %d, fixture says %d", f.Name, r.Debug.DWARF, r.Debug.DWARFVersion, f.DWARF)
		}
		if r.Debug.DWARFStale || r.Debug.DWARFError != "" || f.DWARF != 0 && r.Debug.DWARFRanges == 0 {
			t.Errorf("%s: DWARF stale %v, %d ranges, error %q", f.Name, r.Debug.DWARFStale, r.Debug.DWARFRanges, r.Debug.DWARFError)
		}
		if (f.SourceMap != "") != (r.Debug.SourceMapURL != "") {
			t.Errorf("%s: source map URL %q, fixture source map %q", f.Name, r.Debug.SourceMapURL, f.SourceMap)
		}
		// A stripped module has no producers or names to tell its language.
		if want := langs[f.Language]; r.Language.Name != want && (f.NameSection || r.Language.Name != "unknown") {
			t.Errorf("%s: language %s (%q), fixture says %s", f.Name, r.Language.Name, r.Language.Evidence, want)
		}
		if r.Allocator == "none" || r.Start.Mode == "none" && !f.NameSection {
			t.Errorf("%s: allocator %s start %s", f.Name, r.Allocator, r.Start.Mode)
		}
	}
}

// goldens are the modules whose full text and JSON reports are kept under
// testdata/golden: the hand-made failure cases and a few fixtures.
var goldenFiles = []string{"as-abort.wasm", "mismatch.wasm", "pic.wasm", "go-wasi.wasm"}
var goldenFixtures = []string{"cpp", "cpp-stripped", "rust", "go", "as"}

func TestGolden(t *testing.T) {
	type in struct {
		name    string
		data    []byte
		fixture bool
	}
	var ins []in
	for _, f := range goldenFiles {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in{f, b, false})
	}
	for _, name := range goldenFixtures {
		f, ok := fixtures.Get(name)
		if !ok {
			t.Logf("fixture %s not registered yet; no golden for it", name)
			continue
		}
		b, err := f.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in{"fixture-" + name + ".wasm", b, true})
	}
	for _, x := range ins {
		r := inspectBytes(t, x.name, x.data, "")
		var text, js bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		var decoded map[string]any
		if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
			t.Fatalf("%s: JSON does not decode: %v", x.name, err)
		}
		for _, k := range []string{"abi_version", "exports", "imports", "callbacks", "allocator", "start", "debug",
			"producers", "language", "host_check", "sections"} {
			if _, ok := decoded[k]; !ok {
				t.Errorf("%s: JSON lacks key %q", x.name, k)
			}
		}
		if len(decoded) != 11 {
			t.Errorf("%s: JSON has %d top-level keys, want the 11 of the contract", x.name, len(decoded))
		}
		base := filepath.Join("testdata", "golden", strings.TrimSuffix(x.name, ".wasm"))
		if _, err := os.Stat(base + ".txt"); x.fixture && !*update && os.IsNotExist(err) {
			// A fixture that landed after the goldens were written.
			t.Logf("%s: no golden yet (go test ./internal/inspect -update writes it)", x.name)
			continue
		}
		golden(t, base+".txt", text.Bytes())
		golden(t, base+".json", js.Bytes())
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/inspect -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test ./internal/inspect -update rewrites it):\n--- got\n%s", path, got)
	}
}
