// Package replay is a Proxy-Wasm host on wazero that runs a plugin against
// captured traffic the way Envoy would, deterministically, and reproduces its
// crashes with V8-shaped, symbolized backtraces.
//
// It implements every env host function of ABI 0.1.0, 0.2.0 and 0.2.1 with
// proxy-wasm-cpp-host's and Envoy's semantics (src/exports.cc,
// src/context.cc, src/wasm.cc; Envoy source/extensions/common/wasm/
// context.cc), cpp-host's own WASI (not wazero's: no real clock, random or
// filesystem), the start sequence with its allow-list, the HTTP and TCP
// callback order and return-value mapping, and emits the events of Envoy's
// wasm:trace stream (shared/reference/envoy-formats.md §1, §2.3, §3.1, §9).
// Its input is the capture format v1 (capture.schema.json), which it also
// reads from HAR files and Envoy tap traces.
package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/internal/inspect"
	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/symbolize"
)

// DefaultTimeout is the per-callback time limit when none is given.
const DefaultTimeout = 5 * time.Second

// DefaultMaxMemoryPages is cpp-host's limit on a module's linear memory:
// PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES, 1 GiB (include/proxy-wasm/limits.h).
const DefaultMaxMemoryPages = 16384

// Options are the runtime limits and caches a Module is compiled with.
type Options struct {
	// Timeout limits each callback (each call from the host into the
	// module), through fuel checks the host adds to the module (fuel.go):
	// an infinite loop is stopped and reported with its frames. Zero
	// disables the limit: the module is compiled as it is, slightly
	// cheaper to run, but an infinite loop hangs.
	Timeout time.Duration
	// MaxMemoryPages caps linear memory (64 KiB pages); 0 means
	// DefaultMaxMemoryPages.
	MaxMemoryPages uint32
	// CacheDir holds wazero's compilation cache; empty means no cache.
	CacheDir string
	// Resolver symbolizes crash frames (file:line, inlined frames,
	// demangled names); nil leaves frames as the name section has them.
	Resolver loc.Resolver
	// Profile compiles the module with wazero's function listeners and
	// collects a CPU profile of its VMs (profile.go; WriteProfile).
	Profile bool
}

// DefaultCacheDir is the compilation cache directory under the user's cache
// directory, or "" when there is none.
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "wasmdbg", "wazero")
}

// Module is a plugin compiled for the host. It is safe to create several VMs
// from one Module, one at a time per goroutine each.
type Module struct {
	wasm   []byte // the original bytes (offsets and names refer to them)
	info   *moduleInfo
	opts   Options
	marker string

	rt       wazero.Runtime
	compiled wazero.CompiledModule
	cache    wazero.CompilationCache
	prof     *Profiler // Options.Profile

	// fuel maps the compiled module's code offsets to the original's
	// when the time limit is fuel checks (fuel.go); fuelErr says why
	// wazero's own checks are used instead.
	fuel    *fuelMap
	fuelErr error

	// offsets converts wazero's code offsets to V8's module offsets and
	// function indices (package symbolize converts; DESIGN.md §3.1),
	// opened at the first trap.
	offsetsOnce sync.Once
	offsets     *symbolize.Module
}

// LoadError is a module that cannot run at all: not wasm, no ABI marker, an
// import the host does not provide, a bad callback signature. Reason is a
// vm_failure reason of DESIGN.md §3.2.
type LoadError struct {
	Reason  string
	Message string // what Envoy would log
	Hint    string
}

func (e *LoadError) Error() string { return e.Message }

// Compile parses and compiles a plugin. It fails with a *LoadError when
// Envoy would refuse the module.
func Compile(ctx context.Context, wasm []byte, opts Options) (*Module, error) {
	info, err := parseModule(wasm)
	if err != nil {
		return nil, &LoadError{Reason: "load_failed", Message: "Failed to parse corrupted Wasm module: " + err.Error(),
			Hint: "the file is not a valid WebAssembly module; check it was not truncated or served as text"}
	}
	if err := checkModule(info); err != nil {
		return nil, err
	}
	if opts.MaxMemoryPages == 0 {
		opts.MaxMemoryPages = DefaultMaxMemoryPages
	}
	m := &Module{wasm: wasm, info: info, opts: opts, marker: offsetMarker(wasm)}
	if opts.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("open compilation cache %s: %w", opts.CacheDir, err)
		}
		m.cache = cache
	}
	// The time limit is the fuel checks of fuel.go; wazero's own
	// termination checks only where the module cannot be instrumented, and
	// for profiling (whose listeners see the module's own function
	// indices).
	if opts.Timeout > 0 && !opts.Profile {
		inst, fm, err := instrument(wasm, info.parsed)
		if err == nil {
			bin := inst
			if fm.codeSize >= 2 {
				bin = append(bin, syntheticDWARF(uint32(fm.codeSize), m.marker)...)
			}
			m.fuel = fm
			if err = m.compile(ctx, bin, false); err == nil {
				return m, nil
			}
			m.fuel = nil
		}
		m.fuelErr = err
	}
	if err := m.compile(ctx, withOffsetDWARF(wasm, info, m.marker), opts.Timeout > 0); err != nil {
		m.Close(ctx)
		return nil, &LoadError{Reason: "load_failed", Message: "Failed to load Wasm bytecode: " + err.Error(),
			Hint: "wazero rejected the module; it may use a WebAssembly feature Envoy's V8 does not enable either"}
	}
	return m, nil
}

