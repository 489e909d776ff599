package replay

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	wasmfile "github.com/wasmdbg/wasmdbg/internal/wasm"
)

// The per-callback time limit (--timeout) on a fuel counter the host adds
// to the module, instead of wazero's WithCloseOnContextDone.
//
// wazero's own mechanism costs a goroutine and a channel for every call
// into the module (the allocator included), and compiles an exit to Go at
// every loop back-edge; it made a replayed request several times dearer
// than the call itself. Instead, the module the host compiles counts down
// a fuel global at the head of every loop and at the entry of every
// function that calls another (so that a call tree without loops, 2^60
// calls deep, is stopped too, which wazero's checks at loop heads would
// not do); when it reaches zero, once every fuelPerCheck steps, it calls
// the host function wasmdbg.fuel, which reads the clock and traps the
// callback once it has run past its limit. In between, guest code pays a
// load, a subtraction, a store and a branch per step and never leaves
// native code. Because the module comes back to Go at least every
// fuelPerCheck steps, the garbage collector is never kept waiting long
// either (native code cannot be preempted). A stopped callback is a trap
// like any other: its frames say where the loop was.
//
// The check needs a function import and a global, which shifts every
// defined function's index by one: calls, ref.func, exports, the start
// function and element segments are renumbered, the name section (by
// index) is left out of the compiled copy. Code offsets move, so the
// rewrite keeps a map from the compiled copy's code offsets back to the
// original's (fuelMap.original), through which every trap frame goes.
// A module the rewriter does not understand (an opcode or section it does
// not know) is compiled as it is, with wazero's own checks: slower, as
// safe.

// fuelModule and fuelFunc name the check function's import.
const (
	fuelModule = "wasmdbg"
	fuelFunc   = "fuel"
)

// fuelPerCheck is how many loop iterations and function calls run between
// two checks of the clock.
const fuelPerCheck = 1 << 14

// fuelMap maps the code offsets of the instrumented module back to the
// original module's.
type fuelMap struct {
	runs     []fuelRun
	codeSize int // the instrumented code section's payload size
}

// fuelRun is a stretch of the instrumented code section: bytes copied
// from the original (copied) or written by the rewrite (an inserted check,
// a renumbered instruction), which all map to one original offset.
type fuelRun struct {
	at, orig uint32 // code offsets of the run's first byte, instrumented and original
	copied   bool
}

// original returns the original code offset of an instrumented one.
func (m *fuelMap) original(off uint32) uint32 {
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].at > off }) - 1
	if i < 0 {
		return off
	}
	r := m.runs[i]
	if r.copied {
		return r.orig + off - r.at
	}
	return r.orig
}

// errFuel is why a module is compiled without fuel.
var errFuel = errors.New("cannot add fuel checks")

// instrument returns wasm with fuel checks (its .debug_* and name sections
// left out) and the offset map.
func instrument(wasm []byte, pm *wasmfile.Module) ([]byte, *fuelMap, error) {
	fx := &fuelRewriter{pm: pm, wasm: wasm}
	for _, im := range pm.Imports {
		switch im.Kind {
		case wasmfile.KindFunc:
			fx.importedFuncs++
		case wasmfile.KindGlobal:
			fx.importedGlobals++
		}
	}
	fx.checkFunc = fx.importedFuncs
	fx.fuelGlobal = fx.importedGlobals + uint32(len(pm.Globals))
	fx.fuelType = uint32(len(pm.Types))
	out, err := fx.module()
	if err != nil {
		return nil, nil, err
	}
	return out, &fx.m, nil
}

type fuelRewriter struct {
	pm   *wasmfile.Module
	wasm []byte

	importedFuncs, importedGlobals uint32
	checkFunc, fuelGlobal          uint32 // the added import's function index and the fuel global's index
	fuelType                       uint32 // the added () -> i32 type

	m fuelMap
}

// funcIndex renumbers a function index for the added import.
func (fx *fuelRewriter) funcIndex(i uint32) uint32 {
	if i >= fx.importedFuncs {
		return i + 1
	}
	return i
}

