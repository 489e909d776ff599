package wasm

import "fmt"

// custom decodes the custom sections this package knows. A malformed one is
// a warning, never a failed parse: engines ignore broken custom sections, and
// what was read before the fault is kept.
func (m *Module) custom(s Section) {
	d := newDecoder("section "+s.Name, s.Data, int(s.DataOffset))
	switch s.Name {
	case "name":
		if m.HasNames {
			d.failAt(int(s.Offset), "duplicate name section ignored")
			break
		}
		m.HasNames = true
		m.nameSection(d)
	case "producers":
		m.Producers = append(m.Producers, producers(d)...)
	case "target_features":
		m.TargetFeatures = append(m.TargetFeatures, targetFeatures(d)...)
	case "sourceMappingURL":
		m.SourceMappingURL = d.name("source map URL")
		d.end()
	case "external_debug_info":
		m.ExternalDebugInfo = d.name("external debug info URL")
		d.end()
	default:
		return
	}
	if d.err != nil {
		m.Warnings = append(m.Warnings, d.err)
	}
}

// Name subsection ids (spec appendix "Name Section"; extended-name-section
// proposal for 3 and up, which are skipped).
const (
	nameModule    = 0
	nameFunctions = 1
	nameLocals    = 2
)

func (m *Module) nameSection(d *decoder) {
	m.Names.Funcs = map[uint32]string{}
	for d.err == nil && d.left() > 0 {
		id := d.u8()
		size := d.u32()
		body := d.bytes(uint64(size), fmt.Sprintf("subsection %d", id))
		if d.err != nil {
			return
		}
		sd := newDecoder(d.where, body, d.off()-len(body))
		switch id {
		case nameModule:
			m.Names.Module = sd.name("module name")
		case nameFunctions:
			nameMap(sd, "function names", m.Names.Funcs)
		case nameLocals:
			if m.Names.Locals == nil {
				m.Names.Locals = map[uint32]map[uint32]string{}
			}
			n := sd.count("local name maps", 2)
			for i := uint32(0); i < n && sd.err == nil; i++ {
				f := sd.u32()
				locals := m.Names.Locals[f]
				if locals == nil {
					locals = map[uint32]string{}
					m.Names.Locals[f] = locals
				}
				nameMap(sd, "local names", locals)
			}
		default:
			continue
		}
		sd.end()
		if sd.err != nil {
			d.err = sd.err
		}
	}
}

// nameMap reads a vector of (index, name) pairs into names.
func nameMap(d *decoder, what string, names map[uint32]string) {
	n := d.count(what, 2)
	for i := uint32(0); i < n && d.err == nil; i++ {
		idx := d.u32()
		name := d.name("name")
		if d.err == nil {
			names[idx] = name
		}
	}
}

// producers reads the "producers" section: fields ("language",
// "processed-by", "sdk"), each a list of (name, version) pairs.
func producers(d *decoder) []ProducerField {
	n := d.count("producer fields", 2)
	fields := make([]ProducerField, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		f := ProducerField{Name: d.name("field name")}
		k := d.count("producer values", 2)
		f.Values = make([]ProducerValue, 0, k)
		for j := uint32(0); j < k && d.err == nil; j++ {
			v := ProducerValue{Name: d.name("producer name")}
			v.Version = d.name("producer version")
			if d.err == nil {
				f.Values = append(f.Values, v)
			}
		}
		fields = append(fields, f)
	}
	d.end()
	return fields
}

func targetFeatures(d *decoder) []Feature {
	n := d.count("features", 2)
	fs := make([]Feature, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		at := d.off()
		f := Feature{Prefix: d.u8()}
		if d.err == nil && f.Prefix != '+' && f.Prefix != '-' && f.Prefix != '=' {
			d.failAt(at, "feature %d: unknown prefix 0x%02x", i, f.Prefix)
			break
		}
		f.Name = d.name("feature name")
		if d.err == nil {
			fs = append(fs, f)
		}
	}
	d.end()
	return fs
}
