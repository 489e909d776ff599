// Package inspect says what a Proxy-Wasm module is and whether a host will
// load it: its ABI version, the callbacks it exports and whether their
// signatures are the ones the host calls, its allocator and start mode, the
// imports it needs checked against what the host provides, its debug
// information, producers and a language/SDK guess. It is the logic behind
// `wasmdbg inspect`; the command only wires flags to Inspect and a writer.
//
// What "the host" does is proxy-wasm-cpp-host's load sequence, which Envoy
// and Istio run (shared/reference/envoy-formats.md §3.4, §3.5, §9;
// cpp-host src/wasm.cc WasmBase::load, registerCallbacks, getFunctions, and
// src/v8/v8.cc V8::link, getModuleFunctionImpl): the messages reported are
// the ones cpp-host prints, byte for byte.
package inspect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// Report is what Inspect finds. Its JSON form is `wasmdbg inspect --json`;
// the top-level keys are a contract tools rely on.
type Report struct {
	ABIVersion string              `json:"abi_version"` // "0.2.1", or "none"
	Exports    []Export            `json:"exports"`
	Imports    map[string][]Import `json:"imports"` // by import module name
	Callbacks  []Callback          `json:"callbacks"`
	Allocator  string              `json:"allocator"` // "malloc", "proxy_on_memory_allocate" or "none"
	Start      Start               `json:"start"`
	Debug      Debug               `json:"debug"`
	Producers  map[string][]Tool   `json:"producers"` // "language", "processed-by", "sdk"
	Language   Language            `json:"language"`
	HostCheck  HostCheck           `json:"host_check"`
	Sections   []Section           `json:"sections"`

	// For the text form only.
	file     string
	size     int
	warnings []string
	module   *wasm.Module
}

// Export is one export of the module.
type Export struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"` // func, table, memory, global, tag
	Index     uint32 `json:"index"`
	Signature string `json:"signature,omitempty"` // functions: "i32 i32 -> i32"
}

// Import is one import and what the host says about it.
type Import struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Signature string `json:"signature,omitempty"` // functions
	Type      string `json:"type,omitempty"`      // globals, memories, tables, tags
	// Status is "ok", "missing" or "mismatched".
	Status string `json:"status"`
	// Since says when the host gained the function, when not every
	// version of it has (e.g. WASI functions Envoy added for Go).
	Since string `json:"since,omitempty"`
}

// Callback is an exported function the host calls.
type Callback struct {
	Name      string `json:"name"`
	Signature string `json:"signature"`
	// OK is false when the signature differs from what the host calls
	// (Want), which makes the module fail to load (Message).
	OK      bool   `json:"ok"`
	Want    string `json:"want,omitempty"`
	Message string `json:"message,omitempty"`
	// Note says why the host does not call an export that looks like a
	// callback (another ABI version, main without _initialize…).
	Note string `json:"note,omitempty"`
}

// Start says how the module starts.
type Start struct {
	// Mode is "reactor" (_initialize), "command" (_start), "start section"
	// (only a wasm start function) or "none".
	Mode string `json:"mode"`
	// Calls are the exports the host calls after instantiation, in order:
	// "_initialize", then "main" or "__main_void"; or "_start".
	Calls []string `json:"calls"`
	// StartSection reports a wasm start function, which runs during
	// instantiation, before any host call; StartFunction is its name.
	StartSection  bool   `json:"start_section"`
	StartFunction string `json:"start_function,omitempty"`
}

// Debug is the debug information the module carries.
type Debug struct {
	NameSection    bool     `json:"name_section"`
	FunctionsNamed int      `json:"functions_named"`
	Functions      uint32   `json:"functions"` // size of the function index space
	ModuleName     string   `json:"module_name,omitempty"`
	DWARF          bool     `json:"dwarf"`
	DWARFVersion   int      `json:"dwarf_version"` // highest unit version; 0 without DWARF
	DWARFVersions  []int    `json:"dwarf_versions,omitempty"`
	DWARFUnits     int      `json:"dwarf_units,omitempty"`
	DWARFSections  []string `json:"dwarf_sections,omitempty"`
	// DWARFRanges counts the compile units' address ranges and
	// DWARFMatched those starting exactly at a function body. DWARFStale
	// is set when most of them disagree, or when every address is 0: the
	// module was rewritten after linking and its DWARF answers would be
	// wrong. A few that disagree (TinyGo's assembly units, which its
	// asyncify pass moves) make only the answers inside them doubtful.
	DWARFRanges   int    `json:"dwarf_ranges,omitempty"`
	DWARFMatched  int    `json:"dwarf_ranges_matched,omitempty"`
	DWARFStale    bool   `json:"dwarf_stale,omitempty"`
	DWARFError    string `json:"dwarf_error,omitempty"`
	SourceMapURL  string `json:"source_map_url"`
	ExternalDebug string `json:"external_debug_info,omitempty"`
}

