package symbolize

import (
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// DemangleOptions say how Demangle renders names.
type DemangleOptions struct {
	// StripRustHash drops the "::h0123456789abcdef" that ends a legacy Rust
	// symbol. llvm-symbolizer and Envoy's backtraces keep it, so it is kept
	// by default and the two can be compared.
	StripRustHash bool
	// Go recovers what Go's wasm linker sanitized (`main.__crasher_.boom` is
	// `main.(*crasher).boom`). Only sensible for modules built by Go.
	Go bool
}

// Demangle returns the readable form of a function name as a module stores
// it: Itanium C++ (also emscripten's `__Z…`), Rust legacy (`_ZN…17h<hash>E`)
// and Rust v0 (`_R…`), without `.llvm.NNNN` suffixes; with opts.Go, Go's
// sanitized names. A name it cannot improve is returned unchanged.
func Demangle(name string, opts DemangleOptions) string {
	if opts.Go {
		return goName(name)
	}
	base := stripLLVMSuffix(name)
	mangled := base
	if strings.HasPrefix(mangled, "__Z") || strings.HasPrefix(mangled, "__R") {
		mangled = mangled[1:] // emscripten adds an underscore, as on Darwin
	}
	switch {
	case strings.HasPrefix(mangled, "_R"):
		if s, err := demangle.ToString(mangled, demangle.LLVMStyle, maxDemangled); err == nil {
			return s
		}
	case strings.HasPrefix(mangled, "_Z"):
		if s, ok := rustLegacy(mangled, opts.StripRustHash); ok {
			return s
		}
		// LLVMStyle renders what libc++abi's __cxa_demangle (and so Envoy's
		// backtrace) and llvm-symbolizer print: "vector<int, allocator<int>>".
		if s, err := demangle.ToString(mangled, demangle.LLVMStyle, demangle.NoRust, maxDemangled); err == nil {
			return s
		}
	}
	return base
}

// maxDemangled bounds a demangled name (2^16 bytes): a hostile name section
// must not make the demangler build megabytes per frame.
var maxDemangled = demangle.MaxLength(16)

// stripLLVMSuffix drops the ".llvm.<digits>" that LLVM's ThinLTO appends to
// promoted local symbols; it names no source construct.
func stripLLVMSuffix(name string) string {
	i := strings.LastIndex(name, ".llvm.")
	if i <= 0 {
		return name
	}
	for _, c := range name[i+len(".llvm."):] {
		if c < '0' || c > '9' {
			return name
		}
	}
	if i+len(".llvm.") == len(name) {
		return name
	}
	return name[:i]
}

// rustLegacy demangles a legacy Rust symbol: an Itanium nested name whose
// last component is "h" and 16 hex digits, with Rust's "$LT$"-style escapes
// and ".." for "::" inside the components. The Itanium structure is parsed
// by the demangle package (with its own Rust mode off, because it reads
// "7__getit" as "_getit"); the escapes are decoded here, as rustc-demangle
// does.
func rustLegacy(name string, stripHash bool) (string, bool) {
	if !strings.HasPrefix(name, "_ZN") || !strings.HasSuffix(name, "E") || len(name) < 3+20+1 {
		return "", false
	}
	hash := name[len(name)-20 : len(name)-1] // "17h" + 16 hex digits
	if !strings.HasPrefix(hash, "17h") || !isHex(hash[3:]) {
		return "", false
	}
	s, err := demangle.ToString(name, demangle.NoRust, maxDemangled)
	if err != nil {
		return "", false
	}
	parts := strings.Split(s, "::")
	if len(parts) < 2 || parts[len(parts)-1] != "h"+hash[3:] {
		return "", false // Itanium gave something else (template args, params): not Rust
	}
	if stripHash {
		parts = parts[:len(parts)-1]
	}
	for i, p := range parts {
		d, ok := rustUnescape(p)
		if !ok {
			return "", false
		}
		parts[i] = d
	}
	return strings.Join(parts, "::"), true
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// rustEscapes are legacy Rust's "$XX$" escapes (rustc_symbol_mangling
// legacy.rs).
var rustEscapes = map[string]string{
	"SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ",",
}

// rustUnescape decodes one component of a legacy Rust path.
func rustUnescape(s string) (string, bool) {
	if strings.HasPrefix(s, "_$") {
		s = s[1:]
	}
	if !strings.ContainsAny(s, "$.") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case s[i] == '$':
			j := strings.IndexByte(s[i+1:], '$')
			if j < 0 {
				return "", false
			}
			code := s[i+1 : i+1+j]
			if r, ok := rustEscapes[code]; ok {
				b.WriteString(r)
			} else if len(code) >= 2 && code[0] == 'u' && isHex(code[1:]) && len(code) <= 7 {
				var v rune
				for _, c := range code[1:] {
					v = v*16 + hexVal(c)
				}
				if v < 0x20 || v > 0x10ffff || (v >= 0xd800 && v < 0xe000) {
					return "", false
				}
				b.WriteRune(v)
			} else {
				return "", false
			}
			i += j + 2
		case strings.HasPrefix(s[i:], ".."):
			b.WriteString("::")
			i += 2
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), true
}

func hexVal(c rune) rune {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// goName undoes what Go's wasm linker does to symbol names
// (cmd/link/internal/wasm/asm.go: every character outside [A-Za-z0-9_.]
// becomes "_") where the original is certain: a pointer receiver "(*T)" was
// written "__T_" between dots. Package paths ("github.com_x_y" for
// "github.com/x/y" or "github.com/x-y") are ambiguous and left alone.
func goName(name string) string {
	if !strings.Contains(name, ".__") {
		return name
	}
	parts := strings.Split(name, ".")
	changed := false
	for i := 1; i < len(parts); i++ {
		p := parts[i]
		if len(p) > 3 && strings.HasPrefix(p, "__") && strings.HasSuffix(p, "_") && isGoIdent(p[2:len(p)-1]) {
			parts[i] = "(*" + p[2:len(p)-1] + ")"
			changed = true
		}
	}
	if !changed {
		return name
	}
	return strings.Join(parts, ".")
}

// isGoIdent reports whether s can be a Go type name: it does not start with
// an underscore or digit (which would make "__T_" ambiguous).
func isGoIdent(s string) bool {
	if s == "" || s[0] == '_' || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80) {
			return false
		}
	}
	return true
}
