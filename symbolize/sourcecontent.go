package symbolize

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// smContent is the text a source map embeds for its sources (ECMA-426
// §4.1.1 "sourcesContent", parallel to "sources"; AssemblyScript and
// Emscripten embed every source). It is kept raw until a text is asked
// for: a symbolizer needs only the mappings.
type smContent struct {
	raw   json.RawMessage
	names []string // "sources" as listed, without sourceRoot ("" for null)

	once  sync.Once
	texts []*string // nil entries: the map embeds no text for that source
	err   error
}

// Content returns the text the map embeds for file: a name Lookup returns
// (sourceRoot applied) or the name as "sources" lists it. ok is false when
// the map has no text for file; err says why none of its texts can be
// read (a "sourcesContent" that is not an array of strings and nulls).
func (sm *SourceMap) Content(file string) (text []byte, ok bool, err error) {
	c := &sm.content
	c.once.Do(func() {
		if len(c.raw) == 0 || string(c.raw) == "null" {
			return
		}
		if err := json.Unmarshal(c.raw, &c.texts); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				err = fmt.Errorf("want an array of strings and nulls, got a JSON %s", te.Value)
			}
			c.texts, c.err = nil, fmt.Errorf("sourcesContent: %w", err)
		}
		c.raw = nil
	})
	if c.err != nil || file == "" {
		return nil, false, c.err
	}
	for _, names := range [][]string{sm.sources, c.names} {
		for i, n := range names {
			if n == file && i < len(c.texts) && c.texts[i] != nil {
				return []byte(*c.texts[i]), true, nil
			}
		}
	}
	return nil, false, nil
}

// SourceContent returns the text of source file file as the module's source
// map embeds it, file being a name the map gives (Lookup's frames name
// them so). ok is false when the module has no source map or the map
// embeds no text for file; a "sourcesContent" that cannot be read is a
// warning, once.
func (m *Module) SourceContent(file string) (text []byte, ok bool) {
	sm := m.sourceMap()
	if sm == nil {
		return nil, false
	}
	text, ok, err := sm.Content(file)
	if err != nil {
		m.warn(fmt.Sprintf("%s: source map: %v; the sources it embeds are not shown", m.name, err))
	}
	return text, ok
}