// Tool is one value of a producers field.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Language is the guess of the source language, toolchain and SDK.
type Language struct {
	Name      string   `json:"name"` // "Go", "TinyGo", "Rust", "C", "C++", "AssemblyScript", "Zig", "unknown"
	Toolchain string   `json:"toolchain,omitempty"`
	SDK       string   `json:"sdk,omitempty"`
	Evidence  []string `json:"evidence"`
}

// HostCheck is the verdict: would the host load the module, and if not why.
type HostCheck struct {
	Host  string `json:"host"`
	Loads bool   `json:"loads"`
	// LoadsIn gives the verdict for every host generation Hosts lists.
	LoadsIn    map[string]bool `json:"loads_in"`
	Missing    []Problem       `json:"missing"`
	Mismatched []Problem       `json:"mismatched"`
	// Problems lists every load failure in the order the host meets them;
	// the host prints the first and stops (the ABI version, then the
	// imports in order), except for export signatures and the allocator,
	// which it reports together.
	Problems []Problem `json:"problems"`
}

// Problem is one reason the host would not load the module.
type Problem struct {
	// Reason is one of the vm_failure reasons of DESIGN §3.2:
	// missing_import, import_type_mismatch, bad_export_signature,
	// unknown_abi_version, missing_malloc.
	Reason  string `json:"reason"`
	Name    string `json:"name,omitempty"` // "env.proxy_log", or the export
	Message string `json:"message"`        // as the host prints it
	Hint    string `json:"hint"`
}

// Section is one section's place and size; Offset and Size are those of the
// payload, as wasm-objdump -h prints them (start=, size=).
type Section struct {
	Name   string `json:"name"`
	ID     uint8  `json:"id"`
	Offset uint64 `json:"offset"`
	Size   uint32 `json:"size"`
}

// Options choose the host to check against.
type Options struct {
	Host string // a name from Hosts(); "" is "envoy"
	File string // shown in the text report
}

// Inspect reports on a parsed module; size is the file's length in bytes.
func Inspect(m *wasm.Module, size int, opt Options) (*Report, error) {
	h, err := lookupHost(opt.Host)
	if err != nil {
		return nil, err
	}
	r := &Report{file: opt.File, size: size, module: m,
		Imports: map[string][]Import{}, Producers: map[string][]Tool{}}
	v := abiVersion(m)
	r.ABIVersion = "none"
	if v != abi.VersionUnknown {
		r.ABIVersion = v.String()
	}
	r.exports(m)
	r.HostCheck.Host = h.name
	if v == abi.VersionUnknown {
		r.addProblem(Problem{Reason: "unknown_abi_version", Message: "Missing or unknown Proxy-Wasm ABI version",
			Hint: ABIHint(m)})
	}
	r.Language = guessLanguage(m)
	r.imports(m, h, v)
	r.callbacks(m, v)
	r.start(m)
	r.exitAtStart(m, v)
	r.debug(m)
	for _, f := range m.Producers {
		for _, t := range f.Values {
			r.Producers[f.Name] = append(r.Producers[f.Name], Tool{Name: t.Name, Version: t.Version})
		}
	}
	for _, s := range m.Sections {
		r.Sections = append(r.Sections, Section{Name: s.Name, ID: uint8(s.ID), Offset: uint64(s.PayloadOffset), Size: s.Size})
	}
	for _, w := range m.Warnings {
		r.warnings = append(r.warnings, w.Error())
	}
	r.HostCheck.Loads = len(r.HostCheck.Problems) == 0
	r.HostCheck.LoadsIn = map[string]bool{}
	for _, o := range hosts {
		if o.name == h.name {
			r.HostCheck.LoadsIn[o.name] = r.HostCheck.Loads
			continue
		}
		scratch := &Report{Imports: map[string][]Import{}, Language: r.Language, Start: r.Start}
		scratch.imports(m, o, v)
		scratch.callbacks(m, v)
		scratch.exitAtStart(m, v)
		r.HostCheck.LoadsIn[o.name] = v != abi.VersionUnknown && len(scratch.HostCheck.Problems) == 0
	}
	for _, l := range []*[]Problem{&r.HostCheck.Missing, &r.HostCheck.Mismatched, &r.HostCheck.Problems} {
		if *l == nil {
			*l = []Problem{}
		}
	}
	if r.Callbacks == nil {
		r.Callbacks = []Callback{}
	}
	if r.Exports == nil {
		r.Exports = []Export{}
	}
	return r, nil
}

