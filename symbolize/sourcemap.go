package symbolize

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// SourceMap is a parsed WebAssembly source map: Source Map Revision 3
// (https://tc39.es/ecma426/) as Binaryen, AssemblyScript and Emscripten
// write it for wasm, where every mapping sits on generated line 1 and the
// generated column is a module (file) offset.
type SourceMap struct {
	segs    []smSegment // sorted by offset
	sources []string    // with sourceRoot applied
	content smContent   // the sources' text, when the map embeds it (sourcecontent.go)
}

type smSegment struct {
	offset uint64 // module offset
	source int32  // index into sources; -1: an unmapped range starts here
	line   uint32 // 0-based, as stored
	column uint32 // 0-based, as stored
}

// smJSON is the part of the format a symbolizer needs.
type smJSON struct {
	Version    *int              `json:"version"`
	Sources    []*string         `json:"sources"`
	SourceRoot string            `json:"sourceRoot"`
	Mappings   *string           `json:"mappings"`
	Sections   []json.RawMessage `json:"sections"`
	// SourcesContent is decoded only when a source's text is asked for.
	SourcesContent json.RawMessage `json:"sourcesContent"`
}

// maxSourceMapSegments caps the segments decoded from one map: a
// "mappings" string cannot hold more than one segment per character.
const maxSourceMapSegments = 1 << 26

// ParseSourceMap reads a source map. moduleBase is the module's file name;
// AssemblyScript writes it as sourceRoot ("./plugin.wasm" before 0.20,
// "./plugin" since), which would make every source a path under the
// module, so a sourceRoot naming the module, with or without ".wasm", is
// ignored. Errors say where in the map they are (a JSON path, or a
// character position in "mappings").
func ParseSourceMap(b []byte, moduleBase string) (*SourceMap, error) {
	return parseSourceMap(b, moduleBase)
}

// parseSourceMap is ParseSourceMap with every name the module goes by: its
// file, and the one its sourceMappingURL was built for when it has been
// renamed since.
func parseSourceMap(b []byte, moduleBases ...string) (*SourceMap, error) {
	var j smJSON
	if err := json.Unmarshal(b, &j); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("byte %d: %v", se.Offset, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: want %s, got a JSON %s", te.Field, te.Type, te.Value)
		}
		return nil, err
	}
	switch {
	case j.Version == nil:
		return nil, errors.New("version: missing (want 3)")
	case *j.Version != 3:
		return nil, fmt.Errorf("version: %d, want 3", *j.Version)
	case j.Sections != nil:
		return nil, errors.New("sections: index maps are not supported; give the map of the module itself")
	case j.Mappings == nil:
		return nil, errors.New("mappings: missing")
	}
	root := j.SourceRoot
	for _, m := range moduleBases {
		if r := path.Base(root); m != "" && (r == m || r == strings.TrimSuffix(m, ".wasm")) {
			root = ""
		}
	}
	sm := &SourceMap{sources: make([]string, len(j.Sources))}
	sm.content.names = make([]string, len(j.Sources))
	for i, s := range j.Sources {
		if s == nil {
			continue // null: a source the tool could not name
		}
		sm.sources[i] = joinSource(root, *s)
		sm.content.names[i] = *s
	}
	sm.content.raw = j.SourcesContent
	if err := sm.decode(*j.Mappings); err != nil {
		return nil, fmt.Errorf("mappings: %w", err)
	}
	return sm, nil
}

// joinSource applies sourceRoot to one entry of sources, as the format
// says: prepended, unless the source is already absolute or a URL.
func joinSource(root, src string) string {
	if root == "" || strings.HasPrefix(src, "/") || strings.Contains(src, "://") {
		return src
	}
	if strings.Contains(root, "://") {
		return strings.TrimSuffix(root, "/") + "/" + src
	}
	return path.Join(root, src)
}

