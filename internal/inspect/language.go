package inspect

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// rustHash is the hash suffix of a legacy-mangled Rust symbol.
var rustHash = regexp.MustCompile(`17h[0-9a-f]{16}E`)

// signals are what guessLanguage reads from a module.
type signals struct {
	languages, processedBy, sdks []wasm.ProducerValue
	goBuildID                    bool
	asExports, emExports         []string
	emImports                    int
	emMetadata                   bool // custom section emscripten_metadata (Emscripten 1.38–2.0)
	asData                       bool // UTF-16 "~lib/" in the data section: AssemblyScript's strings
	asDataSDK                    string
	cxxRuntime                   int  // __cxa_* exports and imports: libc++abi
	cppSDKExports                bool // the callbacks only proxy-wasm-cpp-sdk's intrinsics export
	rustNames, cppNames, asNames int
	goNames, tinygoNames         int
	zigNames                     int    // Zig's "__anon_N" instances, "name|module" imports, std namespaces
	zigProducer                  string // "zig 0.14.0", DW_AT_producer in .debug_str
	sdkName                      string
	framework                    string // a plugin framework over the SDK (Higress's wasm-go)
	asyncify                     bool
}

func collect(m *wasm.Module) signals {
	var s signals
	for _, f := range m.Producers {
		switch f.Name {
		case "language":
			s.languages = append(s.languages, f.Values...)
		case "processed-by":
			s.processedBy = append(s.processedBy, f.Values...)
		case "sdk":
			s.sdks = append(s.sdks, f.Values...)
		}
	}
	for _, sec := range m.Sections {
		if sec.ID == wasm.SectionCustom && (sec.Name == "go:buildid" || sec.Name == "go.buildid") {
			s.goBuildID = true
		}
		if sec.ID == wasm.SectionCustom && sec.Name == "emscripten_metadata" {
			s.emMetadata = true
		}
	}
	if d, ok := m.Section(wasm.SectionData); ok {
		// AssemblyScript stores strings as UTF-16, its library's source
		// paths (in abort messages) among them: a module built without
		// a name section still says what it is.
		s.asData = bytes.Contains(d.Payload, utf16("~lib/"))
		for _, sdk := range []string{"@solo-io/proxy-runtime", "@gcoredev/proxy-wasm-sdk-as"} {
			if s.asData && bytes.Contains(d.Payload, utf16("~lib/"+sdk)) {
				s.asDataSDK = sdk
			}
		}
	}
	for _, e := range m.Exports {
		switch {
		case e.Name == "__alloc" || e.Name == "__new" || e.Name == "__retain" || e.Name == "__release" ||
			e.Name == "__pin" || e.Name == "__unpin" || e.Name == "__collect" || e.Name == "__rtti_base":
			s.asExports = append(s.asExports, e.Name)
		case strings.HasPrefix(e.Name, "emscripten_") || strings.HasPrefix(e.Name, "_emscripten_") ||
			e.Name == "stackSave" || e.Name == "stackRestore" || e.Name == "stackAlloc":
			s.emExports = append(s.emExports, e.Name)
		case strings.HasPrefix(e.Name, "asyncify_"):
			s.asyncify = true
		case strings.HasPrefix(e.Name, "__cxa_"):
			s.cxxRuntime++
		}
	}
	// proxy-wasm-cpp-sdk's proxy_wasm_intrinsics.cc defines every
	// callback, these two included, which the Rust and Go SDKs do not
	// export (AssemblyScript's runtimes do, and are recognised first).
	_, validate := funcExport(m, "proxy_validate_configuration")
	_, metadata := funcExport(m, "proxy_on_request_metadata")
	s.cppSDKExports = validate && metadata
	for _, im := range m.Imports {
		if strings.HasPrefix(im.Name, "__cxa_") {
			s.cxxRuntime++
		}
		if im.Module == "env" {
			for _, p := range emscriptenPrefixes {
				if strings.HasPrefix(im.Name, p) {
					s.emImports++
					break
				}
			}
		}
	}
	if str := m.Custom(".debug_str"); str != nil {
		s.zigProducer = zigProducer(str)
	}
	for _, n := range m.Names.Funcs {
		switch {
		case isZigName(n):
			s.zigNames++
		case strings.HasPrefix(n, "_ZN") && rustHash.MatchString(n), strings.HasPrefix(n, "_R"), strings.HasPrefix(n, "__rust_"):
			s.rustNames++
		case strings.HasPrefix(n, "_Z"), strings.HasPrefix(n, "__Z"), strings.Contains(n, "::") && strings.Contains(n, "("):
			// Emscripten writes Itanium names with an extra underscore (__ZN…).
			s.cppNames++
		case strings.HasPrefix(n, "~lib/"):
			s.asNames++
		case strings.HasPrefix(n, "tinygo_") || strings.HasPrefix(n, "runtime.runMain") || n == "runtime.alloc":
			s.tinygoNames++
		case strings.HasPrefix(n, "runtime.") || strings.HasPrefix(n, "main."):
			s.goNames++
		}
		if s.sdkName == "" {
			s.sdkName = sdkFromName(n)
		}
		if s.framework == "" {
			s.framework = frameworkFromName(n)
		}
	}
	return s
}

