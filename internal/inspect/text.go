package inspect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON, the form of
// `wasmdbg inspect --json`.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: the verdict first, then what
// the module is.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	name := r.file
	if name == "" {
		name = "module"
	}
	lang := r.Language.Name
	if r.Language.Toolchain != "" {
		lang += " (" + r.Language.Toolchain + ")"
	}
	abiDesc := "no Proxy-Wasm ABI version"
	if r.ABIVersion != "none" {
		abiDesc = "Proxy-Wasm ABI " + r.ABIVersion
	}
	p("%s: %d bytes, %s, %s\n", name, r.size, abiDesc, lang)
	h, _ := lookupHost(r.HostCheck.Host)
	if r.HostCheck.Loads {
		p("verdict: loads in %s (%s)\n", h.name, h.desc)
		var refuse []string
		for _, o := range hosts {
			if !r.HostCheck.LoadsIn[o.name] {
				refuse = append(refuse, o.name)
			}
		}
		if len(refuse) > 0 {
			p("note: %s would refuse it: some imports are newer than those hosts (inspect --host %s shows why)\n",
				strings.Join(refuse, " and "), refuse[0])
		}
	} else {
		n := len(r.HostCheck.Problems)
		p("verdict: would NOT load in %s (%s): %d problem%s, in the order the proxy meets them:\n", h.name, h.desc, n, plural(n))
		for _, pr := range r.HostCheck.Problems {
			p("  %s\n    hint: %s\n", pr.Message, pr.Hint)
		}
	}

	p("\n")
	if r.ABIVersion != "none" {
		p("%-14s%s (export proxy_abi_version_%s)\n", "ABI version", r.ABIVersion, strings.ReplaceAll(r.ABIVersion, ".", "_"))
	} else {
		p("%-14s%s\n", "ABI version", "none")
	}
	p("%-14s%s\n", "start", r.startText())
	p("%-14s%s\n", "allocator", r.Allocator)

	called := 0
	width := 0
	for _, c := range r.Callbacks {
		if c.Note == "" {
			called++
		}
		width = max(width, len(c.Name))
	}
	p("%-14s%d exported, %d called by the host\n", "callbacks", len(r.Callbacks), called)
	for _, c := range r.Callbacks {
		p("  %-*s  %s", width, c.Name, c.Signature)
		switch {
		case !c.OK:
			p("  BAD SIGNATURE: the host calls it as %s", c.Want)
		case c.Note != "":
			p("  (%s)", c.Note)
		}
		p("\n")
	}

	total, byStatus := r.counts()
	mods := r.sortedModules()
	p("%-14s%d from %d module%s", "imports", total, len(mods), plural(len(mods)))
	if total > 0 {
		if bad := byStatus["missing"] + byStatus["mismatched"]; bad == 0 {
			p(", all provided by %s", h.name)
		} else {
			p(", %d missing, %d mismatched in %s", byStatus["missing"], byStatus["mismatched"], h.name)
		}
	}
	p("\n")
	for _, mod := range mods {
		list := r.Imports[mod]
		p("  %s (%d)\n", mod, len(list))
		width := 0
		for _, im := range list {
			width = max(width, len(im.Name))
		}
		for _, im := range list {
			desc := im.Signature
			if desc == "" {
				desc = im.Type
			}
			p("    %-*s  %s", width, im.Name, desc)
			switch im.Status {
			case "missing":
				p("  MISSING")
			case "mismatched":
				p("  TYPE MISMATCH")
			}
			if im.Since != "" {
				p("  new in %s", im.Since)
			}
			p("\n")
		}
	}

	var others []string
	for _, e := range r.Exports {
		if !isCallbackName(r, e.Name) && !strings.HasPrefix(e.Name, "proxy_abi_version_") {
			others = append(others, fmt.Sprintf("%s (%s)", e.Name, e.Kind))
		}
	}
	if len(others) > 0 {
		p("%-14s%s\n", "other exports", strings.Join(others, ", "))
	}

	d := r.Debug
	p("debug info\n")
	if d.NameSection {
		p("  %-14s%d of %d functions named", "name section", d.FunctionsNamed, d.Functions)
		if d.ModuleName != "" {
			p(", module %q", d.ModuleName)
		}
		p("\n")
	} else {
		p("  %-14snone (backtraces show only function indexes)\n", "name section")
	}
	if d.DWARF {
		vs := make([]string, len(d.DWARFVersions))
		for i, v := range d.DWARFVersions {
			vs[i] = fmt.Sprint(v)
		}
		vdesc := fmt.Sprintf("version %d", d.DWARFVersion)
		if len(vs) > 1 {
			vdesc = "versions " + strings.Join(vs, " and ")
		}
		units := ""
		if d.DWARFUnits > 0 {
			units = fmt.Sprintf(", %d unit%s", d.DWARFUnits, plural(d.DWARFUnits))
		}
		p("  %-14s%s%s, %d bytes in %s\n", "DWARF", vdesc, units, r.dwarfBytes(), strings.Join(d.DWARFSections, " "))
		switch {
		case d.DWARFStale && d.DWARFRanges == 0:
			p("  %-14sSTALE: every code address in it is 0; the module was rewritten after linking (wasm-opt?) and DWARF answers will be wrong\n", "")
		case d.DWARFStale:
			p("  %-14sSTALE: %d of %d address ranges start where no function body does; the module was rewritten after linking (wasm-opt?) and DWARF answers will be wrong\n",
				"", d.DWARFRanges-d.DWARFMatched, d.DWARFRanges)
		case d.DWARFMatched < d.DWARFRanges:
			p("  %-14s%d of %d address ranges start where no function body does: answers inside those may be wrong; the others start at function bodies\n",
				"", d.DWARFRanges-d.DWARFMatched, d.DWARFRanges)
		case d.DWARFRanges > 0:
			p("  %-14sall %d address ranges start at function bodies\n", "", d.DWARFRanges)
		}
		if d.DWARFError != "" {
			p("  %-14scould not read all of it: %s\n", "", d.DWARFError)
		}
	} else if len(d.DWARFSections) > 0 {
		p("  %-14sno .debug_info; sections %s\n", "DWARF", strings.Join(d.DWARFSections, " "))
	} else {
		p("  %-14snone\n", "DWARF")
	}
	if d.SourceMapURL != "" {
		p("  %-14s%s\n", "source map", d.SourceMapURL)
	} else {
		p("  %-14snone\n", "source map")
	}
	if d.ExternalDebug != "" {
		p("  %-14s%s\n", "external debug", d.ExternalDebug)
	}

	if len(r.Producers) > 0 {
		p("producers\n")
		for _, f := range []string{"language", "processed-by", "sdk"} {
			r.writeProducers(p, f)
		}
		for _, f := range sortedKeys(r.Producers) {
			if f != "language" && f != "processed-by" && f != "sdk" {
				r.writeProducers(p, f)
			}
		}
	}
	p("%-14s%s", "language", lang)
	if r.Language.SDK != "" {
		p(", SDK %s", r.Language.SDK)
	}
	p("\n")
	for _, e := range r.Language.Evidence {
		p("  %s\n", e)
	}

	p("sections (payload offsets and sizes, as wasm-objdump -h)\n")
	nw := 0
	for _, s := range r.Sections {
		nw = max(nw, len(s.Name))
	}
	for _, s := range r.Sections {
		p("  %-*s  %2d  0x%08x  %9d  %5.1f%%\n", nw, s.Name, s.ID, s.Offset, s.Size, 100*float64(s.Size)/float64(max(r.size, 1)))
	}
	if len(r.warnings) > 0 {
		p("warnings (custom sections the reader could not fully decode)\n")
		for _, w := range r.warnings {
			p("  %s\n", w)
		}
	}
	return b.Flush()
}

func (r *Report) writeProducers(p func(string, ...any), field string) {
	vs, ok := r.Producers[field]
	if !ok {
		return
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.Name
		if v.Version != "" {
			s[i] += " " + v.Version
		}
	}
	p("  %-14s%s\n", field, strings.Join(s, "; "))
}

func (r *Report) startText() string {
	s := r.Start
	var parts []string
	if s.StartSection {
		parts = append(parts, "start section runs "+s.StartFunction+" during instantiation")
	}
	switch s.Mode {
	case "reactor", "command":
		parts = append(parts, s.Mode+": the host calls "+strings.Join(s.Calls, ", then "))
	case "none":
		parts = append(parts, "none: no _initialize, _start or start section")
	}
	return strings.Join(parts, "; ")
}

func (r *Report) dwarfBytes() int {
	n := 0
	for _, s := range r.module.DebugSections() {
		n += int(s.Size)
	}
	return n
}

func isCallbackName(r *Report, name string) bool {
	for _, c := range r.Callbacks {
		if c.Name == name {
			return true
		}
	}
	return false
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