func (r *Report) addProblem(p Problem) {
	r.HostCheck.Problems = append(r.HostCheck.Problems, p)
	switch p.Reason {
	case "missing_import":
		r.HostCheck.Missing = append(r.HostCheck.Missing, p)
	case "import_type_mismatch":
		r.HostCheck.Mismatched = append(r.HostCheck.Mismatched, p)
	}
}

// abiVersion finds the ABI marker export as cpp-host does
// (src/bytecode_util.cc getAbiVersion): the first function export named
// proxy_abi_version_X_Y_Z, in export order.
func abiVersion(m *wasm.Module) abi.Version {
	for _, e := range m.Exports {
		if e.Kind != wasm.KindFunc {
			continue
		}
		if v, ok := abi.VersionFromExport(e.Name); ok {
			return v
		}
	}
	return abi.VersionUnknown
}

// ABIHint says what to do about a module without a Proxy-Wasm ABI
// marker, from what it exports instead.
func ABIHint(m *wasm.Module) string {
	for _, e := range m.Exports {
		// envoy-wasm's 2019 ABI, before the version markers: callbacks
		// _proxy_onStart, _proxy_onConfigure…, host functions env._proxy_*.
		if e.Kind == wasm.KindFunc && strings.HasPrefix(e.Name, "_proxy_on") {
			return fmt.Sprintf("the module exports %s: it was built for the 2019 pre-release Envoy Wasm ABI, before proxy_abi_version_* markers, which no released Envoy or Istio loads; rebuild it with a current Proxy-Wasm SDK (ABI 0.2.1)", e.Name)
		}
	}
	for _, e := range m.Exports {
		if strings.HasPrefix(e.Name, "proxy_abi_version_") {
			if e.Kind != wasm.KindFunc {
				return fmt.Sprintf("the module exports %s as a %s; the host only looks at function exports", e.Name, e.Kind)
			}
			return fmt.Sprintf("the module exports %s, an ABI version this host does not know; hosts know 0.1.0, 0.2.0 and 0.2.1", e.Name)
		}
	}
	for _, e := range m.Exports {
		if strings.HasPrefix(e.Name, "proxy_on_") {
			return "the module exports Proxy-Wasm callbacks but no proxy_abi_version_* marker: build it with a Proxy-Wasm SDK, or export an empty function named proxy_abi_version_0_2_1"
		}
	}
	return "this is not a Proxy-Wasm plugin: it exports no proxy_abi_version_* marker and no proxy_on_* callbacks"
}

func (r *Report) exports(m *wasm.Module) {
	for _, e := range m.Exports {
		x := Export{Name: e.Name, Kind: e.Kind.String(), Index: e.Index}
		if e.Kind == wasm.KindFunc {
			if ft, ok := m.FuncType(e.Index); ok {
				x.Signature = ft.String()
			}
		}
		r.Exports = append(r.Exports, x)
	}
}

// funcExport returns the signature of the function exported as name.
func funcExport(m *wasm.Module, name string) (wasm.FuncType, bool) {
	for _, e := range m.Exports {
		if e.Name == name && e.Kind == wasm.KindFunc {
			return m.FuncType(e.Index)
		}
	}
	return wasm.FuncType{}, false
}

// signature converts an ABI signature to the module's value types.
func signature(f *abi.Func) wasm.FuncType {
	conv := func(ts []abi.ValType) []wasm.ValType {
		var out []wasm.ValType
		for _, t := range ts {
			out = append(out, wasm.ValType(t))
		}
		return out
	}
	return wasm.FuncType{Params: conv(f.ParamTypes()), Results: conv(f.ResultType())}
}

