// Package symbolize turns offsets in a WebAssembly module into source
// frames: function (raw and demangled), file, line, column and the inlined
// calls at that place, innermost first.
//
// It reads, best first: DWARF 4 and 5 in the module's ".debug_*" custom
// sections (tool-conventions Debugging.md: addresses are offsets into the
// code section payload), the source map named by the "sourceMappingURL"
// custom section (ECMA-426, with module offsets as generated columns), the
// "name" custom section (core spec, appendix "Name Section"), the export
// names, and finally "unknown(function index:N)" as Envoy prints it. A
// stripped module can borrow all of it from a debug build with the same
// code section.
//
// Offsets come in three conventions (internal/loc): module offsets (V8 and
// Envoy backtraces, wasmtime, source maps), code offsets (DWARF,
// llvm-symbolizer, wazero) and function offsets; this package is where they
// are converted. Filter rewrites a log stream, adding resolved frames under
// every backtrace frame it recognises.
package symbolize

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// Frame is one resolved frame (internal/loc.Frame, shared with tracer and
// replay).
type Frame = loc.Frame

var _ loc.Resolver = (*Module)(nil)

// Options configure Open and New.
type Options struct {
	// DebugFile is the path of a debug build of the module (same code
	// section, with DWARF and names), for a stripped module. DebugBytes,
	// when set, is its content and DebugFile only names it in messages.
	DebugFile  string
	DebugBytes []byte
	// SourceMap is the path of the module's source map. Empty: the one
	// its sourceMappingURL custom section names, beside the module.
	// SourceMapBytes, when set, is its content.
	SourceMap      string
	SourceMapBytes []byte
	// StripRustHash drops the "::h<hash>" of legacy Rust names.
	StripRustHash bool
	// Warn, when set, receives each warning once, when it arises: absent or
	// corrupt debug information, a source map that cannot be found.
	Warn func(msg string)
}

// Module is an opened module, ready to answer lookups. Indexes are built on
// first use. A Module is safe for concurrent use.
type Module struct {
	name  string       // for messages: the path, or the name given to New
	mod   *wasm.Module // the module whose offsets are looked up
	dbg   *wasm.Module // where debug information comes from: mod, or the debug file
	code  wasm.Section // mod's code section
	names map[uint32]string
	exps  map[uint32]string
	isGo  bool
	opts  Options
	dir   string // directory of the module, for a relative sourceMappingURL

	dwarfOnce sync.Once
	dwarf     *dwarfIndex

	demangled sync.Map // raw name -> Demangle(raw)

	goOnce  sync.Once
	goNames map[string]string // Go: name section form -> the name Go prints (pclntab)

	smOnce sync.Once
	sm     *SourceMap
	smBase loc.ModuleOffset // the code start of the module the map was made for, minus mod's

	mu       sync.Mutex
	warnings []string
	warned   map[string]bool
}

// Open reads the module at path. A relative sourceMappingURL is looked up
// beside it.
func Open(path string, opts Options) (*Module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := New(path, b, opts)
	if err != nil {
		return nil, err
	}
	m.dir = filepath.Dir(path)
	return m, nil
}

// New opens a module held in memory; name is used in messages and, unless
// it has no directory part, to find a relative source map.
func New(name string, module []byte, opts Options) (*Module, error) {
	mod, err := wasm.Parse(module)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m := &Module{name: name, mod: mod, dbg: mod, opts: opts, dir: filepath.Dir(name), warned: map[string]bool{}}
	code, ok := mod.Section(wasm.SectionCode)
	if !ok {
		return nil, fmt.Errorf("%s: no code section: the module defines no functions to symbolize", name)
	}
	m.code = code
	for _, w := range mod.Warnings {
		m.warn(fmt.Sprintf("%s: %v", name, w))
	}
	if opts.DebugFile != "" || opts.DebugBytes != nil {
		if err := m.attachDebug(); err != nil {
			return nil, err
		}
	} else if url := mod.ExternalDebugInfo; url != "" && len(mod.Custom(".debug_info")) == 0 {
		m.attachExternal(url)
	}
	m.names = mod.Names.Funcs
	if len(m.names) == 0 {
		m.names = m.dbg.Names.Funcs
	}
	m.exps = map[uint32]string{}
	for _, e := range mod.Exports {
		if _, dup := m.exps[e.Index]; e.Kind == wasm.KindFunc && !dup {
			m.exps[e.Index] = e.Name
		}
	}
	m.isGo = isGoModule(mod) || isGoModule(m.dbg)
	return m, nil
}