func (fx *fuelRewriter) module() ([]byte, error) {
	out := append(make([]byte, 0, len(fx.wasm)+len(fx.wasm)/8), fx.wasm[:8]...)
	has := map[wasmfile.SectionID]bool{}
	for _, s := range fx.pm.Sections {
		has[s.ID] = true
	}
	if !has[wasmfile.SectionType] || !has[wasmfile.SectionCode] {
		return nil, fmt.Errorf("%w: no type or code section", errFuel)
	}
	if has[wasmfile.SectionTag] {
		return nil, fmt.Errorf("%w: exception handling", errFuel)
	}
	for _, s := range fx.pm.Sections {
		var payload []byte
		var err error
		switch s.ID {
		case wasmfile.SectionCustom:
			if s.Name == "name" || strings.HasPrefix(s.Name, ".debug_") {
				continue
			}
			out = append(out, fx.wasm[s.Offset:s.End()]...)
			continue
		case wasmfile.SectionType:
			payload, err = fx.typeSection(s.Payload)
		case wasmfile.SectionImport:
			payload, err = fx.importSection(s.Payload)
		case wasmfile.SectionGlobal:
			payload, err = fx.globalSection(s.Payload)
		case wasmfile.SectionExport:
			payload, err = fx.exportSection(s.Payload)
		case wasmfile.SectionStart:
			payload, err = fx.startSection(s.Payload)
		case wasmfile.SectionElement:
			payload, err = fx.elementSection(s.Payload)
		case wasmfile.SectionCode:
			payload, err = fx.codeSection(s.Payload)
		default:
			payload = s.Payload
		}
		if err != nil {
			return nil, fmt.Errorf("%w: section %s: %v", errFuel, s.ID, err)
		}
		out = appendSection(out, s.ID, payload)
		// The sections a module may lack go where the spec orders them.
		if s.ID == wasmfile.SectionType && !has[wasmfile.SectionImport] {
			p, _ := fx.importSection([]byte{0})
			out = appendSection(out, wasmfile.SectionImport, p)
		}
		if !has[wasmfile.SectionGlobal] && fx.globalGoesAfter(s.ID, has) {
			p, _ := fx.globalSection([]byte{0})
			out = appendSection(out, wasmfile.SectionGlobal, p)
			has[wasmfile.SectionGlobal] = true
		}
	}
	return out, nil
}

// globalGoesAfter reports whether a missing global section belongs right
// after section id: the last present one of type, import, function,
// table and memory.
func (fx *fuelRewriter) globalGoesAfter(id wasmfile.SectionID, has map[wasmfile.SectionID]bool) bool {
	before := []wasmfile.SectionID{wasmfile.SectionType, wasmfile.SectionImport, wasmfile.SectionFunction,
		wasmfile.SectionTable, wasmfile.SectionMemory}
	last := wasmfile.SectionType
	for _, b := range before {
		if has[b] {
			last = b
		}
	}
	return id == last
}

func appendSection(out []byte, id wasmfile.SectionID, payload []byte) []byte {
	out = append(out, byte(id))
	out = appendULEB(out, uint64(len(payload)))
	return append(out, payload...)
}

// typeSection appends the check function's type, () -> i32.
func (fx *fuelRewriter) typeSection(p []byte) ([]byte, error) {
	r := &fuelReader{b: p}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	out := appendULEB(nil, uint64(n)+1)
	out = append(out, p[r.pos:]...)
	return append(out, 0x60, 0x00, 0x01, 0x7f), nil
}

// importSection appends the check function's import.
func (fx *fuelRewriter) importSection(p []byte) ([]byte, error) {
	r := &fuelReader{b: p}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	out := appendULEB(nil, uint64(n)+1)
	out = append(out, p[r.pos:]...)
	out = appendName(out, fuelModule)
	out = appendName(out, fuelFunc)
	out = append(out, 0x00)
	return appendULEB(out, uint64(fx.fuelType)), nil
}

func appendName(out []byte, s string) []byte {
	out = appendULEB(out, uint64(len(s)))
	return append(out, s...)
}

// globalSection renumbers ref.func in the globals' initializers and
// appends the fuel global, (mut i32) starting at fuelPerCheck.
func (fx *fuelRewriter) globalSection(p []byte) ([]byte, error) {
	r := &fuelReader{b: p}
	n := r.u32()
	out := appendULEB(nil, uint64(n)+1)
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.pos
		r.valType()
		r.byte() // mutability
		out = append(out, p[start:r.pos]...)
		out = fx.constExpr(r, out)
	}
	if r.err == nil && r.pos != len(p) {
		r.fail("%d bytes after the globals", len(p)-r.pos)
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, 0x7f, 0x01, 0x41)
	out = appendSLEB(out, fuelPerCheck)
	return append(out, 0x0b), nil
}

