package tracer

import (
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// VM failure reasons, the "reason" of a vm_failure event (DESIGN §3.2).
const (
	ReasonMissingImport      = "missing_import"
	ReasonImportTypeMismatch = "import_type_mismatch"
	ReasonBadExportSignature = "bad_export_signature"
	ReasonUnknownABIVersion  = "unknown_abi_version"
	ReasonMissingMalloc      = "missing_malloc"
	ReasonLoadFailed         = "load_failed"
	ReasonInitializeFailed   = "initialize_failed"
	ReasonStartFailed        = "start_failed"
	ReasonConfigureFailed    = "configure_failed"
	ReasonFetchFailed        = "fetch_failed"
	ReasonRestrictedCallback = "restricted_callback"
	ReasonPluginFailClosed   = "plugin_fail_closed"
	ReasonStreamFailed       = "stream_failed"
)

// VMFailure is a classified VM load or start failure.
type VMFailure struct {
	Reason  string
	Message string
	Hint    string
	// Import is "module.name" for missing_import and import_type_mismatch;
	// Function the export for bad_export_signature.
	Import   string
	Function string
}

// vmFailurePatterns map the messages of proxy-wasm-cpp-host and Envoy
// (reference §3.5, §4.2) to reasons, most specific first. Each message is
// matched as a prefix of the record (after Envoy's "Wasm VM failed "), or
// anywhere when contains is set, ignoring case: releases before mid-2020
// spelled every "Wasm" of these messages "WASM".
var vmFailurePatterns = []struct {
	text     string
	reason   string
	contains bool
}{
	{"Failed to load Wasm module due to a missing import: ", ReasonMissingImport, false},
	{"Failed to load Wasm module due to an import type mismatch", ReasonImportTypeMismatch, false},
	{"Bad function signature for: ", ReasonBadExportSignature, false},
	{"Missing or unknown Proxy-Wasm ABI version", ReasonUnknownABIVersion, false},
	// envoy-wasm (Istio 1.5–1.8) and its exception inside a rejected
	// listener update.
	{"WASM missing Proxy-Wasm ABI version", ReasonUnknownABIVersion, true},
	{"Wasm module is missing malloc function", ReasonMissingMalloc, false},
	// cpp-host before its ABI-version release (2020): "Wasm missing malloc",
	// "WASM missing malloc" before that.
	{"Wasm missing malloc", ReasonMissingMalloc, false},
	{"Failed to load Wasm code (fetch failed)", ReasonFetchFailed, false},
	// A remote module not fetched yet (Envoy logs it at trace; Envoy
	// 1.6–1.8 threw it, so it also ends a rejected listener update).
	{"Failed to load Wasm code (fetching)", ReasonFetchFailed, true},
	{"Failed to load Wasm code", ReasonLoadFailed, false},
	{"Failed to load Wasm bytecode", ReasonLoadFailed, false},
	{"Failed to parse corrupted Wasm module", ReasonLoadFailed, false},
	{"Failed to create new Wasm instance", ReasonLoadFailed, false},
	{"Failed to load Wasm module from base Wasm", ReasonLoadFailed, false},
	{"Failed to clone Base Wasm", ReasonLoadFailed, false},
	{"Failed to load NullVM plugin", ReasonLoadFailed, false},
	{"Failed to create Wasm VM using ", ReasonLoadFailed, false},
	{"Failed to register host function: ", ReasonLoadFailed, false},
	{"Failed to initialize Wasm code", ReasonInitializeFailed, false},
	// Older Envoys' exception "Failed to initialize WASM code from <path>",
	// usually seen inside a rejected listener update.
	{"Failed to initialize WASM code", ReasonInitializeFailed, true},
	{"Failed to start base Wasm", ReasonStartFailed, false},
	{"Failed to start thread-local Wasm", ReasonStartFailed, false},
	{"Failed to configure base Wasm plugin", ReasonConfigureFailed, false},
	{"Failed to configure thread-local Wasm plugin", ReasonConfigureFailed, false},
	{"Failed to configure thread-local Wasm code", ReasonConfigureFailed, false},
	{"Failed to configure Wasm code", ReasonConfigureFailed, false},
	// "(in progress)", "(cached)": a remote fetch that failed now or before.
	{"createWasm: failed to load ", ReasonFetchFailed, false},
	// The Istio agent (and Higress's) fetches remote modules itself:
	// "cannot fetch Wasm module oci://…: …", also inside "error in
	// applying failopen rbac config: …" and a multi-error list.
	{"cannot fetch Wasm module ", ReasonFetchFailed, true},
	{"error in converting the wasm config to local", ReasonFetchFailed, true},
	{"Attempted call to restricted proxy-wasm capability: ", ReasonRestrictedCallback, false},
	{"Attempted call to restricted WASI capability: ", ReasonRestrictedCallback, false},
	{"Plugin configured to fail closed failed to load", ReasonPluginFailClosed, false},
	{"Unable to create Wasm plugin ", ReasonPluginFailClosed, false},
	{"Unable to create Wasm HTTP filter ", ReasonPluginFailClosed, false},
	{"Unable to create Wasm network filter ", ReasonPluginFailClosed, false},
	{"wasm_fail_stream", ReasonStreamFailed, true},
	// nginx-based hosts (APISIX wasm-nginx-module on wasmtime).
	{"failed to new instance: unknown import: ", ReasonMissingImport, false},
}

// ClassifyVMFailure recognises a VM load or start failure in a record's
// message and explains it. ok is false for any other message.
func ClassifyVMFailure(msg string) (VMFailure, bool) {
	first, _, _ := strings.Cut(msg, "\n")
	text := strings.TrimSpace(first)
	// A bullet of a Markdown list or of a Go multi-error list.
	text = strings.TrimPrefix(text, "* ")
	if len(text) > 15 && strings.EqualFold(text[:15], "Wasm VM failed ") {
		text = text[15:]
	}
	for _, p := range vmFailurePatterns {
		at := 0
		if p.contains {
			at = indexFold(text, p.text)
			if at < 0 {
				continue
			}
		} else if len(text) < len(p.text) || !strings.EqualFold(text[:len(p.text)], p.text) {
			continue
		}
		f := VMFailure{Reason: p.reason, Message: text}
		f.explain(text[at : at+len(p.text)])
		return f, true
	}
	if strings.HasPrefix(text, "Plugin ") && pluginFailedToLoad(text) {
		f := VMFailure{Reason: ReasonPluginFailClosed, Message: text}
		f.explain("")
		return f, true
	}
	if rest, ok := multiErrorCauses(msg, text); ok {
		// Go's multi-error list ("convert the wasm config: 1 error
		// occurred:" then "\t* cannot fetch Wasm module …"): the first
		// cause that is a VM failure explains the whole record.
		for _, cause := range rest {
			if f, ok := ClassifyVMFailure(cause); ok {
				f.Message = text + " " + f.Message
				return f, true
			}
		}
	}
	return VMFailure{}, false
}

// multiErrorCauses returns the "* cause" lines after a first line ending
// in "N error(s) occurred:" (hashicorp/go-multierror, which the Istio
// agent uses), without their bullets.
func multiErrorCauses(msg, first string) ([]string, bool) {
	if !strings.HasSuffix(first, " occurred:") || !strings.Contains(first, " error") {
		return nil, false
	}
	_, rest, ok := strings.Cut(msg, "\n")
	if !ok {
		return nil, false
	}
	var causes []string
	for _, ln := range strings.Split(rest, "\n") {
		ln = strings.TrimSpace(ln)
		if c, ok := strings.CutPrefix(ln, "* "); ok {
			causes = append(causes, c)
		}
	}
	return causes, len(causes) > 0
}

// indexFold is strings.Index ignoring ASCII case; sub is not empty.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if (s[i]|0x20) == (sub[0]|0x20) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// pluginFailedToLoad matches Envoy's critical "Plugin {} failed to load".
func pluginFailedToLoad(s string) bool {
	return strings.HasSuffix(s, " failed to load")
}

func (f *VMFailure) explain(pattern string) {
	switch f.Reason {
	case ReasonMissingImport:
		imp := strings.TrimSpace(strings.TrimPrefix(f.Message, pattern))
		if strings.HasPrefix(pattern, "failed to new instance") {
			// "`env::proxy_continue_stream` has not been defined"
			imp = strings.Trim(strings.TrimSuffix(imp, " has not been defined"), "`")
			imp = strings.Replace(imp, "::", ".", 1)
		}
		f.Import = imp
		f.Hint = missingImportHint(imp)
	case ReasonImportTypeMismatch:
		imp := f.Message
		if i := strings.Index(imp, "mismatch"); i >= 0 {
			imp = imp[i+len("mismatch"):]
		}
		imp = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(imp, ":")), "for function "), ": ")
		imp, _, _ = strings.Cut(imp, ",")
		f.Import = strings.TrimSpace(imp)
		f.Hint = "the module imports " + f.Import + " with another signature than the host provides (\"want\" is the module's, \"host exports\" the proxy's): " +
			"its SDK was built for a different Proxy-Wasm ABI version or host. " + hostSignature(f.Import) +
			"Rebuild with an SDK release that matches the proxy, or check the proxy_abi_version_* export with `wasmdbg inspect`."
	case ReasonBadExportSignature:
		fn := strings.TrimPrefix(f.Message, "Bad function signature for: ")
		fn, _, _ = strings.Cut(fn, ",")
		f.Function = fn
		hint := "the module exports " + fn + " with a signature the host does not call it with"
		if cb := lookupCallback(fn, -1); cb != nil {
			hint += " (the host calls " + abi.Signature(cb.ParamTypes(), cb.ResultType()) + ")"
		}
		f.Hint = hint + ". The SDK and the proxy disagree on the ABI version: rebuild with an SDK release for this proxy (proxy_on_request_headers has 2 parameters in ABI 0.1.0, 3 from 0.2.0)."
	case ReasonUnknownABIVersion:
		f.Hint = "the module exports none of proxy_abi_version_0_1_0, proxy_abi_version_0_2_0, proxy_abi_version_0_2_1, " +
			"which every Proxy-Wasm SDK adds. It was not built with a Proxy-Wasm SDK, or its exports were stripped " +
			"(a linker without --export of the marker, wasm-opt removing unused exports). Check with `wasmdbg inspect M.wasm`."
	case ReasonMissingMalloc:
		f.Hint = "the host allocates guest memory through an exported malloc or proxy_on_memory_allocate (cpp-host looks up malloc first) " +
			"and the module exports neither. C/C++: link with -Wl,--export=malloc; the Proxy-Wasm SDKs export one themselves, so a missing " +
			"one usually means the SDK was not linked in or exports were stripped."
	case ReasonLoadFailed:
		f.Hint = "the runtime could not compile or instantiate the module; the line just before usually names the cause " +
			"(a missing import, a signature mismatch, a corrupted file). Check the file with `wasmdbg inspect M.wasm` " +
			"and that the proxy was built with the configured runtime (release images have only V8)."
	case ReasonInitializeFailed:
		f.Hint = "the module's start-up code (_initialize, main, _start) trapped or called a host function that is not allowed " +
			"before a root context exists; look for a crash or a restricted call just before. Go: move work out of package init " +
			"and main into the plugin's OnVMStart/OnPluginStart."
	case ReasonStartFailed:
		f.Hint = "proxy_on_vm_start returned false or trapped: look at the plugin's log line just before (usually a VM " +
			"configuration it could not parse) and at any crash in proxy_on_vm_start."
	case ReasonConfigureFailed:
		f.Hint = "proxy_on_configure returned false or trapped: the plugin's log line just before usually says why " +
			"(a plugin configuration it could not parse); fix the configuration or the plugin's parser."
	case ReasonFetchFailed:
		f.Hint = "the module could not be fetched: check the URL, the sha256 and the cluster the remote source names " +
			"(Istio: the image pull secret and the agent's logs). Istio replaces a plugin it cannot fetch with an RBAC " +
			"filter that denies every request (403 \"RBAC: access denied\") when failStrategy is FAIL_CLOSE."
	case ReasonRestrictedCallback:
		f.Hint = "the plugin called a host function the host does not allow where it was called: during VM start-up only logging, " +
			"WASI basics and memory growth are allowed (proxy-wasm-cpp-host startVm allow-list), or a capability_restriction_config " +
			"denies it. Move the call into proxy_on_vm_start, proxy_on_configure or a later callback, or allow the capability."
	case ReasonPluginFailClosed:
		if pattern == "" {
			// Envoy's "Plugin {} failed to load" comes whatever the policy.
			f.Hint = "the plugin's VM could not be created; the lines before name the cause (a fetch, a missing import, " +
				"a start-up trap). Under failure_policy FAIL_CLOSED, the default, the filter then fails every request " +
				"(503 with details wasm_fail_stream); FAIL_OPEN (Istio failStrategy: FAIL_OPEN) skips the plugin instead."
			break
		}
		f.Hint = "the plugin did not load and its failure policy is fail-closed, so the filter fails every request " +
			"(503 with details wasm_fail_stream). Fix the load error above; while you do, failure_policy: FAIL_OPEN " +
			"(Istio failStrategy: FAIL_OPEN) skips the plugin instead."
	case ReasonStreamFailed:
		f.Hint = "a request was failed because the plugin's VM had failed (503 with response details wasm_fail_stream): " +
			"find the first crash or VM failure before it. failure_policy: FAIL_RELOAD creates a new VM after a runtime error."
	}
}