// attachDebug opens the debug file and checks it holds the same code.
func (m *Module) attachDebug() error {
	name := m.opts.DebugFile
	if name == "" {
		name = "debug module"
	}
	b := m.opts.DebugBytes
	if b == nil {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return err
		}
	}
	dbg, err := wasm.Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dc, ok := dbg.Section(wasm.SectionCode)
	if !ok {
		return fmt.Errorf("debug file %s has no code section, so it cannot be a debug build of %s", name, m.name)
	}
	if !bytes.Equal(dc.Payload, m.code.Payload) {
		return fmt.Errorf("debug file %s is not a build of the same code as %s: %s; pass the debug file built together with this module", name, m.name, codeDifference(m.code.Payload, dc.Payload))
	}
	for _, w := range dbg.Warnings {
		m.warn(fmt.Sprintf("%s: %v", name, w))
	}
	m.dbg = dbg
	return nil
}

// attachExternal follows the module's external_debug_info section (the
// debug file emscripten's -gseparate-dwarf and wasm-split name), looked up
// beside the module. Unlike --debug-file it was not asked for, so a file
// that is missing or does not match is a warning.
func (m *Module) attachExternal(url string) {
	p := strings.TrimPrefix(url, "file://")
	if strings.Contains(p, "://") {
		m.warn(fmt.Sprintf("%s: its debug file %s (external_debug_info) is remote; download it and pass --debug-file", m.name, url))
		return
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(m.dir, filepath.FromSlash(p))
	}
	if _, err := os.Stat(p); err != nil {
		m.warn(fmt.Sprintf("%s: its debug file %s (external_debug_info %q) is not there; pass --debug-file", m.name, p, url))
		return
	}
	m.opts.DebugFile = p
	if err := m.attachDebug(); err != nil {
		m.opts.DebugFile = ""
		m.warn(fmt.Sprintf("%s: external_debug_info: %v", m.name, err))
	}
}

// codeDifference says how two code section payloads differ.
func codeDifference(a, b []byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("their code sections differ in size (0x%x and 0x%x bytes)", len(a), len(b))
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("their code sections differ first at code offset 0x%x", i)
}

// isGoModule reports a module built by Go's gc toolchain, whose names
// are sanitized (cmd/link writes a "go:buildid" custom section and
// "language: Go" in producers).
func isGoModule(m *wasm.Module) bool {
	if _, ok := m.CustomSection("go:buildid"); ok {
		return true
	}
	for _, f := range m.Producers {
		if f.Name != "language" {
			continue
		}
		for _, v := range f.Values {
			if v.Name == "Go" {
				return true
			}
		}
	}
	return false
}

// Name is the module's path or the name given to New.
func (m *Module) Name() string { return m.name }

// CodeRange is the code section payload, in module offsets: DWARF's code
// offset 0 is start.
func (m *Module) CodeRange() (start, end loc.ModuleOffset) {
	return m.code.PayloadOffset, m.code.End()
}

// HasDWARF reports whether the module (or its debug file) has DWARF.
func (m *Module) HasDWARF() bool { return len(m.dbg.Custom(".debug_info")) > 0 }

// DWARFVersions are the DWARF versions of the module's compilation units,
// each once, sorted (both 4 and 5 when C libraries built with DWARF 4 are
// linked into a DWARF 5 program).
func (m *Module) DWARFVersions() []int {
	if x := m.dwarfIndex(); x != nil {
		return x.versions
	}
	return nil
}

// Warnings returns every warning so far (each is also passed to
// Options.Warn when it arises).
func (m *Module) Warnings() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.warnings...)
}

func (m *Module) warn(msg string) {
	m.mu.Lock()
	if m.warned[msg] {
		m.mu.Unlock()
		return
	}
	m.warned[msg] = true
	m.warnings = append(m.warnings, msg)
	m.mu.Unlock()
	if m.opts.Warn != nil {
		m.opts.Warn(msg)
	}
}

// body returns the function body containing module offset off.
func (m *Module) body(off loc.ModuleOffset) (wasm.Body, bool) {
	code := m.mod.Code
	i := sort.Search(len(code), func(i int) bool { return code[i].End > off })
	if i < len(code) && code[i].Start <= off {
		return code[i], true
	}
	return wasm.Body{}, false
}

