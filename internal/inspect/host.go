package inspect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// host is a generation of proxy-wasm-cpp-host as shipped in Envoy: which of
// the WASI functions added over time it provides.
type host struct {
	name, desc string
	// lacks are the cpp-host changes this host predates, matched against
	// abi.HostFunc.Since ("proxy-wasm-cpp-host #533 (…)").
	lacks []string
}

var hosts = []host{
	{name: "envoy", desc: "Envoy and Istio with the newest proxy-wasm-cpp-host"},
	{name: "envoy-1.33", desc: "Envoy 1.33 up to the releases before proxy-wasm-cpp-host #533 (2026-04)", lacks: []string{"#533"}},
	{name: "envoy-1.32", desc: "Envoy 1.32 and older (Istio 1.24 and older): proxy-wasm-cpp-host before #427", lacks: []string{"#427", "#533"}},
}

// Hosts lists the names --host accepts, with what each stands for.
func Hosts() [][2]string {
	out := make([][2]string, len(hosts))
	for i, h := range hosts {
		out[i] = [2]string{h.name, h.desc}
	}
	return out
}

// CheckHost reports whether name is a host Inspect knows.
func CheckHost(name string) error {
	_, err := lookupHost(name)
	return err
}

func lookupHost(name string) (host, error) {
	if name == "" {
		name = "envoy"
	}
	var names []string
	for _, h := range hosts {
		if h.name == name {
			return h, nil
		}
		names = append(names, h.name)
	}
	return host{}, fmt.Errorf("unknown host %q: choose one of %s", name, strings.Join(names, ", "))
}

// provides reports whether this host generation has f.
func (h host) provides(f *abi.HostFunc) bool {
	for _, l := range h.lacks {
		if strings.Contains(f.Since, l+" ") {
			return false
		}
	}
	return true
}

// envoyFuncs are the env functions Envoy registers on top of cpp-host's
// (source/extensions/common/wasm/wasm.cc Wasm::registerCallbacks).
var envoyFuncs = map[string]*abi.HostFunc{
	"envoy_resolve_dns": {Func: abi.Func{Module: "env", Name: "envoy_resolve_dns",
		Params: []abi.Param{{Name: "dns_address", Type: abi.I32, Kind: abi.KindString},
			{Name: "dns_address_size", Type: abi.I32, Kind: abi.KindSize},
			{Name: "return_token", Type: abi.I32, Kind: abi.KindOutPtr}},
		Result: abi.ResultStatus}},
}

func lookupHostFunc(module, name string) *abi.HostFunc {
	if f := abi.LookupHost(module, name); f != nil {
		return f
	}
	if module == "env" {
		return envoyFuncs[name]
	}
	return nil
}

var versions = []abi.Version{abi.Version010, abi.Version020, abi.Version021}

// imports checks every import as V8::link does: a function must be
// registered under module.name with the same signature; a global cannot be
// imported at all; memories and tables are created by the host.
func (r *Report) imports(m *wasm.Module, h host, v abi.Version) {
	checkV := v
	if checkV == abi.VersionUnknown {
		checkV = abi.Version021 // the host stops before linking; show the newest ABI's view
	}
	for _, im := range m.Imports {
		full := im.Module + "." + im.Name
		x := Import{Name: im.Name, Kind: im.Kind.String(), Status: "ok"}
		missing := func(hint string) {
			x.Status = "missing"
			r.addProblem(Problem{Reason: "missing_import", Name: full,
				Message: "Failed to load Wasm module due to a missing import: " + full, Hint: hint})
		}
		switch im.Kind {
		case wasm.KindFunc:
			ft := m.Types[im.TypeIndex]
			x.Signature = ft.String()
			f := lookupHostFunc(im.Module, im.Name)
			switch {
			case f == nil:
				missing(unknownImportHint(m, im))
			case !f.Provided(checkV):
				missing(abiImportHint(full, f, v))
			case !h.provides(f):
				x.Since = f.Since
				missing(fmt.Sprintf("%s is provided only since %s; the host %s predates it. Upgrade the proxy, or check against a newer one with --host envoy.%s",
					full, f.Since, h.name, goWASIHint(m)))
			default:
				x.Since = f.Since
				if want := signature(&f.Func); !want.Equal(ft) {
					x.Status = "mismatched"
					r.addProblem(Problem{Reason: "import_type_mismatch", Name: full,
						Message: fmt.Sprintf("Failed to load Wasm module due to an import type mismatch: %s, want: %s, but host exports: %s", full, ft, want),
						Hint:    mismatchHint(full, f)})
				}
			}
		case wasm.KindGlobal:
			x.Type = globalType(im.Global)
			missing(fmt.Sprintf("proxy-wasm-cpp-host cannot import globals (imported globals fail as missing imports): %s comes from linking the module as a shared library or position-independent code (-fPIC, Emscripten SIDE_MODULE); link it as a standalone reactor instead (clang -mexec-model=reactor, rustc --crate-type cdylib --target wasm32-wasi)", full))
		case wasm.KindTag:
			x.Type = "tag"
			missing("the host provides no exception-handling tags: build without wasm exceptions (-fwasm-exceptions) or with exceptions disabled")
		case wasm.KindMemory:
			x.Type = limitsString("memory", im.Memory, "pages")
		case wasm.KindTable:
			x.Type = limitsString("table "+im.Table.Elem.String(), im.Table.Limits, "elements")
		}
		r.Imports[im.Module] = append(r.Imports[im.Module], x)
	}
}