// exportSection renumbers function exports.
func (fx *fuelRewriter) exportSection(p []byte) ([]byte, error) {
	r := &fuelReader{b: p}
	n := r.u32()
	out := appendULEB(nil, uint64(n))
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.pos
		r.skip(int(r.u32())) // name
		kind := r.byte()
		out = append(out, p[start:r.pos]...)
		idx := r.u32()
		if kind == 0x00 {
			idx = fx.funcIndex(idx)
		}
		out = appendULEB(out, uint64(idx))
	}
	if r.err == nil && r.pos != len(p) {
		r.fail("%d bytes after the exports", len(p)-r.pos)
	}
	return out, r.err
}

func (fx *fuelRewriter) startSection(p []byte) ([]byte, error) {
	r := &fuelReader{b: p}
	idx := r.u32()
	if r.err == nil && r.pos != len(p) {
		r.fail("%d bytes after the start function", len(p)-r.pos)
	}
	return appendULEB(nil, uint64(fx.funcIndex(idx))), r.err
}

// elementSection renumbers the function indices of element segments
// (spec §5.5.12: flags 0-7).
func (fx *fuelRewriter) elementSection(p []byte) ([]byte, error) {
	r := &fuelReader{b: p}
	n := r.u32()
	out := appendULEB(nil, uint64(n))
	for i := uint32(0); i < n && r.err == nil; i++ {
		flags := r.u32()
		out = appendULEB(out, uint64(flags))
		if flags > 7 {
			r.fail("element segment %d: flags %d", i, flags)
			break
		}
		if flags&1 == 0 { // active
			if flags&2 != 0 {
				out = appendULEB(out, uint64(r.u32())) // table index
			}
			out = fx.constExpr(r, out) // offset
		}
		exprs := flags&4 != 0
		if flags&3 != 0 { // elemkind or reftype
			out = append(out, r.byte())
		}
		count := r.u32()
		out = appendULEB(out, uint64(count))
		for j := uint32(0); j < count && r.err == nil; j++ {
			if exprs {
				out = fx.constExpr(r, out)
			} else {
				out = appendULEB(out, uint64(fx.funcIndex(r.u32())))
			}
		}
	}
	if r.err == nil && r.pos != len(p) {
		r.fail("%d bytes after the element segments", len(p)-r.pos)
	}
	return out, r.err
}

// constExpr copies a constant expression up to its end, renumbering
// ref.func.
func (fx *fuelRewriter) constExpr(r *fuelReader, out []byte) []byte {
	for r.err == nil {
		start := r.pos
		op := r.byte()
		if op == 0x0b {
			return append(out, op)
		}
		if op == 0xd2 {
			out = append(out, op)
			out = appendULEB(out, uint64(fx.funcIndex(r.u32())))
			continue
		}
		r.immediates(op)
		out = append(out, r.b[start:r.pos]...)
	}
	return out
}