// ModuleOffset converts off to a module offset inside a function body, or
// says why there is none.
func (m *Module) ModuleOffset(off loc.Offset) (loc.ModuleOffset, error) {
	mo, _, err := m.resolve(off)
	return mo, err
}

// CodeOffset converts off to a code offset inside a function body.
func (m *Module) CodeOffset(off loc.Offset) (loc.CodeOffset, error) {
	mo, _, err := m.resolve(off)
	if err != nil {
		return 0, err
	}
	return loc.CodeOffset(mo - m.code.PayloadOffset), nil
}

// FuncOffset converts off to a function offset: the function's index and
// the distance from the start of its body.
func (m *Module) FuncOffset(off loc.Offset) (loc.FuncOffset, error) {
	mo, b, err := m.resolve(off)
	if err != nil {
		return loc.FuncOffset{}, err
	}
	return loc.FuncOffset{Func: b.Func, Offset: uint64(mo - b.Start)}, nil
}

// resolve converts any offset to a module offset and finds its body.
func (m *Module) resolve(off loc.Offset) (loc.ModuleOffset, wasm.Body, error) {
	start, end := m.CodeRange()
	var mo loc.ModuleOffset
	switch o := off.(type) {
	case loc.ModuleOffset:
		if o < start || o >= end {
			return 0, wasm.Body{}, fmt.Errorf("%s: outside the code section (%s–%s)", o, start, end)
		}
		mo = o
	case loc.CodeOffset:
		if uint64(o) >= uint64(end-start) {
			return 0, wasm.Body{}, fmt.Errorf("%s: outside the code section (size 0x%x)", o, uint64(end-start))
		}
		mo = start + loc.ModuleOffset(o)
	case loc.FuncOffset:
		n := m.mod.NumImportedFuncs()
		switch {
		case o.Func < n:
			return 0, wasm.Body{}, fmt.Errorf("%s: function %d is imported; it has no body", o, o.Func)
		case uint64(o.Func-n) >= uint64(len(m.mod.Code)):
			return 0, wasm.Body{}, fmt.Errorf("%s: no function %d (the module has %d)", o, o.Func, uint64(n)+uint64(len(m.mod.Code)))
		}
		b := m.mod.Code[o.Func-n]
		if o.Offset >= uint64(b.End-b.Start) {
			return 0, wasm.Body{}, fmt.Errorf("%s: past the end of the body of function %d (size 0x%x)", o, o.Func, uint64(b.End-b.Start))
		}
		return b.Start + loc.ModuleOffset(o.Offset), b, nil
	case nil:
		return 0, wasm.Body{}, errors.New("no offset")
	default:
		return 0, wasm.Body{}, fmt.Errorf("%s: unknown offset convention %T", off, off)
	}
	b, ok := m.body(mo)
	if !ok {
		return 0, wasm.Body{}, fmt.Errorf("%s: in the code section but not inside a function body (a function count or body size)", off)
	}
	return mo, b, nil
}

// Lookup returns the frames at off, innermost first: the inlined calls DWARF
// records there, then the function that contains off. It implements
// loc.Resolver. The error says why an offset has no frames (outside the
// code section, between bodies); problems with debug information are
// warnings and the next source answers.
func (m *Module) Lookup(off loc.Offset) ([]Frame, error) {
	return m.lookup(nil, off)
}

// lookup is Lookup appending to dst (Batch reuses one slice).
func (m *Module) lookup(dst []Frame, off loc.Offset) ([]Frame, error) {
	mo, b, err := m.resolve(off)
	if err != nil {
		return dst, err
	}
	pc := uint64(mo - m.code.PayloadOffset)
	if x := m.dwarfIndex(); x != nil {
		out, ok, err := x.lookup(dst, pc)
		if err != nil {
			m.warn(fmt.Sprintf("%s: DWARF: %v; frames at %s lack inlined calls", m.dbgName(), err, mo))
		}
		if ok {
			if last := &out[len(out)-1]; last.Function == "" {
				named := m.nameFrame(b.Func)
				last.Function, last.Demangled = named.Function, named.Demangled
			}
			return out, nil
		}
	}
	f := m.nameFrame(b.Func)
	if sm := m.sourceMap(); sm != nil {
		if file, line, col, ok := sm.Lookup(uint64(mo+m.smBase), uint64(b.Start+m.smBase)); ok {
			f.File, f.Line, f.Column, f.Source = file, line, col, loc.SourceSourceMap
		}
	}
	return append(dst, f), nil
}