func globalType(g wasm.GlobalType) string {
	if g.Mutable {
		return "global mut " + g.Type.String()
	}
	return "global " + g.Type.String()
}

func limitsString(what string, l wasm.Limits, unit string) string {
	s := fmt.Sprintf("%s %d", what, l.Min)
	if l.HasMax {
		s += fmt.Sprintf("..%d", l.Max)
	}
	s += " " + unit
	if l.Shared {
		s += ", shared"
	}
	if l.Is64 {
		s += ", 64-bit"
	}
	return s
}

// describeFunc renders a host function with its parameter names:
// "proxy_log(level i32, message i32, message_size i32) -> i32".
func describeFunc(f *abi.Func) string {
	ps := make([]string, len(f.Params))
	for i, p := range f.Params {
		ps[i] = p.Name + " " + p.Type.String()
	}
	res := "void"
	if rt := f.ResultType(); len(rt) > 0 {
		res = rt[0].String()
	}
	return fmt.Sprintf("%s(%s) -> %s", f.Name, strings.Join(ps, ", "), res)
}

// abiList says which ABI versions register f: "0.2.0, 0.2.1".
func abiList(f *abi.HostFunc) string {
	var vs []string
	for _, v := range versions {
		if f.Provided(v) {
			vs = append(vs, v.String())
		}
	}
	return strings.Join(vs, ", ")
}

func mismatchHint(full string, f *abi.HostFunc) string {
	h := fmt.Sprintf("the module declares %s with other types than the host's %s: fix the declaration", full, describeFunc(&f.Func))
	if f.ABIs != nil {
		h += fmt.Sprintf(", or use an SDK for ABI %s", abiList(f))
	}
	return h
}

func abiImportHint(full string, f *abi.HostFunc, v abi.Version) string {
	return fmt.Sprintf("%s exists only in ABI %s, and this module declares ABI %s (export %s): build it with an SDK for the ABI whose functions it calls",
		full, abiList(f), v, v.ExportName())
}

// goWASIHint adds advice for Go modules, whose runtime imports WASI
// functions no build flag removes.
func goWASIHint(m *wasm.Module) string {
	if l := guessLanguage(m); l.Name == "Go" || l.Name == "TinyGo" {
		return " " + l.Name + "'s runtime and standard library import WASI functions like this one themselves, so upgrading the proxy is the practical fix."
	}
	return ""
}

var emscriptenPrefixes = []string{"emscripten_", "_emscripten_", "__syscall", "invoke_", "_emval_", "__cxa_", "_embind_", "__assert_fail", "_abort_js", "_tzset_js", "_mmap_js", "_munmap_js"}

func unknownImportHint(m *wasm.Module, im wasm.Import) string {
	full := im.Module + "." + im.Name
	switch im.Module {
	case abi.WASIPreview1, abi.WASIUnstable:
		return fmt.Sprintf("no Proxy-Wasm host implements WASI %s: the code calling it (files, sockets, threads) cannot run inside a proxy; remove that dependency", im.Name)
	case "env":
	default:
		if strings.HasPrefix(im.Module, "wasi:") || strings.HasPrefix(im.Module, "wasi_snapshot_preview2") {
			return fmt.Sprintf("%s is a WASI 0.2 (component model) import; Proxy-Wasm hosts provide only env, wasi_snapshot_preview1 and wasi_unstable: build for wasm32-wasip1 (wasm32-wasi)", full)
		}
		return fmt.Sprintf("the host provides imports only from the modules env, wasi_snapshot_preview1 and wasi_unstable, not %q", im.Module)
	}
	switch {
	case im.Name == "abort" && guessLanguage(m).Name == "AssemblyScript":
		return "AssemblyScript imports env.abort unless told otherwise: build with --use abort=abort_proc_exit (@solo-io/proxy-runtime's abort, which logs the message at critical and calls proc_exit)"
	case strings.HasPrefix(im.Name, "_proxy_"):
		return fmt.Sprintf("%s is a host function of the 2019 pre-release Envoy Wasm ABI, which no released Envoy or Istio provides: rebuild the plugin with a current Proxy-Wasm SDK (ABI 0.2.1)", full)
	case strings.HasPrefix(im.Name, "proxy_"):
		return fmt.Sprintf("%s is not a Proxy-Wasm host function of proxy-wasm-cpp-host (ABI 0.1.0 to 0.2.1): the SDK targets a newer ABI or another host's extensions; use an SDK release for ABI 0.2.1", full)
	}
	for _, p := range emscriptenPrefixes {
		if strings.HasPrefix(im.Name, p) {
			return fmt.Sprintf("%s belongs to Emscripten's JavaScript runtime, which a proxy does not have: build with -sSTANDALONE_WASM (or with wasi-sdk / clang --target=wasm32-wasi)", full)
		}
	}
	return fmt.Sprintf("Envoy provides no %s: a library in the module expects its embedder to supply it (a JavaScript glue or a wasm32-unknown-unknown binding); provide it inside the module or drop the dependency", full)
}

