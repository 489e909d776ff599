package tracer

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestJSONWriterRequiredFields checks that the fields DESIGN §3.2 requires
// of a kind are written when they are empty, and only those.
func TestJSONWriterRequiredFields(t *testing.T) {
	tests := []struct {
		name string
		e    Event
		want map[string]any
	}{
		{"plugin log cut before its message", Event{Kind: KindPluginLog, Level: "debug", Line: 4, Plugin: "shim shim"},
			map[string]any{"kind": "plugin_log", "level": "debug", "line": 4.0, "plugin": "shim shim", "message": ""}},
		{"plugin log without prefix ids", Event{Kind: KindPluginLog, Level: "info", Message: "ready"},
			map[string]any{"kind": "plugin_log", "level": "info", "plugin": "", "message": "ready"}},
		{"crash with no frames", Event{Kind: KindCrash, Level: "error", Callback: "proxy_on_log", Message: "Exception: unreachable", Runtime: "wamr"},
			map[string]any{"kind": "crash", "level": "error", "callback": "proxy_on_log", "message": "Exception: unreachable", "runtime": "wamr", "frames": []any{}}},
		{"crash without a header", Event{Kind: KindCrash, Runtime: "v8", Frames: []Frame{{Index: 0, Offset: "0x10", Function: "f"}}},
			map[string]any{"kind": "crash", "runtime": "v8", "callback": "", "message": "",
				"frames": []any{map[string]any{"index": 0.0, "offset": "0x10", "function": "f"}}}},
		{"complete plugin log", Event{Kind: KindPluginLog, Level: "info", Plugin: "p", Message: "m"},
			map[string]any{"kind": "plugin_log", "level": "info", "plugin": "p", "message": "m"}},
		{"call", Event{Kind: KindCall, Direction: VMToHost, Function: "env.proxy_log", Args: []Number{"1"}},
			map[string]any{"kind": "call", "direction": "vm->host", "function": "env.proxy_log", "args": []any{1.0}}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		jw := NewJSONWriter(&b)
		if err := jw.Write(&tt.e); err != nil {
			t.Fatal(err)
		}
		jw.Flush()
		var got map[string]any
		if err := json.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v in %s", tt.name, err, b.Bytes())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %s\nwant %v", tt.name, b.Bytes(), tt.want)
		}
	}
}
