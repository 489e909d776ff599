package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// prettyJSON indents JSON for people: containers that fit on a line
// (a header pair, a {"base64"} value, a short list) stay on one line,
// everything else is indented by two spaces. Key order is kept.
func prettyJSON(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := pretty(&b, raw, ""); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

const inlineWidth = 96

func pretty(b *bytes.Buffer, raw []byte, indent string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return errors.New("empty JSON value")
	}
	if raw[0] != '{' && raw[0] != '[' {
		return writeInline(b, raw)
	}
	if len(raw) <= inlineWidth && depth(raw) <= 2 {
		return writeInline(b, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	open, _ := dec.Token()
	obj := open == json.Delim('{')
	closer := byte(']')
	if obj {
		closer = '}'
	}
	b.WriteByte(raw[0])
	n := 0
	for dec.More() {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n" + indent + "  ")
		if obj {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			writeString(b, key.(string))
			b.WriteString(": ")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if err := pretty(b, v, indent+"  "); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		b.WriteString("\n" + indent)
	}
	b.WriteByte(closer)
	return nil
}

// depth is the nesting depth of a compact JSON value.
func depth(raw []byte) int {
	d, maxd, inStr, esc := 0, 0, false, false
	for _, c := range raw {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			d++
			maxd = max(maxd, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return maxd
}

// writeInline writes a value on one line with ", " and ": " separators.
func writeInline(b *bytes.Buffer, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		obj bool
		n   int
	}
	var st []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		closing := tok == json.Delim('}') || tok == json.Delim(']')
		if len(st) > 0 && !closing {
			f := &st[len(st)-1]
			switch {
			case f.obj && f.n%2 == 1:
				b.WriteString(": ")
			case f.n > 0:
				b.WriteString(", ")
			}
			f.n++
		}
		switch t := tok.(type) {
		case json.Delim:
			b.WriteByte(byte(t))
			if closing {
				st = st[:len(st)-1]
			} else {
				st = append(st, frame{obj: t == '{'})
			}
		case string:
			writeString(b, t)
		case json.Number:
			b.WriteString(t.String())
		case bool:
			if t {
				b.WriteString("true")
			} else {
				b.WriteString("false")
			}
		case nil:
			b.WriteString("null")
		}
	}
}

// writeString writes a JSON string without HTML escaping.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}