// codeSection rewrites every body: a check after the locals and one at
// the head of every loop; call and ref.func renumbered.
func (fx *fuelRewriter) codeSection(p []byte) ([]byte, error) {
	r := &fuelReader{b: p}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	entry := fx.entryChecks(p)
	out := make([]byte, 0, len(p)+len(p)/4)
	out = append(out, p[:r.pos]...)
	fx.m.runs = append(fx.m.runs, fuelRun{at: 0, orig: 0, copied: true})
	var body []byte
	var runs []fuelRun
	for i := uint32(0); i < n && r.err == nil; i++ {
		sizeAt := r.pos
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(p)-r.pos) {
			r.fail("function %d: body size %d overruns the section", i, size)
			break
		}
		b := &fuelReader{b: p[:r.pos+int(size)], pos: r.pos}
		body, runs = body[:0], runs[:0]
		// Relative to the body's first byte: at in the new body, orig a
		// code offset.
		bodyStart := r.pos
		copyFrom := bodyStart // the next original byte not yet copied
		flush := func() {
			if b.pos > copyFrom {
				runs = append(runs, fuelRun{at: uint32(len(body)), orig: uint32(copyFrom), copied: true})
				body = append(body, p[copyFrom:b.pos]...)
			}
			copyFrom = b.pos
		}
		insert := func(code []byte, orig int) {
			runs = append(runs, fuelRun{at: uint32(len(body)), orig: uint32(orig)})
			body = append(body, code...)
		}
		// The locals, plus one i32 for the check.
		groups := b.u32()
		groupsEnd := b.pos
		nlocals := uint64(fx.params(i))
		for g := uint32(0); g < groups && b.err == nil; g++ {
			nlocals += uint64(b.u32())
			b.valType()
		}
		if b.err != nil || nlocals >= 50000 { // wazero's limit on locals
			r.fail("function %d: %d locals", i, nlocals)
			break
		}
		insert(appendULEB(nil, uint64(groups)+1), bodyStart)
		copyFrom = groupsEnd
		flush()
		insert([]byte{1, 0x7f}, b.pos)
		check := fx.checkCode(uint32(nlocals))
		if entry == nil && makesCalls(b) || entry != nil && entry[i] {
			insert(check, b.pos)
		}
		for b.err == nil && b.pos < len(b.b) {
			at := b.pos
			op := b.byte()
			switch op {
			case 0x03: // loop
				b.blockType()
				flush()
				insert(check, at)
			case 0x10, 0x12, 0xd2: // call, return_call, ref.func
				b.pos = at
				flush()
				b.byte()
				idx := fx.funcIndex(b.u32())
				code := appendULEB([]byte{op}, uint64(idx))
				insert(code, at)
				copyFrom = b.pos
			default:
				b.immediates(op)
			}
		}
		if b.err != nil {
			r.err = fmt.Errorf("function %d at code offset %#x: %v", i, sizeAt, b.err)
			break
		}
		flush()
		// The size LEB maps to the original's.
		sizeLEB := appendULEB(nil, uint64(len(body)))
		base := uint32(len(out))
		fx.m.runs = append(fx.m.runs, fuelRun{at: base, orig: uint32(sizeAt)})
		out = append(out, sizeLEB...)
		base += uint32(len(sizeLEB))
		for _, run := range runs {
			run.at += base
			fx.m.runs = append(fx.m.runs, run)
		}
		out = append(out, body...)
		r.pos += int(size)
	}
	if r.err == nil && r.pos != len(p) {
		r.fail("%d bytes after the bodies", len(p)-r.pos)
	}
	fx.m.codeSize = len(out)
	return out, r.err
}

// maxUncheckedCalls is how many calls a function's call tree may make,
// all told, for the function to run without a check at its entry.
const maxUncheckedCalls = 64

