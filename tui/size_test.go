package tui

import (
	"testing"
	"unsafe"
)

// The memory budget (a million events in less than the log's size) rests
// on these sizes; a field added carelessly shows here first.
func TestCompactSizes(t *testing.T) {
	if got := unsafe.Sizeof(row{}); got != 40 {
		t.Errorf("row is %d bytes, want 40", got)
	}
	if got := unsafe.Sizeof(item{}); got != 28 {
		t.Errorf("item is %d bytes, want 28", got)
	}
}
