package replay

import _ "embed"

// demoCapture is the capture `wasmdbg demo` replays through the C++ fixture:
// a request that passes, one the plugin denies, one that waits for an
// http_call, and the one that makes it panic.
//
//go:embed demo_capture.json
var demoCapture []byte

// DemoCapture returns the demo's capture.
func DemoCapture() *Capture {
	c, err := ParseCapture("demo_capture.json", demoCapture)
	if err != nil {
		panic("BUG: the embedded demo capture does not parse: " + err.Error())
	}
	return c
}