// sdkFromName recognises the Proxy-Wasm SDKs by the paths and namespaces in
// their function names (Go rewrites '/' and '-' to '_' in the name section).
func sdkFromName(n string) string {
	switch {
	case strings.Contains(n, "10proxy_wasm") || strings.Contains(n, "proxy_wasm::"):
		return "proxy-wasm-rust-sdk"
	case strings.Contains(n, "~lib/@solo-io/proxy-runtime"):
		return "@solo-io/proxy-runtime"
	case strings.Contains(n, "~lib/@gcoredev/proxy-wasm-sdk-as"):
		return "@gcoredev/proxy-wasm-sdk-as"
	case strings.Contains(n, "proxy-wasm-go-sdk") || strings.Contains(n, "proxy_wasm_go_sdk"):
		for _, org := range []string{"tetratelabs", "higress-group", "higress_group", "proxy-wasm", "proxy_wasm"} {
			if strings.Contains(n, "github.com/"+org+"/proxy-wasm-go-sdk") || strings.Contains(n, "github.com_"+org+"_proxy_wasm_go_sdk") {
				return "proxy-wasm-go-sdk (github.com/" + strings.ReplaceAll(org, "_", "-") + ")"
			}
		}
		return "proxy-wasm-go-sdk"
	case strings.HasPrefix(n, "hostcalls.") || strings.HasPrefix(n, "contexts.RootContext.") || strings.HasPrefix(n, "contexts.HttpContext."):
		// proxy-wasm-zig-sdk's namespaces, as Zig names functions.
		return "proxy-wasm-zig-sdk"
	case strings.HasPrefix(n, "RootContext::") || strings.HasPrefix(n, "ContextBase::") ||
		strings.HasPrefix(n, "_ZN11RootContext") || strings.HasPrefix(n, "_ZN11ContextBase"):
		// proxy-wasm-cpp-sdk's classes live in the global namespace.
		return "proxy-wasm-cpp-sdk"
	}
	return ""
}

// zigAnon is the suffix of Zig's generic and comptime instances.
var zigAnon = regexp.MustCompile(`__anon_[0-9]+$`)