// entryChecks says which defined functions get a check at their entry
// (nil when a body cannot be read: codeSection reports it). A function
// needs none when everything it can call is known and bounded: its direct
// calls go to defined functions, none on a cycle of the call graph, and
// its call tree, counted down to the functions that have their own entry
// check, makes at most maxUncheckedCalls calls (callees get checks of
// their own until that holds). Such a function runs its straight-line code
// and that bounded tree (loops have their own checks), so between two
// checks at most maxUncheckedCalls calls run. A call of an import counts
// as one: what the host does is bounded, and the allocator it may call
// back is a run with checks of its own. A function calling through a table
// (call_indirect) keeps its check, as does any function on a cycle, so
// every recursion and every long loop-free tree (2^60 calls) still passes
// a check at least every maxUncheckedCalls+1 calls.
func (fx *fuelRewriter) entryChecks(p []byte) []bool {
	r := &fuelReader{b: p}
	n := r.u32()
	type fn struct {
		calls    []uint32 // defined-function indices called directly, a site each
		imports  int      // calls of imports (host functions)
		external bool     // calls through a table
	}
	fns := make([]fn, 0, min(n, 1<<16))
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(p)-r.pos) {
			return nil
		}
		b := &fuelReader{b: p[:r.pos+int(size)], pos: r.pos}
		groups := b.u32()
		for g := uint32(0); g < groups && b.err == nil; g++ {
			b.u32()
			b.valType()
		}
		var f fn
		for b.err == nil && b.pos < len(b.b) {
			switch op := b.byte(); op {
			case 0x10, 0x12: // call, return_call
				idx := b.u32()
				if idx < fx.importedFuncs {
					f.imports++
				} else if idx-fx.importedFuncs >= n {
					f.external = true
				} else {
					f.calls = append(f.calls, idx-fx.importedFuncs)
				}
			case 0x11, 0x13: // call_indirect, return_call_indirect
				f.external = true
				b.immediates(op)
			default:
				b.immediates(op)
			}
		}
		if b.err != nil {
			return nil
		}
		fns = append(fns, f)
		r.pos += int(size)
	}
	if r.err != nil || uint32(len(fns)) != n {
		return nil
	}
	// Tarjan's strongly connected components, iteratively; a component is
	// finished after every component it calls, so bounds are known by then.
	check := make([]bool, n)
	bound := make([]int, n) // the calls an unchecked function's run makes, down to checked ones
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []uint32
	type frame struct{ f, next uint32 }
	var next int32
	for root := uint32(0); root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		work := []frame{{f: root}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(work) > 0 {
			top := &work[len(work)-1]
			f := top.f
			if int(top.next) < len(fns[f].calls) {
				g := fns[f].calls[top.next]
				top.next++
				if index[g] < 0 {
					index[g], low[g] = next, next
					next++
					stack = append(stack, g)
					onStack[g] = true
					work = append(work, frame{f: g})
				} else if onStack[g] && index[g] < low[f] {
					low[f] = index[g]
				}
				continue
			}
			work = work[:len(work)-1]
			if len(work) > 0 {
				if p := work[len(work)-1].f; low[f] < low[p] {
					low[p] = low[f]
				}
			}
			if low[f] != index[f] {
				continue
			}
			// f roots a component: pop it.
			k := len(stack) - 1
			for stack[k] != f {
				k--
			}
			comp := stack[k:]
			stack = stack[:k]
			for _, g := range comp {
				onStack[g] = false
			}
			cyclic := len(comp) > 1
			for _, g := range fns[f].calls {
				cyclic = cyclic || g == f
			}
			for _, g := range comp {
				// The calls g's run makes between two checks: a call each,
				// and the bounded trees of the callees without their own
				// check. Over the limit, the callees with the largest
				// trees get a check, until the rest fits.
				total := fns[g].imports
				for _, h := range fns[g].calls {
					total++
					if !check[h] {
						total += bound[h]
					}
				}
				for total > maxUncheckedCalls {
					big := -1
					for _, h := range fns[g].calls {
						if !check[h] && bound[h] > 0 && (big < 0 || bound[h] > bound[big]) {
							big = int(h)
						}
					}
					if big < 0 {
						break
					}
					for _, h := range fns[g].calls {
						if int(h) == big {
							total -= bound[h]
						}
					}
					check[big] = true
				}
				if cyclic || fns[g].external || total > maxUncheckedCalls {
					check[g] = true // its callers count the call only
				} else {
					bound[g] = total
				}
			}
		}
	}
	return check
}

// makesCalls reports whether the instructions from r's position call a
// function. Only such a function needs a check at its entry: one that
// calls none runs its straight-line code once, and its loops have their
// own checks, so the hot small leaves (memcpy, getters) run unchanged.
func makesCalls(r *fuelReader) bool {
	s := *r
	for s.err == nil && s.pos < len(s.b) {
		op := s.byte()
		if op >= 0x10 && op <= 0x13 { // call, call_indirect, return_call(_indirect)
			return true
		}
		s.immediates(op)
	}
	return false
}

// checkCode is the fuel check (stack-neutral), with local the i32 local
// the rewrite added to the function:
//
//	global.get $fuel
//	i32.const 1
//	i32.sub
//	local.tee $local
//	global.set $fuel
//	local.get $local
//	i32.eqz
//	if
//	  call $wasmdbg.fuel   ;; reads the clock, traps past the limit
//	  global.set $fuel     ;; fuelPerCheck more
//	end
func (fx *fuelRewriter) checkCode(local uint32) []byte {
	g := appendULEB(nil, uint64(fx.fuelGlobal))
	l := appendULEB(nil, uint64(local))
	c := append([]byte{0x23}, g...)
	c = append(c, 0x41, 0x01, 0x6b, 0x22)
	c = append(append(c, l...), 0x24)
	c = append(append(c, g...), 0x20)
	c = append(append(c, l...), 0x45, 0x04, 0x40, 0x10)
	c = appendULEB(c, uint64(fx.checkFunc))
	c = append(append(c, 0x24), g...)
	return append(c, 0x0b)
}

