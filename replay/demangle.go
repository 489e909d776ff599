package replay

import (
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// cxaDemangle renders a name-section name as V8 in Envoy prints it (in
// LLVM's style, as libc++abi's __cxa_demangle writes it):
// proxy-wasm-cpp-host passes every name through abi::__cxa_demangle and
// keeps the result when it succeeds (src/bytecode_util.cc). __cxa_demangle
// knows Itanium C++ only, so Rust legacy symbols (also _ZN…E) come out with
// their ::h<hash> suffix and $LT$-style escapes, and Rust v0 (_R…), Go and
// AssemblyScript names stay as stored. (libc++abi also "demangles" a name
// that is a whole type mangling, such as a function called "i"; that corner
// is not reproduced.)
func cxaDemangle(name string) string {
	if !strings.HasPrefix(name, "_Z") {
		return name
	}
	if s, err := demangle.ToString(name, demangle.NoRust, demangle.LLVMStyle, demangle.MaxLength(16)); err == nil {
		return s
	}
	return name
}
