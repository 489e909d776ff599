package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/attach"
	"github.com/wasmdbg/wasmdbg/internal/inspect"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

func newPluginsCmd(io stdio) *cobra.Command {
	var pf proxyFlags
	var asJSON bool
	var modules []string
	cmd := &cobra.Command{
		Use:   "plugins (--admin ADDR | --pod POD) [--module M.wasm…]",
		Short: "List the Proxy-Wasm plugins a proxy has loaded, from /config_dump",
		Long: `plugins lists every Proxy-Wasm plugin in the proxy's /config_dump, one line
each: name, kind (http, network filter, bootstrap service…), root_id and vm_id,
runtime, failure policy, where the code comes from, whether it came by ECDS and
which listeners use it. HTTP and network filters, ECDS-delivered filters (Istio
WasmPlugins), TypedStruct-wrapped ones and bootstrap WasmServices are all found.

When the module is available here (the code file exists on this machine, the
code is inline, or a --module file matches it by sha256 or name) an indented
line adds what wasmdbg inspect says: ABI version, language, debug info and
whether the host would load it. Istio names downloaded modules by their sha256,
so --module finds the right local build.`,
		Example: `  wasmdbg plugins --admin localhost:9901
  wasmdbg plugins --pod httpbin-65975d4c6f-6x2zq --module target/wasm32-wasip1/release/filter.wasm
  wasmdbg plugins --admin localhost:15000 --json | jq '.[].name'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			local, err := readModules(modules)
			if err != nil {
				return usageErrorf("%v", err)
			}
			ep, err := pf.endpoint(ctx)
			if err != nil {
				return err
			}
			return runPlugins(ctx, io, ep, local, asJSON)
		},
	}
	pf.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: each plugin with its inspect report when the module is here")
	cmd.Flags().StringArrayVar(&modules, "module", nil, "a local build of a plugin's module, matched by sha256 or file name (repeatable)")
	return cmd
}

// localModule is a module file given with --module.
type localModule struct {
	path   string
	sha256 string
	bytes  []byte
}

func readModules(paths []string) ([]localModule, error) {
	var out []localModule
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--module: %w", err)
		}
		sum := sha256.Sum256(b)
		out = append(out, localModule{path: p, sha256: hex.EncodeToString(sum[:]), bytes: b})
	}
	return out, nil
}

// pluginJSON is one plugin in --json output.
type pluginJSON struct {
	admin.Plugin
	Module  string          `json:"module,omitempty"` // the local file inspected
	Inspect *inspect.Report `json:"inspect,omitempty"`
	Problem string          `json:"inspect_error,omitempty"`
}

func runPlugins(ctx context.Context, io stdio, ep attach.Endpoint, local []localModule, asJSON bool) error {
	c, release, err := ep.Connect(ctx)
	if err != nil {
		return err
	}
	defer release()
	ps, err := c.Plugins(ctx)
	if err != nil {
		return err
	}
	out := make([]pluginJSON, len(ps))
	for i, p := range ps {
		out[i].Plugin = p
		path, b := findModule(p, local)
		if b == nil {
			continue
		}
		out[i].Module = path
		m, err := wasm.Parse(b)
		if err == nil {
			out[i].Inspect, err = inspect.Inspect(m, len(b), inspect.Options{File: path})
		}
		if err != nil {
			out[i].Problem = err.Error()
		}
	}
	if asJSON {
		if out == nil {
			out = []pluginJSON{}
		}
		return writeJSON(io, out)
	}
	if len(ps) == 0 {
		fmt.Fprintf(io.out, "no Proxy-Wasm plugins in %s/config_dump\n", c.URL())
		return nil
	}
	rows := make([][]string, len(out))
	for i, p := range out {
		rows[i] = pluginRow(p.Plugin)
	}
	for i, line := range alignRows(rows) {
		fmt.Fprintln(io.out, line)
		switch p := out[i]; {
		case p.Inspect != nil:
			fmt.Fprintf(io.out, "  └ %s\n", inspectLine(p.Module, p.Inspect))
		case p.Problem != "":
			fmt.Fprintf(io.out, "  └ %s: %s\n", p.Module, p.Problem)
		}
	}
	return nil
}

// alignRows pads each column to its widest cell, two spaces apart.
func alignRows(rows [][]string) []string {
	var w []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(w) {
				w = append(w, 0)
			}
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	out := make([]string, len(rows))
	for j, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", w[i]-utf8.RuneCountInString(c)+2))
			}
		}
		out[j] = strings.TrimRight(b.String(), " ")
	}
	return out
}

func pluginRow(p admin.Plugin) []string {
	ids := []string{}
	if p.RootID != "" {
		ids = append(ids, "root_id="+p.RootID)
	}
	if p.VMID != "" {
		ids = append(ids, "vm_id="+p.VMID)
	}
	if len(ids) == 0 {
		ids = append(ids, "-")
	}
	kind := p.Kind
	if p.Singleton {
		kind += " (singleton)"
	}
	where := strings.Join(p.Used, ", ")
	if p.ECDS != nil {
		where = "ecds " + p.ECDS.VersionInfo + "; " + where
		if p.ECDS.ErrorState != "" {
			where += "; last update rejected: " + p.ECDS.ErrorState
		}
	}
	return []string{p.Name, kind, strings.Join(ids, " "), p.RuntimeName(), p.FailurePolicy, shortHex(p.Code.String()), where}
}

func inspectLine(path string, r *inspect.Report) string {
	parts := []string{"ABI " + r.ABIVersion}
	lang := r.Language.Name
	if r.Language.SDK != "" {
		lang += " (" + r.Language.SDK + ")"
	}
	parts = append(parts, lang)
	dbg := "no names"
	if r.Debug.NameSection {
		dbg = fmt.Sprintf("%d functions named", r.Debug.FunctionsNamed)
	}
	if r.Debug.DWARF {
		dbg += fmt.Sprintf(", DWARF %d", r.Debug.DWARFVersion)
	}
	if r.Debug.SourceMapURL != "" {
		dbg += ", source map"
	}
	parts = append(parts, dbg)
	if r.HostCheck.Loads {
		parts = append(parts, r.HostCheck.Host+" loads it")
	} else if len(r.HostCheck.Problems) > 0 {
		parts = append(parts, r.HostCheck.Host+" refuses it: "+r.HostCheck.Problems[0].Message)
	}
	return filepath.Base(path) + ": " + strings.Join(parts, "; ")
}

var longHex = regexp.MustCompile(`[0-9a-fA-F]{32,}`)

// shortHex abbreviates digests in text output (--json keeps them whole).
func shortHex(s string) string {
	return longHex.ReplaceAllStringFunc(s, func(h string) string { return h[:12] + "…" })
}

// findModule returns the module bytes for a plugin when they are here: its
// local file, its inline code, or a --module file whose sha256 is in the
// code's file name or remote sha256 (Istio stores downloads as
// <dir>/<sha256>.wasm) or whose base name equals the code file's.
func findModule(p admin.Plugin, local []localModule) (string, []byte) {
	switch p.Code.Kind {
	case "inline_bytes":
		return "inline_bytes", p.Code.Inline
	case "local_file":
		if b, err := os.ReadFile(p.Code.Filename); err == nil {
			return p.Code.Filename, b
		}
	}
	for _, m := range local {
		if p.Code.SHA256 != "" && strings.EqualFold(p.Code.SHA256, m.sha256) ||
			p.Code.Filename != "" && strings.Contains(strings.ToLower(p.Code.Filename), m.sha256) {
			return m.path, m.bytes
		}
	}
	for _, m := range local {
		if p.Code.Filename != "" && filepath.Base(p.Code.Filename) == filepath.Base(m.path) {
			return m.path, m.bytes
		}
	}
	return "", nil
}