// missingImportHint explains a missing import with what the ABI tables
// know about it.
func missingImportHint(imp string) string {
	mod, name, _ := strings.Cut(imp, ".")
	if h := abi.LookupHost(mod, name); h != nil {
		if h.Since != "" {
			return imp + " is provided by " + h.Since + "; this proxy is older. Upgrade the proxy, or rebuild the plugin " +
				"so it does not import it (Go: the wasip1 Go SDK needs Envoy 1.33 or newer; avoid packages that touch the filesystem)."
		}
		if len(h.ABIs) > 0 {
			vs := make([]string, len(h.ABIs))
			for i, v := range h.ABIs {
				vs[i] = v.String()
			}
			return imp + " exists only in Proxy-Wasm ABI " + strings.Join(vs, ", ") + ", and a host registers it only for a module " +
				"that exports the matching proxy_abi_version_* marker: the module's marker and its imports come from different ABI versions. " +
				"Rebuild with one SDK release, or check the marker with `wasmdbg inspect`."
		}
		return imp + " is a standard host function; a proxy that lacks it is not a full Proxy-Wasm host (e.g. an nginx " +
			"module that implements part of the ABI) or is very old. Use a host that implements it, or avoid the call."
	}
	switch {
	case imp == "env.abort":
		return "env.abort is AssemblyScript's default abort handler, which no Proxy-Wasm host provides: build with " +
			"`asc --use abort=abort_proc_exit` (the @solo-io/proxy-runtime convention)."
	case mod == abi.WASIPreview1 || mod == abi.WASIUnstable:
		return imp + " is a WASI function no Proxy-Wasm host implements: the module uses a standard-library feature " +
			"(files, sockets, threads) the sandbox does not have. Remove that dependency, or check with `wasmdbg inspect` which imports are unsatisfied."
	case mod == "__wbindgen_placeholder__" || mod == "wbg" || strings.HasPrefix(mod, "__wbindgen"):
		return imp + " is wasm-bindgen's glue to a JavaScript host: a dependency of the plugin is built for the browser " +
			"(getrandom's js feature, chrono's wasmbind, uuid's js…). Build for wasm32-wasip1 (wasm32-wasi) and turn those " +
			"features off; `cargo tree -i wasm-bindgen` shows which crate pulls it in."
	case mod == "env" && strings.HasPrefix(name, "proxy_"):
		return imp + " is not a Proxy-Wasm host function in any ABI version; the SDK targets a fork or a newer host " +
			"(e.g. Higress or Kong extensions). Use an SDK release for this proxy."
	case mod == "env":
		return imp + " is an environment import no Proxy-Wasm host provides: the module was built for another environment " +
			"(TinyGo -target=wasm instead of -target=wasi, Emscripten without STANDALONE_WASM, a JS host). Rebuild for WASI."
	}
	return imp + " comes from an import module (" + mod + ") no Proxy-Wasm host provides: the module was built for another host. " +
		"Check the imports with `wasmdbg inspect M.wasm`."
}

// hostSignature says what cpp-host registers for an import, when known.
func hostSignature(imp string) string {
	mod, name, _ := strings.Cut(imp, ".")
	if h := abi.LookupHost(mod, name); h != nil {
		return "cpp-host registers " + imp + " as " + abi.Signature(h.ParamTypes(), h.ResultType()) + ". "
	}
	return ""
}