// LookupFunc returns one frame for function idx (imports included) as a
// whole: its name and, from DWARF, where it is declared. For backtraces that
// name functions without offsets (wazero's).
func (m *Module) LookupFunc(idx uint32) (Frame, error) {
	n := m.mod.NumImportedFuncs()
	if idx >= n+uint32(len(m.mod.Code)) {
		return Frame{}, fmt.Errorf("no function %d (the module has %d)", idx, n+uint32(len(m.mod.Code)))
	}
	f := m.nameFrame(idx)
	if idx < n {
		return f, nil
	}
	b := m.mod.Code[idx-n]
	if x := m.dwarfIndex(); x != nil {
		// The function's first instruction: after its locals, which DWARF's
		// low_pc also skips; any offset inside the body finds the subprogram.
		if d, ok := x.declaration(uint64(b.Start - m.code.PayloadOffset)); ok {
			if d.Function == "" {
				d.Function, d.Demangled = f.Function, f.Demangled
			}
			f = d
		}
	}
	return f, nil
}

// FuncByName finds a function by the name a backtrace printed for it: its
// name-section name raw or demangled, or its export name.
func (m *Module) FuncByName(name string) (uint32, bool) {
	best, found := uint32(0), false
	for idx, n := range m.names {
		if (n == name || m.demangle(n) == name) && (!found || idx < best) {
			best, found = idx, true
		}
	}
	if found {
		return best, true
	}
	for idx, n := range m.exps {
		if n == name && (!found || idx < best) {
			best, found = idx, true
		}
	}
	return best, found
}

// FuncIndex returns the index of the function whose body contains off.
func (m *Module) FuncIndex(off loc.Offset) (uint32, error) {
	_, b, err := m.resolve(off)
	return b.Func, err
}

// NameOf returns the name a backtrace would show for function idx: the
// name section's, else the export's, else "unknown(function index:N)".
func (m *Module) NameOf(idx uint32) Frame { return m.nameFrame(idx) }

// nameFrame is the frame for function idx from names alone.
func (m *Module) nameFrame(idx uint32) Frame {
	if n, ok := m.names[idx]; ok && n != "" {
		return m.frame(n, loc.SourceNameSection)
	}
	if n, ok := m.exps[idx]; ok {
		return m.frame(n, loc.SourceExport)
	}
	return Frame{Function: fmt.Sprintf("unknown(function index:%d)", idx), Source: loc.SourceUnknown}
}

// frame makes a frame for a raw name, with its demangled form when that
// differs.
func (m *Module) frame(raw string, src loc.Source) Frame {
	f := Frame{Function: raw, Source: src}
	if d := m.demangle(raw); d != raw {
		f.Demangled = d
	}
	return f
}

// demangle is Demangle with the module's options, remembered: a backtrace
// or a batch names the same few functions again and again.
func (m *Module) demangle(raw string) string {
	if d, ok := m.demangled.Load(raw); ok {
		return d.(string)
	}
	d := ""
	if m.isGo {
		// The pclntab knows the package path the name section's form
		// lost ("github.com_x_y" is "github.com/x/y" or "github.com/x-y").
		m.goOnce.Do(func() {
			if m.goNames = goFuncNames(m.dbg); m.goNames == nil && m.dbg != m.mod {
				m.goNames = goFuncNames(m.mod)
			}
		})
		d = m.goNames[raw]
	}
	if d == "" {
		d = Demangle(raw, DemangleOptions{StripRustHash: m.opts.StripRustHash, Go: m.isGo})
	}
	m.demangled.Store(raw, d)
	return d
}

func (m *Module) dbgName() string {
	if m.dbg != m.mod {
		if m.opts.DebugFile != "" {
			return m.opts.DebugFile
		}
		return "debug module"
	}
	return m.name
}