// params is the number of parameters of defined function i.
func (fx *fuelRewriter) params(i uint32) int {
	if int(i) < len(fx.pm.Funcs) {
		if t := fx.pm.Funcs[i]; int(t) < len(fx.pm.Types) {
			return len(fx.pm.Types[t].Params)
		}
	}
	return 0
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// fuelReader reads instructions and their immediates with a sticky error.
type fuelReader struct {
	b   []byte
	pos int
	err error
}

func (r *fuelReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.pos = len(r.b)
}

func (r *fuelReader) byte() byte {
	if r.err != nil || r.pos >= len(r.b) {
		r.fail("unexpected end at %#x", r.pos)
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *fuelReader) skip(n int) {
	if n < 0 || n > len(r.b)-r.pos {
		r.fail("%d bytes overrun the end at %#x", n, r.pos)
		return
	}
	r.pos += n
}

// leb reads an unsigned LEB128 of at most bits bits.
func (r *fuelReader) leb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits+7 {
			r.fail("LEB128 too long at %#x", r.pos)
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *fuelReader) u32() uint32 {
	v := r.leb(32)
	if v > 0xffffffff {
		r.fail("u32 overflows at %#x", r.pos)
	}
	return uint32(v)
}

func (r *fuelReader) valType() {
	switch c := r.byte(); c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		r.fail("value type %#x at %#x", c, r.pos-1)
	}
}

// blockType reads a block type: empty, a value type or a type index (s33).
func (r *fuelReader) blockType() {
	if r.err != nil || r.pos >= len(r.b) {
		r.fail("unexpected end at %#x", r.pos)
		return
	}
	switch r.b[r.pos] {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.pos++
	default:
		r.leb(33)
	}
}

func (r *fuelReader) memarg() {
	if align := r.u32(); align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.leb(64)
}

// immediates skips the immediates of opcode op (WebAssembly 2.0: MVP,
// sign extension, saturating truncation, bulk memory, reference types,
// multi-value, SIMD; and tail calls). Anything else fails.
func (r *fuelReader) immediates(op byte) {
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0b || op == 0x0f || op == 0x1a || op == 0x1b ||
		op == 0xd1 || op >= 0x45 && op <= 0xc4:
	case op == 0x02 || op == 0x03 || op == 0x04:
		r.blockType()
	case op == 0x0c || op == 0x0d || op == 0x10 || op == 0x12 || op == 0xd2 ||
		op >= 0x20 && op <= 0x26:
		r.u32()
	case op == 0x0e: // br_table
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e:
		r.memarg()
	case op == 0x3f || op == 0x40:
		r.u32()
	case op == 0x41:
		r.leb(32 + 7) // s32: at most 5 bytes
	case op == 0x42:
		r.leb(64 + 7) // s64: at most 10 bytes
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op == 0xd0:
		r.byte()
	case op == 0xfc:
		r.prefixFC(r.u32())
	case op == 0xfd:
		r.prefixFD(r.u32())
	default:
		r.fail("opcode %#x at %#x", op, r.pos-1)
	}
}

func (r *fuelReader) prefixFC(sub uint32) {
	switch {
	case sub <= 7: // trunc_sat
	case sub == 8: // memory.init
		r.u32()
		r.u32()
	case sub == 9 || sub == 11 || sub == 13 || sub == 15 || sub == 16 || sub == 17:
		r.u32()
	case sub == 10 || sub == 12 || sub == 14:
		r.u32()
		r.u32()
	default:
		r.fail("opcode 0xfc %d at %#x", sub, r.pos)
	}
}

func (r *fuelReader) prefixFD(sub uint32) {
	switch {
	case sub <= 11 || sub == 92 || sub == 93: // loads, stores, load_zero
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.skip(16)
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		r.byte()
	case sub >= 84 && sub <= 91: // load_lane, store_lane
		r.memarg()
		r.byte()
	case sub <= 255:
	default:
		r.fail("opcode 0xfd %d at %#x", sub, r.pos)
	}
}
