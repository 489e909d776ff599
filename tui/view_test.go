package tui

import (
	"fmt"
	"testing"
)

func TestViewGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, tc := range []struct {
			name string
			keys []string
		}{
			{"crashes", nil},
			{"crashes-frames", []string{"enter", "down"}},
			{"crashes-inline", []string{"down", "enter"}},
			{"crashes-source", []string{"enter", "down", "enter"}},
			{"timeline", []string{"2"}},
			{"timeline-expanded", []string{"2", "down", "down", "down", "enter"}},
			{"crash-to-callback", []string{"down", "t"}},
			{"logs", []string{"3"}},
			{"metrics", []string{"4"}},
			{"replay", []string{"5"}},
			{"help", []string{"?"}},
		} {
			name := fmt.Sprintf("%s-%dx%d", tc.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				m, _ := newTestModel(t, size[0], size[1], scenario())
				press(t, m, tc.keys...)
				golden(t, name, screen(m))
			})
		}
	}
}