// dwarfIndex builds the DWARF index on first use; nil when there is none.
func (m *Module) dwarfIndex() *dwarfIndex {
	m.dwarfOnce.Do(func() {
		secs := map[string][]byte{}
		for _, name := range dwarfSections {
			if s, ok := m.dbg.CustomSection(name); ok {
				secs[name] = s.Data
			}
		}
		if len(secs[".debug_info"]) == 0 {
			m.warn(fmt.Sprintf("%s: no DWARF (.debug_info): answers come from %s", m.dbgName(), m.fallbackSources()))
			return
		}
		x, errs := newDWARFIndex(secs, m.demangle, func(err error) {
			m.warn(fmt.Sprintf("%s: corrupt DWARF: %v; offsets it cannot answer come from %s", m.dbgName(), err, m.fallbackSources()))
		})
		for _, err := range errs {
			if x == nil {
				m.warn(fmt.Sprintf("%s: corrupt DWARF, not used: %v; answers come from %s", m.dbgName(), err, m.fallbackSources()))
			} else {
				m.warn(fmt.Sprintf("%s: corrupt DWARF: %v; offsets it cannot answer come from %s", m.dbgName(), err, m.fallbackSources()))
			}
		}
		if x != nil {
			if off, n := x.rangesOffBodies(m.dbg); 2*off > n {
				m.warn(fmt.Sprintf("%s: stale DWARF, not used: %d of %d address ranges start where no function body does "+
					"(the module was rewritten after linking, by wasm-opt or Emscripten's optimizer, without updating it); answers come from %s",
					m.dbgName(), off, n, m.fallbackSources()))
				return
			}
		}
		m.dwarf = x
	})
	return m.dwarf
}

// fallbackSources names what answers when DWARF does not.
func (m *Module) fallbackSources() string {
	var s []string
	if m.hasSourceMapURL() {
		s = append(s, "the source map")
	}
	if len(m.names) > 0 {
		s = append(s, "the name section")
	}
	if len(m.exps) > 0 {
		s = append(s, "export names")
	}
	if len(s) == 0 {
		return `nowhere: functions show as "unknown(function index:N)"`
	}
	return strings.Join(s, ", then ")
}

func (m *Module) hasSourceMapURL() bool {
	return m.opts.SourceMap != "" || m.opts.SourceMapBytes != nil || m.dbg.SourceMappingURL != "" || m.mod.SourceMappingURL != ""
}

// sourceMap loads the source map on first use; nil when there is none or it
// cannot be read (a warning says which).
func (m *Module) sourceMap() *SourceMap {
	m.smOnce.Do(func() {
		b, name, carrier, err := m.readSourceMap()
		if err != nil {
			m.warn(err.Error())
			return
		}
		if b == nil {
			return
		}
		// The map's own name says what the module was called when it was
		// built ("plugin.wasm.map" for "plugin.wasm").
		sm, err := parseSourceMap(b, filepath.Base(m.name), strings.TrimSuffix(filepath.Base(name), ".map"))
		if err != nil {
			m.warn(fmt.Sprintf("%s: %v; source map not used", name, err))
			return
		}
		if carrier != nil {
			if cs, ok := carrier.Section(wasm.SectionCode); ok {
				m.smBase = cs.PayloadOffset - m.code.PayloadOffset
			}
		}
		m.sm = sm
	})
	return m.sm
}

// readSourceMap finds the source map: given in Options, or named by the
// sourceMappingURL of the module (or of its debug file) and looked up
// beside it. carrier is the module whose offsets the map uses.
func (m *Module) readSourceMap() (b []byte, name string, carrier *wasm.Module, err error) {
	switch {
	case m.opts.SourceMapBytes != nil:
		name = m.opts.SourceMap
		if name == "" {
			name = "source map"
		}
		return m.opts.SourceMapBytes, name, m.mod, nil
	case m.opts.SourceMap != "":
		b, err := os.ReadFile(m.opts.SourceMap)
		return b, m.opts.SourceMap, m.mod, err
	}
	carrier = m.mod
	url := m.mod.SourceMappingURL
	if url == "" {
		carrier, url = m.dbg, m.dbg.SourceMappingURL
	}
	if url == "" {
		return nil, "", nil, nil
	}
	if b, ok, err := dataURLSourceMap(url); ok {
		if err != nil {
			return nil, "", nil, fmt.Errorf("%s: sourceMappingURL: %v; source map not used", m.name, err)
		}
		return b, m.name + " (inline source map)", carrier, nil
	}
	p := strings.TrimPrefix(url, "file://")
	if strings.Contains(p, "://") {
		return nil, "", nil, fmt.Errorf("%s: source map %s is remote; download it and pass --source-map", m.name, url)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(m.dir, filepath.FromSlash(p))
	}
	b, err = os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", nil, fmt.Errorf("%s: source map %s (from its sourceMappingURL %q) not found; pass --source-map", m.name, p, url)
		}
		return nil, "", nil, err
	}
	return b, p, carrier, nil
}
