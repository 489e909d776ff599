// Package archtest keeps the architecture of DESIGN.md §2 from rotting: it
// lists every package's imports with `go list` and checks them against the
// allow-list below. Dependencies point one way:
// cmd → tui → {replay, attach} → {tracer, symbolize, admin} → internal/*.
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wasmdbg/wasmdbg"

// rule says which project packages a package may depend on (transitively)
// and which third-party module prefixes it may import directly.
type rule struct {
	pkg      string   // package path relative to the module; a prefix match on path segments
	project  []string // allowed project packages (prefixes), besides the package's own subtree
	external []string // allowed third-party import prefixes
}

var rules = []rule{
	{pkg: "internal", project: []string{"internal"}},
	{pkg: "fixtures"},
	{pkg: "tracer", project: []string{"internal"}},
	{pkg: "symbolize", project: []string{"internal"}, external: []string{
		"github.com/ianlancetaylor/demangle", "github.com/go-delve/delve/pkg/dwarf"}},
	{pkg: "admin", project: []string{"internal"}, external: []string{
		"github.com/prometheus/", "google.golang.org/protobuf/"}},
	{pkg: "replay", project: []string{"internal", "tracer", "symbolize"}, external: []string{
		"github.com/tetratelabs/wazero", "github.com/google/pprof/profile", "github.com/ianlancetaylor/demangle",
		"google.golang.org/protobuf/encoding/protowire"}},
	{pkg: "serve", project: []string{"internal", "tracer", "symbolize", "replay"}},
	{pkg: "attach", project: []string{"internal", "tracer", "symbolize", "admin"}, external: []string{
		"k8s.io/", "github.com/prometheus/"}},
	{pkg: "tui", project: []string{"internal", "tracer", "symbolize", "admin", "replay", "attach"}, external: []string{
		"charm.land/", "github.com/charmbracelet/", "github.com/lucasb-eyer/go-colorful"}},
	{pkg: "cmd", project: []string{""}, external: []string{""}},
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) != 3 {
			t.Fatalf("unexpected go list line %q", sc.Text())
		}
		pkg := strings.TrimPrefix(strings.TrimPrefix(parts[0], module), "/")
		seen++
		r, ok := ruleFor(pkg)
		if !ok {
			t.Errorf("%s: no rule in archtest; add one that says what it may import", pkg)
			continue
		}
		for _, dep := range strings.Fields(parts[2]) {
			if rel, ok := projectRel(dep); ok && !under(rel, pkg) && !hasPrefix(rel, r.project) {
				t.Errorf("%s depends on %s, which the architecture forbids", pkg, rel)
			}
		}
		for _, imp := range strings.Fields(parts[1]) {
			if _, ok := projectRel(imp); ok || isStd(imp) {
				continue
			}
			if !hasPrefix(imp, r.external) {
				t.Errorf("%s imports %s; allowed third-party prefixes are %q", pkg, imp, r.external)
			}
		}
	}
	if seen == 0 {
		t.Fatal("go list returned no packages")
	}
}

func ruleFor(pkg string) (rule, bool) {
	for _, r := range rules {
		if under(pkg, r.pkg) {
			return r, true
		}
	}
	return rule{}, false
}

// under reports whether pkg is dir or inside it.
func under(pkg, dir string) bool {
	return pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if p == "" || under(s, p) || (strings.HasSuffix(p, "/") && strings.HasPrefix(s, p)) {
			return true
		}
	}
	return false
}

func projectRel(path string) (string, bool) {
	if path == module {
		return "", true
	}
	if strings.HasPrefix(path, module+"/") {
		return path[len(module)+1:], true
	}
	return "", false
}

// isStd reports whether path is a standard-library package: its first
// element has no dot.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestRuleHelpers(t *testing.T) {
	if !under("tracer/internal/x", "tracer") || under("tracers", "tracer") {
		t.Error("under")
	}
	if !hasPrefix("k8s.io/client-go/rest", []string{"k8s.io/"}) || hasPrefix("github.com/x/y", []string{"github.com/prometheus/"}) {
		t.Error("hasPrefix")
	}
	if !isStd("debug/dwarf") || isStd("github.com/x/y") {
		t.Error("isStd")
	}
	// A forbidden edge is caught: tracer may not reach symbolize.
	r, _ := ruleFor("tracer")
	if hasPrefix("symbolize", r.project) {
		t.Error("tracer rule allows symbolize")
	}
}