// exitAtStart: a WASI command whose runtime calls proc_exit when main
// returns (Go's wasip1 runtime.main; TinyGo since 0.35) traps in Envoy,
// whose start allow-list (WasmBase::startVm) has no proc_exit; the VM never
// starts. Only toolchains known to exit this way are flagged: older TinyGo
// imports proc_exit too, for os.Exit and panics.
func (r *Report) exitAtStart(m *wasm.Module, v abi.Version) {
	if r.Start.Mode != "command" || v == abi.VersionUnknown || len(r.HostCheck.Problems) > 0 {
		return
	}
	var exit string
	for _, im := range m.Imports {
		if im.Kind == wasm.KindFunc && im.Name == "proc_exit" && strings.HasPrefix(im.Module, "wasi_") {
			exit = im.Module + ".proc_exit"
		}
	}
	var who string
	switch l := r.Language; {
	case exit == "":
		return
	case l.Name == "Go":
		who = "Go's wasip1 runtime"
	case l.Name == "TinyGo" && tinyGoExits(l.Toolchain):
		who = l.Toolchain
	default:
		return
	}
	r.addProblem(Problem{Reason: "restricted_callback", Name: "_start",
		Message: "Function: _start failed: Uncaught Error: restricted_callback",
		Hint:    fmt.Sprintf("the module is a WASI command: %s calls %s when main returns, which Envoy does not allow while the VM starts (\"Wasm VM failed Failed to initialize Wasm code\"); build it as a reactor with -buildmode=c-shared, which exports _initialize instead", who, exit)})
}

// tinyGoExits reports a TinyGo release ("TinyGo 0.35.0") whose _start ends
// with proc_exit(0).
func tinyGoExits(toolchain string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(toolchain, "TinyGo %d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 0 || minor >= 35
}

// start follows cpp-host's WasmBase::startVm: _initialize then main (or
// __main_void); else _start. A wasm start function runs before either.
func (r *Report) start(m *wasm.Module) {
	s := Start{Calls: []string{}}
	has := func(name string) bool { _, ok := funcExport(m, name); return ok }
	switch {
	case has("_initialize"):
		s.Mode, s.Calls = "reactor", append(s.Calls, "_initialize")
		if has("main") {
			s.Calls = append(s.Calls, "main")
		} else if has("__main_void") {
			s.Calls = append(s.Calls, "__main_void")
		}
	case has("_start"):
		s.Mode, s.Calls = "command", append(s.Calls, "_start")
	}
	if m.HasStart {
		s.StartSection = true
		s.StartFunction = funcLabel(m, m.Start)
		if s.Mode == "" {
			s.Mode = "start section"
		}
	}
	if s.Mode == "" {
		s.Mode = "none"
	}
	r.Start = s
}

// funcLabel names a function as wasm-objdump does: "func[7] <name>".
func funcLabel(m *wasm.Module, idx uint32) string {
	if n := m.FuncName(idx); n != "" {
		return fmt.Sprintf("func[%d] <%s>", idx, n)
	}
	return fmt.Sprintf("func[%d]", idx)
}

func (r *Report) debug(m *wasm.Module) {
	d := &r.Debug
	d.NameSection = m.HasNames
	d.FunctionsNamed = len(m.Names.Funcs)
	d.Functions = m.NumFuncs()
	d.ModuleName = m.Names.Module
	for _, s := range m.DebugSections() {
		d.DWARFSections = append(d.DWARFSections, s.Name)
	}
	if info := m.Custom(".debug_info"); info != nil {
		d.DWARF = true
		d.DWARFVersions, d.DWARFUnits = unitVersions(info)
		if len(d.DWARFVersions) > 0 {
			d.DWARFVersion = d.DWARFVersions[len(d.DWARFVersions)-1]
		}
		n, matched, zeroed, err := rangeCheck(m, d.DWARFUnits)
		d.DWARFRanges, d.DWARFMatched = n, matched
		d.DWARFStale = 2*matched < n || n == 0 && zeroed > 0
		if err != nil {
			d.DWARFError = err.Error()
		}
	}
	if d.DWARFVersion == 0 {
		if v := lineVersion(m.Custom(".debug_line")); v != 0 {
			d.DWARF, d.DWARFVersion = true, v
		}
	}
	d.SourceMapURL = m.SourceMappingURL
	d.ExternalDebug = m.ExternalDebugInfo
}

// sortedModules returns the import module names in the order they first
// appear in the import section.
func (r *Report) sortedModules() []string {
	seen := map[string]bool{}
	var mods []string
	for _, im := range r.module.Imports {
		if !seen[im.Module] {
			seen[im.Module] = true
			mods = append(mods, im.Module)
		}
	}
	return mods
}

// counts returns how many imports have each status.
func (r *Report) counts() (total int, byStatus map[string]int) {
	byStatus = map[string]int{}
	for _, l := range r.Imports {
		for _, im := range l {
			total++
			byStatus[im.Status]++
		}
	}
	return total, byStatus
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