// callbacks checks the exports the host looks up, in the order of
// cpp-host's WasmBase::getFunctions and Envoy's Wasm::getFunctions, with
// the signature each must have (V8::getModuleFunctionImpl).
func (r *Report) callbacks(m *wasm.Module, v abi.Version) {
	_, hasInit := funcExport(m, "_initialize")
	checked := map[string]bool{}
	var names []string
	for _, n := range []string{"_initialize", "main", "__main_void", "_start", "malloc", "proxy_on_memory_allocate"} {
		names = append(names, n)
		checked[n] = true
	}
	for _, e := range m.Exports {
		if e.Kind == wasm.KindFunc && !checked[e.Name] && abi.IsCallback(e.Name) {
			names = append(names, e.Name)
		}
	}
	mallocOK := false
	for _, name := range names {
		ft, ok := funcExport(m, name)
		if !ok {
			continue
		}
		cb := Callback{Name: name, Signature: ft.String(), OK: true}
		c := abi.LookupCallback(name, v)
		switch {
		case c == nil:
			cb.Note = fmt.Sprintf("not called under ABI %s", v)
		case (name == "main" || name == "__main_void") && !hasInit:
			cb.Note = "not called: the host calls " + name + " only after _initialize, which the module does not export"
		case name == "_start" && hasInit:
			cb.Note = "not called: the module exports _initialize, so the host does not call _start"
		case name == "proxy_on_memory_allocate" && mallocOK:
			cb.Note = "not called: the host uses malloc"
		}
		if cb.Note == "" {
			if want := signature(&c.Func); !want.Equal(ft) {
				cb.OK, cb.Want = false, want.String()
				cb.Message = fmt.Sprintf("Bad function signature for: %s, want: %s, but the module exports: %s", name, want, ft)
				r.addProblem(Problem{Reason: "bad_export_signature", Name: name, Message: cb.Message,
					Hint: exportHint(c, v)})
			} else if name == "malloc" || name == "proxy_on_memory_allocate" {
				mallocOK = true
				if r.Allocator == "" {
					r.Allocator = name
				}
			}
		}
		r.Callbacks = append(r.Callbacks, cb)
	}
	// Exports that look like callbacks but that no host looks up are
	// silently ignored by the proxy; say so, with the likely intended name.
	for _, e := range m.Exports {
		if e.Kind != wasm.KindFunc || !strings.HasPrefix(e.Name, "proxy_on_") || abi.IsCallback(e.Name) {
			continue
		}
		ft, _ := m.FuncType(e.Index)
		note := "not called: no host looks up this name"
		if s := closestCallback(e.Name); s != "" {
			note += "; the callback is named " + s
		}
		r.Callbacks = append(r.Callbacks, Callback{Name: e.Name, Signature: ft.String(), OK: true, Note: note})
	}
	if r.Allocator == "" {
		r.Allocator = "none"
		r.addProblem(Problem{Reason: "missing_malloc", Message: "Wasm module is missing malloc function.",
			Hint: "export an allocator the host can call to pass data in, with signature i32 -> i32: malloc (C/C++ with wasi-libc: -Wl,--export=malloc), or proxy_on_memory_allocate (Rust: #[no_mangle] pub extern \"C\" fn proxy_on_memory_allocate(size: usize) -> *mut u8; Go: //go:wasmexport proxy_on_memory_allocate)"})
	}
	sort.SliceStable(r.Callbacks, func(i, j int) bool { return exportIndex(m, r.Callbacks[i].Name) < exportIndex(m, r.Callbacks[j].Name) })
}

func exportIndex(m *wasm.Module, name string) int {
	for i, e := range m.Exports {
		if e.Name == name {
			return i
		}
	}
	return len(m.Exports)
}

func exportHint(c *abi.Callback, v abi.Version) string {
	h := fmt.Sprintf("the host calls %s", describeFunc(&c.Func))
	if v != abi.VersionUnknown {
		h += " under ABI " + v.String()
	}
	if c.ABIs != nil {
		h += "; the signature differs between ABI versions, so check that the SDK matches the proxy_abi_version_* export"
	} else {
		h += "; fix the export's declaration"
	}
	return h
}

// closestCallback returns the callback name nearest to name by edit
// distance, if it is near enough to be a misspelling or an old name.
func closestCallback(name string) string {
	best, bestD := "", len(name)/3+1
	for _, c := range abi.Callbacks() {
		if d := editDistance(name, c.Name); d < bestD {
			best, bestD = c.Name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
