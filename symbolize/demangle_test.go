package symbolize

import (
	"os/exec"
	"strings"
	"testing"
)

func TestDemangle(t *testing.T) {
	tests := []struct {
		name string
		opts DemangleOptions
		want string
	}{
		// Itanium C++, in LLVM's style (what libc++abi's __cxa_demangle, and
		// so Envoy, and llvm-symbolizer print).
		{"_ZN6plugin5crash11reallyAbortEi", DemangleOptions{}, "plugin::crash::reallyAbort(int)"},
		{"_ZN6plugin11HttpContext16onRequestHeadersEjb", DemangleOptions{}, "plugin::HttpContext::onRequestHeaders(unsigned int, bool)"},
		{"_ZNSt3__16vectorIiNS_9allocatorIiEEE9push_backERKi", DemangleOptions{}, "std::__1::vector<int, std::__1::allocator<int>>::push_back(int const&)"},
		{"_ZN6plugin5crash11reallyAbortEi.cold.1", DemangleOptions{}, "plugin::crash::reallyAbort(int) (.cold.1)"},
		// emscripten's extra underscore.
		{"__ZN6plugin5crash11reallyAbortEi", DemangleOptions{}, "plugin::crash::reallyAbort(int)"},
		// ThinLTO's promoted locals.
		{"_Z3foov.llvm.123", DemangleOptions{}, "foo()"},
		{"static_helper.llvm.5831750889756681673", DemangleOptions{}, "static_helper"},
		{"x.llvm.", DemangleOptions{}, "x.llvm."},
		{"x.llvm.12a", DemangleOptions{}, "x.llvm.12a"},
		// Rust legacy: hash kept by default, as llvm-symbolizer and Envoy
		// show it; escapes decoded.
		{"_ZN6plugin6plugin5crash6deeper17h537654f97834de11E", DemangleOptions{}, "plugin::plugin::crash::deeper::h537654f97834de11"},
		{"_ZN6plugin6plugin5crash6deeper17h537654f97834de11E", DemangleOptions{StripRustHash: true}, "plugin::plugin::crash::deeper"},
		{"_ZN90_$LT$std..panicking..begin_panic_handler..PanicPayload$u20$as$u20$core..panic..BoxMeUp$GT$8take_box17h0123456789abcdefE", DemangleOptions{StripRustHash: true},
			"<std::panicking::begin_panic_handler::PanicPayload as core::panic::BoxMeUp>::take_box"},
		{"_ZN3std6thread5local17LOCAL_PANIC_COUNT7__getit17h0123456789abcdefE.llvm.5831750889756681673", DemangleOptions{StripRustHash: true},
			"std::thread::local::LOCAL_PANIC_COUNT::__getit"},
		{"_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$17h0123456789abcdefE", DemangleOptions{StripRustHash: true},
			"core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>"},
		{"_ZN4core3fmt3num52_$LT$impl$u20$core..fmt..Debug$u20$for$u20$usize$GT$3fmt17h0123456789abcdefE", DemangleOptions{},
			"core::fmt::num::<impl core::fmt::Debug for usize>::fmt::h0123456789abcdef"},
		// Rust v0.
		{"_RNvNtNtCs1l42m8kww2n_6plugin6plugin5crash4boom", DemangleOptions{}, "plugin::plugin::crash::boom"},
		{"_RNvMNtCs1l42m8kww2n_6plugin6pluginNtB2_11HttpContext18on_request_headers", DemangleOptions{}, "<plugin::plugin::HttpContext>::on_request_headers"},
		// Already readable (wasm-ld demangles by default), C, and bad input.
		{"plugin::crash::viaAbort(int)", DemangleOptions{}, "plugin::crash::viaAbort(int)"},
		{"proxy_on_request_headers", DemangleOptions{}, "proxy_on_request_headers"},
		{"_ZN3foo17h0123456789abcdefE", DemangleOptions{}, "foo::h0123456789abcdef"},
		{"_ZN3fooE", DemangleOptions{}, "foo"},
		{"_Zgarbage", DemangleOptions{}, "_Zgarbage"},
		{"_R", DemangleOptions{}, "_R"},
		{"", DemangleOptions{}, ""},
		// Go's sanitized names: pointer receivers restored; package paths,
		// ambiguous, left alone.
		{"main.__crasher_.boom", DemangleOptions{Go: true}, "main.(*crasher).boom"},
		{"main.__httpContext_.OnHttpRequestHeaders", DemangleOptions{Go: true}, "main.(*httpContext).OnHttpRequestHeaders"},
		{"github.com_proxy_wasm_proxy_wasm_go_sdk_proxywasm_internal.proxyOnRequestHeaders", DemangleOptions{Go: true}, "github.com_proxy_wasm_proxy_wasm_go_sdk_proxywasm_internal.proxyOnRequestHeaders"},
		{"runtime.gopanic", DemangleOptions{Go: true}, "runtime.gopanic"},
		{"main.___x_.f", DemangleOptions{Go: true}, "main.___x_.f"},
		{"_ZN6plugin5crash11reallyAbortEi", DemangleOptions{Go: true}, "_ZN6plugin5crash11reallyAbortEi"},
	}
	for _, tt := range tests {
		if got := Demangle(tt.name, tt.opts); got != tt.want {
			t.Errorf("Demangle(%q, %+v) = %q, want %q", tt.name, tt.opts, got, tt.want)
		}
	}
}

// C++ names demangle as LLVM's own demangler does.
func TestDemangleMatchesLLVMCxxfilt(t *testing.T) {
	tool := "llvm-cxxfilt-16"
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed (apt-get install llvm-16)", tool)
	}
	m, _ := openFixture(t, "cpp-mangled", Options{})
	var names []string
	for _, n := range m.names {
		if strings.HasPrefix(n, "_Z") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		t.Fatal("no mangled names in cpp-mangled")
	}
	cmd := exec.Command(tool)
	cmd.Stdin = strings.NewReader(strings.Join(names, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for i, n := range names {
		if got := Demangle(n, DemangleOptions{}); got != want[i] {
			t.Errorf("Demangle(%q) = %q, llvm-cxxfilt %q", n, got, want[i])
		}
	}
}

func FuzzDemangle(f *testing.F) {
	for _, s := range []string{"_ZN6plugin5crash11reallyAbortEi", "_ZN3foo17h0123456789abcdefE", "_RNvNtNtCs1l42m8kww2n_6plugin6plugin5crash4boom",
		"main.__crasher_.boom", "_ZN3$u7b$17h0123456789abcdefE", "x.llvm.1"} {
		f.Add(s, false, false)
	}
	f.Fuzz(func(t *testing.T, name string, strip, goNames bool) {
		Demangle(name, DemangleOptions{StripRustHash: strip, Go: goNames})
	})
}
