package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdbg/wasmdbg/fixtures"
	wasmfile "github.com/wasmdbg/wasmdbg/internal/wasm"
)

// instrumentFile instruments a module and checks its offset map.
func instrumentFile(t testing.TB, wasm []byte) ([]byte, *fuelMap) {
	t.Helper()
	pm, err := wasmfile.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	out, fm, err := instrument(wasm, pm)
	if err != nil {
		t.Fatalf("instrument: %v", err)
	}
	if err := checkFuelMap(wasm, pm, out, fm); err != nil {
		t.Fatal(err)
	}
	return out, fm
}

// checkFuelMap checks the offset map against both modules: the runs cover
// the instrumented code section in order; a copied run holds the original
// bytes it maps to; every other run is a fuel check (mapping to a loop or
// to a function's first instruction) or a renumbered call or ref.func
// (mapping to the same opcode).
func checkFuelMap(wasm []byte, pm *wasmfile.Module, out []byte, fm *fuelMap) error {
	npm, err := wasmfile.Parse(out)
	if err != nil {
		return fmt.Errorf("the instrumented module does not parse: %v", err)
	}
	code, _ := pm.Section(wasmfile.SectionCode)
	ncode, _ := npm.Section(wasmfile.SectionCode)
	if int(ncode.Size) != fm.codeSize {
		return fmt.Errorf("code size %d, the map says %d", ncode.Size, fm.codeSize)
	}
	old, new := code.Payload, ncode.Payload
	firstInstr := map[uint32]bool{}
	for _, b := range pm.Code {
		r := &fuelReader{b: wasm, pos: int(b.Start)}
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
			r.valType()
		}
		firstInstr[uint32(r.pos-int(code.PayloadOffset))] = true
	}
	fx := &fuelRewriter{}
	for _, im := range pm.Imports {
		if im.Kind == wasmfile.KindFunc {
			fx.importedFuncs++
		}
	}
	// Where each body's size LEB and locals are, in both sections.
	sizeAt, localsAt := map[uint32]uint32{}, map[uint32]uint32{}
	for k, b := range npm.Code {
		sizeAt[uint32(b.SizeOffset-ncode.PayloadOffset)] = uint32(pm.Code[k].SizeOffset - code.PayloadOffset)
		localsAt[uint32(b.Start-ncode.PayloadOffset)] = uint32(pm.Code[k].Start - code.PayloadOffset)
	}
	checkCall := appendULEB([]byte{0x10}, uint64(len(npm.Imports)-1))
	for i, run := range fm.runs {
		end := uint32(len(new))
		if i+1 < len(fm.runs) {
			end = fm.runs[i+1].at
		}
		if end <= run.at {
			return fmt.Errorf("run %d at %#x is empty or out of order", i, run.at)
		}
		got := new[run.at:end]
		orig, isSize := sizeAt[run.at]
		lorig, isLocals := localsAt[run.at]
		switch {
		case run.copied:
			if int(run.orig)+len(got) > len(old) || !bytes.Equal(got, old[run.orig:int(run.orig)+len(got)]) {
				return fmt.Errorf("run %d at %#x: not the original bytes at %#x", i, run.at, run.orig)
			}
		case isSize:
			if run.orig != orig {
				return fmt.Errorf("run %d at %#x: a body size mapped to %#x, not %#x", i, run.at, run.orig, orig)
			}
		case isLocals: // the count of local groups, one more
			if run.orig != lorig {
				return fmt.Errorf("run %d at %#x: the locals mapped to %#x, not %#x", i, run.at, run.orig, lorig)
			}
		case bytes.Equal(got, []byte{1, 0x7f}): // the check's local
			if !firstInstr[run.orig] {
				return fmt.Errorf("run %d at %#x: the added local mapped to %#x, not a function's start", i, run.at, run.orig)
			}
		case got[0] == 0x23: // a fuel check
			if !bytes.Contains(got, checkCall) || len(got) < 8 {
				return fmt.Errorf("run %d at %#x: not a fuel check: % x", i, run.at, got)
			}
			if old[run.orig] != 0x03 && !firstInstr[run.orig] {
				return fmt.Errorf("run %d at %#x: a fuel check mapped to %#x, neither a loop nor a function's start", i, run.at, run.orig)
			}
		case got[0] == 0x10 || got[0] == 0x12 || got[0] == 0xd2:
			r := &fuelReader{b: got, pos: 1}
			idx := r.u32()
			o := &fuelReader{b: old, pos: int(run.orig)}
			op := o.byte()
			if op != got[0] || fx.funcIndex(o.u32()) != idx || r.pos != len(got) {
				return fmt.Errorf("run %d at %#x: % x does not renumber the original at %#x", i, run.at, got, run.orig)
			}
		default:
			return fmt.Errorf("run %d at %#x: unexpected bytes % x", i, run.at, got)
		}
	}
	return nil
}