// decode reads the VLQ "mappings" string (ECMA-426 §8).
func (sm *SourceMap) decode(m string) error {
	var (
		line                     int
		col, src, sline, scolumn int64
	)
	fields := make([]int64, 0, 5)
	for i := 0; i < len(m); {
		switch m[i] {
		case ';':
			line++
			col = 0
			i++
			continue
		case ',':
			i++
			continue
		}
		start := i
		fields = fields[:0]
		for i < len(m) && m[i] != ',' && m[i] != ';' {
			v, n, err := vlq(m[i:])
			if err != nil {
				return fmt.Errorf("character %d: %w", i, err)
			}
			fields = append(fields, v)
			i += n
		}
		if line > 0 {
			return fmt.Errorf("character %d: a mapping on generated line %d; a WebAssembly source map has one line, whose columns are module offsets", start, line+1)
		}
		if len(sm.segs) >= maxSourceMapSegments {
			return fmt.Errorf("character %d: more than %d segments", start, maxSourceMapSegments)
		}
		col += fields[0]
		if col < 0 {
			return fmt.Errorf("character %d: negative generated column (module offset) %d", start, col)
		}
		seg := smSegment{offset: uint64(col), source: -1}
		switch len(fields) {
		case 1:
		case 4, 5:
			src += fields[1]
			sline += fields[2]
			scolumn += fields[3]
			if src < 0 || src >= int64(len(sm.sources)) {
				return fmt.Errorf("character %d: source index %d, but sources has %d entries", start, src, len(sm.sources))
			}
			if sline < 0 || sline > 1<<32-1 || scolumn < 0 || scolumn > 1<<32-1 {
				return fmt.Errorf("character %d: source position %d:%d out of range", start, sline, scolumn)
			}
			seg.source, seg.line, seg.column = int32(src), uint32(sline), uint32(scolumn)
		default:
			return fmt.Errorf("character %d: a segment has %d fields, want 1, 4 or 5", start, len(fields))
		}
		sm.segs = append(sm.segs, seg)
	}
	sort.SliceStable(sm.segs, func(i, j int) bool { return sm.segs[i].offset < sm.segs[j].offset })
	return nil
}

// vlq decodes one base64 VLQ value from the start of s and returns it with
// the number of characters read.
func vlq(s string) (int64, int, error) {
	var v uint64
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base64Alphabet, s[i])
		if d < 0 {
			return 0, 0, fmt.Errorf("%q is not a base64 VLQ digit", s[i])
		}
		if i >= 7 { // 7 digits carry 35 bits: more than any offset or line
			return 0, 0, errors.New("VLQ value too long")
		}
		v |= uint64(d&31) << (5 * i)
		if d&32 == 0 {
			n := int64(v >> 1)
			if v&1 != 0 {
				n = -n
			}
			return n, i + 1, nil
		}
	}
	return 0, 0, errors.New("VLQ value cut short")
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// Lookup returns the source position of module offset off: the mapping at
// or below off, if it is not below low (the start of the function
// containing off, so that a function without mappings does not borrow its
// predecessor's). Lines and columns are 1-based.
func (sm *SourceMap) Lookup(off, low uint64) (file string, line, column int, ok bool) {
	i := sort.Search(len(sm.segs), func(i int) bool { return sm.segs[i].offset > off }) - 1
	if i < 0 {
		return "", 0, 0, false
	}
	s := sm.segs[i]
	if s.offset < low || s.source < 0 {
		return "", 0, 0, false
	}
	return sm.sources[s.source], int(s.line) + 1, int(s.column) + 1, true
}

// dataURLSourceMap decodes a sourceMappingURL that carries the map itself
// ("data:application/json;base64,…").
func dataURLSourceMap(url string) ([]byte, bool, error) {
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		return nil, false, nil
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, true, errors.New("data URL without a comma")
	}
	if strings.HasSuffix(meta, ";base64") {
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, true, fmt.Errorf("data URL: %w", err)
		}
		return b, true, nil
	}
	return []byte(data), true, nil
}