// compile makes m's runtime and compiles bin in it; closeOnDone turns on
// wazero's termination checks.
func (m *Module) compile(ctx context.Context, bin []byte, closeOnDone bool) error {
	if m.rt != nil {
		m.rt.Close(ctx)
		m.rt = nil
	}
	cfg := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(m.opts.MaxMemoryPages).
		WithDebugInfoEnabled(true).
		WithCloseOnContextDone(closeOnDone).
		WithCoreFeatures(api.CoreFeaturesV2)
	if m.cache != nil {
		cfg = cfg.WithCompilationCache(m.cache)
	}
	m.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	cctx := ctx
	if m.opts.Profile {
		m.prof = NewProfiler()
		cctx = m.prof.context(ctx)
	}
	compiled, err := m.rt.CompileModule(cctx, bin)
	if err != nil {
		return err
	}
	m.compiled = compiled
	return nil
}

// Close releases the runtime and every VM made from m.
func (m *Module) Close(ctx context.Context) error {
	var err error
	if m.rt != nil {
		err = m.rt.Close(ctx)
	}
	if m.cache != nil {
		err = errors.Join(err, m.cache.Close(ctx))
	}
	return err
}

// ABI is the Proxy-Wasm ABI version the module declares.
func (m *Module) ABI() abi.Version { return m.info.abi }

// Bytes returns the module as given to Compile.
func (m *Module) Bytes() []byte { return m.wasm }

// checkModule applies cpp-host's load-time checks (src/wasm.cc load,
// getFunctions; src/v8/v8.cc link): ABI marker, imports the host provides
// with matching types, callback signatures, an allocator.
func checkModule(info *moduleInfo) error {
	if info.abi == abi.VersionUnknown {
		return &LoadError{Reason: "unknown_abi_version", Message: "Missing or unknown Proxy-Wasm ABI version",
			Hint: inspect.ABIHint(info.parsed)}
	}
	for _, im := range info.imports {
		f := abi.LookupHost(im.module, im.name)
		if f == nil || !f.Provided(info.abi) {
			hint := "the host does not provide this import; remove the dependency or build for a Proxy-Wasm host"
			if f != nil {
				hint = fmt.Sprintf("this function is not registered for ABI %s; build against a matching SDK", info.abi)
			}
			return &LoadError{Reason: "missing_import",
				Message: fmt.Sprintf("Failed to load Wasm module due to a missing import: %s.%s", im.module, im.name), Hint: hint}
		}
		if !im.typ.equal(f.ParamTypes(), f.ResultType()) {
			return &LoadError{Reason: "import_type_mismatch",
				Message: fmt.Sprintf("Failed to load Wasm module due to an import type mismatch: %s.%s, want: %s, but host exports: %s",
					im.module, im.name, im.typ, abi.Signature(f.ParamTypes(), f.ResultType())),
				Hint: "the SDK declares this host function with a different signature than Envoy; update the SDK"}
		}
	}
	if !info.hasMemory {
		return &LoadError{Reason: "load_failed", Message: "Failed to load Wasm module: the module has no memory",
			Hint: "a Proxy-Wasm module must define or import a linear memory"}
	}
	for _, name := range info.exportOrder {
		cb := abi.LookupCallback(name, info.abi)
		if cb == nil {
			continue
		}
		t, _ := info.exportType(name)
		if !t.equal(cb.ParamTypes(), cb.ResultType()) {
			return &LoadError{Reason: "bad_export_signature",
				Message: fmt.Sprintf("Bad function signature for: %s, want: %s, but the module exports: %s",
					name, abi.Signature(cb.ParamTypes(), cb.ResultType()), t),
				Hint: "the export does not have the signature the ABI declares; check the SDK version against the ABI marker"}
		}
	}
	if _, ok := info.exports["malloc"]; !ok {
		if _, ok := info.exports["proxy_on_memory_allocate"]; !ok {
			return &LoadError{Reason: "missing_malloc", Message: "Wasm module is missing malloc function.",
				Hint: "export malloc or proxy_on_memory_allocate; the host allocates guest memory for every value it returns"}
		}
	}
	return nil
}