// fuelRuntime compiles wasm on a bare wazero runtime, with check as the
// fuel function when instrumented.
func fuelRuntime(t *testing.T, wasm []byte, check func() uint32) api.Module {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { r.Close(ctx) })
	if check != nil {
		_, err := r.NewHostModuleBuilder(fuelModule).NewFunctionBuilder().
			WithFunc(func() uint32 { return check() }).Export(fuelFunc).Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	mod, err := r.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	return mod
}

// TestFuelRewrite runs every export of the test modules with and without
// the fuel checks and compares the results; the checks fire at loop heads
// and at the entries of functions that call.
func TestFuelRewrite(t *testing.T) {
	// The first call of each list uses up the fuel the module starts
	// with; after it the test's check returns 1, so every step checks.
	tests := []struct {
		file  string
		calls []string // "export arg": the results are compared
	}{
		{"testdata/wat/fuel.wasm", []string{"fan 14", "indirect", "started", "loops 10", "loops 1", "immediates", "fan 10"}},
		{"testdata/wat/fuel-bare.wasm", []string{"count 20000", "count 100"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			wasm := readFile(t, tt.file)
			out, _ := instrumentFile(t, wasm)
			plain := fuelRuntime(t, wasm, nil)
			checks := 0
			inst := fuelRuntime(t, out, func() uint32 { checks++; return 1 }) // a check at every step
			ctx := context.Background()
			for i, c := range tt.calls {
				name, arg, _ := strings.Cut(c, " ")
				var args []uint64
				if arg != "" {
					var v uint64
					fmt.Sscan(arg, &v)
					args = append(args, v)
				}
				want, err := plain.ExportedFunction(name).Call(ctx, args...)
				if err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				before := checks
				got, err := inst.ExportedFunction(name).Call(ctx, args...)
				if err != nil {
					t.Fatalf("%s instrumented: %v", c, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: %v instrumented, %v without", c, got, want)
				}
				// A function without loops whose calls are bounded (none,
				// or a leaf once) has no check.
				if leaf := name == "immediates" || name == "started"; leaf != (checks == before) {
					t.Errorf("%s: %d fuel checks", c, checks-before)
				}
				if i > 0 && name == "fan" && checks-before < 1<<(args[0]+1)-1 {
					t.Errorf("%s: %d checks, fewer than its calls", c, checks-before)
				}
			}
		})
	}
}

// TestFuelStopsLoopsAndFans: a check that traps stops an endless loop and
// a call tree without loops (2^40 calls), which wazero's own termination
// checks (loops only) would run to the end.
func TestFuelStopsLoopsAndFans(t *testing.T) {
	out, _ := instrumentFile(t, readFile(t, "testdata/wat/fuel.wasm"))
	errStop := errors.New("stop")
	checks := 0
	mod := fuelRuntime(t, out, func() uint32 {
		if checks++; checks == 100 {
			panic(errStop)
		}
		return fuelPerCheck
	})
	for _, c := range []struct {
		name string
		args []uint64
	}{{"spin", nil}, {"fan", []uint64{40}}} {
		checks = 0
		_, err := mod.ExportedFunction(c.name).Call(context.Background(), c.args...)
		if !errors.Is(err, errStop) {
			t.Errorf("%s: %v, want the check's trap", c.name, err)
		}
	}
}

// TestFuelDag: a call tree without loops or recursion (dag.wat: each of
// 40 levels calls the next twice) is stopped too, though its lowest
// levels, whose subtrees make at most maxUncheckedCalls calls, have no
// entry check; and its checks come at least once every
// maxUncheckedCalls+1 calls.
func TestFuelDag(t *testing.T) {
	wasm := readFile(t, "testdata/wat/dag.wasm")
	out, _ := instrumentFile(t, wasm)
	errStop := errors.New("stop")
	checks := 0
	mod := fuelRuntime(t, out, func() uint32 {
		if checks++; checks == 100 {
			panic(errStop)
		}
		return 1 // a check at every step
	})
	plain := fuelRuntime(t, wasm, nil)
	ctx := context.Background()
	// 2^40 calls: stopped (which uses up the fuel the module starts with).
	if _, err := mod.ExportedFunction("dag").Call(ctx); !errors.Is(err, errStop) {
		t.Errorf("dag: %v, want the check's trap", err)
	}
	// 2^11-1 calls below $d30 (dag10): the same result, and enough checks,
	// on an instance whose start-up fuel is used up first.
	mod = fuelRuntime(t, out, func() uint32 { checks++; return 1 })
	want, err := plain.ExportedFunction("dag10").Call(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for checks = 0; checks == 0; {
		mod.ExportedFunction("dag10").Call(ctx)
	}
	checks = 0
	got, err := mod.ExportedFunction("dag10").Call(ctx)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dag10: %v %v instrumented, %v without", got, err, want)
	}
	if calls := 1<<11 - 1; checks < calls/(maxUncheckedCalls+1) {
		t.Errorf("dag10: %d checks for %d calls, want one at least every %d", checks, calls, maxUncheckedCalls+1)
	}
	if checks >= 1<<11-1 {
		t.Errorf("dag10: %d checks, one a call: the bounded subtrees should have none", checks)
	}
}

// TestFuelEveryFixture: every fixture is compiled with fuel checks (not
// wazero's slower ones) when a time limit is set, and its offset map
// holds; the fixture tests then check every crash frame against V8's.
func TestFuelEveryFixture(t *testing.T) {
	for _, f := range fixtures.All() {
		t.Run(f.Name, func(t *testing.T) {
			wasm, err := f.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			instrumentFile(t, wasm)
			m := compileBytes(t, wasm, Options{Timeout: time.Second, CacheDir: testCacheDir})
			if m.fuel == nil {
				t.Errorf("compiled without fuel: %v", m.fuelErr)
			}
		})
	}
}

func compileBytes(t testing.TB, wasm []byte, opts Options) *Module {
	t.Helper()
	m, err := Compile(context.Background(), wasm, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// TestFuelFallback: a module the rewriter does not know (an
// exception-handling tag section here) is compiled as it is, with
// wazero's own checks, and says why.
func TestFuelFallback(t *testing.T) {
	wasm := readFile(t, "testdata/wat/fuel-bare.wasm")
	pm, err := wasmfile.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	pm.Sections = append(pm.Sections, wasmfile.Section{ID: wasmfile.SectionTag})
	_, _, err = instrument(wasm, pm)
	if err == nil || err.Error() != "cannot add fuel checks: exception handling" {
		t.Errorf("error %v", err)
	}
	// An opcode it does not know: 0xfe (threads) in a body.
	bad := append([]byte(nil), wasm...)
	i := bytes.Index(bad, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}) // spin's loop: loop, br 0, end
	bad[i+2] = 0xfe
	pm, _ = wasmfile.Parse(bad)
	if _, _, err := instrument(bad, pm); err == nil || !strings.Contains(err.Error(), "opcode 0xfe") {
		t.Errorf("error %v, want the unknown opcode", err)
	}
}

// FuzzInstrument: the fuel rewriter never panics, and a module it rewrites
// parses and keeps an offset map that holds.
func FuzzInstrument(f *testing.F) {
	seedDir(f, "testdata/wat")
	f.Fuzz(func(t *testing.T, b []byte) {
		pm, err := wasmfile.Parse(b)
		if err != nil {
			return
		}
		out, fm, err := instrument(b, pm)
		if err != nil {
			return
		}
		if err := checkFuelMap(b, pm, out, fm); err != nil {
			t.Fatal(err)
		}
	})
}