// isZigName recognises what Zig's linker writes in the name section:
// instances ("fmt.allocPrint__anon_1812"), imports named "name|module",
// and functions of Zig's standard library namespaces.
func isZigName(n string) bool {
	if zigAnon.MatchString(n) || strings.HasSuffix(n, "|env") || strings.HasSuffix(n, "|wasi_snapshot_preview1") {
		return true
	}
	for _, p := range []string{"heap.WasmAllocator.", "mem.Allocator.", "debug.FormattedPanic.", "debug.panicExtra", "debug.defaultPanic", "posix.abort"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// zigProducer finds Zig's DW_AT_producer ("zig 0.14.0") among the strings
// of .debug_str.
func zigProducer(str []byte) string {
	for len(str) > 0 {
		i := bytes.IndexByte(str, 0)
		if i < 0 {
			i = len(str)
		}
		if s := str[:i]; len(s) > 4 && len(s) < 64 && bytes.HasPrefix(s, []byte("zig ")) && s[4] >= '0' && s[4] <= '9' {
			return string(s)
		}
		str = str[min(i+1, len(str)):]
	}
	return ""
}

// frameworkFromName recognises plugin frameworks built over an SDK by
// their package paths: Higress's wasm-go wrapper (github.com/alibaba/higress
// before 2025, github.com/higress-group/wasm-go since), as TinyGo keeps
// them and as Go rewrites them.
func frameworkFromName(n string) string {
	for _, p := range []string{"github.com/alibaba/higress/plugins/wasm-go/", "github.com_alibaba_higress_plugins_wasm_go_",
		"github.com/higress-group/wasm-go/", "github.com_higress_group_wasm_go_"} {
		if strings.Contains(n, p) {
			return "Higress wasm-go"
		}
	}
	return ""
}

func hasValue(vs []wasm.ProducerValue, pred func(name string) bool) (wasm.ProducerValue, bool) {
	for _, v := range vs {
		if pred(v.Name) {
			return v, true
		}
	}
	return wasm.ProducerValue{}, false
}

func tool(v wasm.ProducerValue) string {
	if v.Version == "" {
		return v.Name
	}
	return v.Name + " " + v.Version
}

// guessLanguage names the source language, toolchain and SDK from the
// producers section, the exports and imports runtimes add, and the shapes
// of names in the name section. Each conclusion lists its evidence.
func guessLanguage(m *wasm.Module) Language {
	s := collect(m)
	var l Language
	ev := func(format string, args ...any) { l.Evidence = append(l.Evidence, fmt.Sprintf(format, args...)) }
	for _, v := range s.languages {
		ev("producers language: %s", tool(v))
	}
	for _, v := range s.processedBy {
		ev("producers processed-by: %s", tool(v))
	}
	for _, v := range s.sdks {
		ev("producers sdk: %s", tool(v))
	}
	is := func(want string) func(string) bool { return func(n string) bool { return n == want } }
	prefix := func(p string) func(string) bool { return func(n string) bool { return strings.HasPrefix(n, p) } }
	switch tg, ok := hasValue(s.processedBy, is("TinyGo")); {
	case s.zigProducer != "" || s.zigNames > 0 && s.rustNames == 0 && s.cppNames == 0:
		// Zig writes "language: C99" in producers and DW_LANG_C99 in
		// DWARF: its names and DW_AT_producer tell it apart from C.
		l.Name = "Zig"
		if s.zigProducer != "" {
			l.Toolchain = s.zigProducer
			ev("DWARF producer: %s", s.zigProducer)
		}
		if s.zigNames > 0 {
			ev("name section: %d Zig names (std namespaces, __anon_ instances, name|module imports)", s.zigNames)
		}
	case ok || s.tinygoNames > 0:
		l.Name = "TinyGo"
		if ok {
			l.Toolchain = tool(tg)
		}
		if s.tinygoNames > 0 {
			ev("name section: %d TinyGo runtime functions", s.tinygoNames)
		}
	case s.goBuildID || hasLang(s.languages, "Go") || s.goNames > 0 && s.rustNames == 0 && s.cppNames == 0:
		l.Name = "Go"
		if s.goBuildID {
			ev("custom section go:buildid (the Go linker's)")
		}
		if s.goNames > 0 {
			ev("name section: %d Go runtime/main functions", s.goNames)
		}
		// Go writes language "Go go1.26.8" and processed-by
		// "Go cmd/compile go1.26.8"; the version says it all.
		if v, ok := hasValue(s.languages, is("Go")); ok && v.Version != "" {
			l.Toolchain = v.Version
		} else if v, ok := hasValue(s.processedBy, prefix("Go")); ok {
			l.Toolchain = tool(v)
		}
	case len(s.asExports) > 0 || s.asNames > 0 || s.asData:
		l.Name = "AssemblyScript"
		if len(s.asExports) > 0 {
			ev("AssemblyScript runtime exports: %s", strings.Join(s.asExports, ", "))
		}
		if s.asNames > 0 {
			ev("name section: %d ~lib/ functions", s.asNames)
		}
		if s.asData {
			ev("data section: UTF-16 ~lib/ paths (AssemblyScript's strings)")
		}
	case hasLang(s.languages, "Rust") || s.rustNames > 0:
		l.Name = "Rust"
		if s.rustNames > 0 {
			ev("name section: %d Rust-mangled names", s.rustNames)
		}
		if v, ok := hasValue(s.processedBy, is("rustc")); ok {
			l.Toolchain = tool(v)
		}
	case hasLangPrefix(s.languages, "C_plus_plus") || s.cppNames > 0:
		l.Name = "C++"
		if s.cppNames > 0 {
			ev("name section: %d C++ names", s.cppNames)
		}
	case hasLangPrefix(s.languages, "C"):
		l.Name = "C"
	case s.emscripten():
		// A stripped Emscripten build (no names, no producers): Emscripten
		// compiles C and C++; the C++ runtime or proxy-wasm-cpp-sdk's
		// callbacks say which.
		l.Name = "C"
		if s.cxxRuntime > 0 || s.cppSDKExports {
			l.Name = "C++"
		}
		if s.cxxRuntime > 0 {
			ev("C++ runtime: %d __cxa_* exports and imports", s.cxxRuntime)
		}
	default:
		l.Name = "unknown"
	}
	if l.Name == "C" || l.Name == "C++" {
		switch {
		case s.emscripten():
			l.Toolchain = "Emscripten"
			if v, ok := hasValue(s.sdks, prefix("Emscripten")); ok {
				l.Toolchain = tool(v)
			}
			if s.emImports > 0 {
				ev("Emscripten runtime: %d env imports", s.emImports)
			}
			if len(s.emExports) > 0 {
				ev("Emscripten runtime exports: %s", strings.Join(s.emExports, ", "))
			}
			if s.emMetadata {
				ev("custom section emscripten_metadata (Emscripten's)")
			}
		default:
			if v, ok := hasValue(s.processedBy, func(n string) bool { return strings.Contains(n, "clang") }); ok {
				l.Toolchain = tool(v)
			}
		}
	}
	if s.asyncify {
		ev("asyncify_* exports: processed by Binaryen's asyncify pass")
	}
	l.SDK = s.sdkName
	if l.SDK == "" && len(s.sdks) > 0 {
		l.SDK = tool(s.sdks[0])
	}
	if l.SDK != "" && s.sdkName != "" {
		ev("name section: functions of %s", s.sdkName)
	}
	if s.framework != "" {
		ev("name section: functions of %s", s.framework)
		if l.SDK != "" {
			l.SDK = s.framework + " on " + l.SDK
		} else {
			l.SDK = s.framework
		}
	}
	if l.SDK == "" && s.asDataSDK != "" && l.Name == "AssemblyScript" {
		l.SDK = s.asDataSDK
		ev("data section: UTF-16 ~lib/%s paths", s.asDataSDK)
	}
	if l.SDK == "" && s.cppSDKExports && (l.Name == "C" || l.Name == "C++") {
		l.SDK = "proxy-wasm-cpp-sdk"
		ev("exports proxy_validate_configuration and proxy_on_request_metadata, which proxy-wasm-cpp-sdk defines")
	}
	if len(l.Evidence) == 0 {
		l.Evidence = []string{}
	}
	return l
}

// emscripten reports an Emscripten build: its runtime's imports and exports,
// or its metadata section.
func (s signals) emscripten() bool {
	return s.emImports > 0 || len(s.emExports) > 0 || s.emMetadata
}

// utf16 is s in UTF-16LE, as AssemblyScript stores ASCII strings.
func utf16(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	return b
}

func hasLang(vs []wasm.ProducerValue, name string) bool {
	_, ok := hasValue(vs, func(n string) bool { return n == name })
	return ok
}

// hasLangPrefix matches DWARF language names as producers writes them:
// "C_plus_plus_14", "C11", "C99".
func hasLangPrefix(vs []wasm.ProducerValue, prefix string) bool {
	_, ok := hasValue(vs, func(n string) bool {
		if !strings.HasPrefix(n, prefix) {
			return false
		}
		rest := n[len(prefix):]
		return prefix != "C" || rest == "" || rest[0] >= '0' && rest[0] <= '9'
	})
	return ok
}
