package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Styles use the 16 basic ANSI colours, which every colour terminal has;
// bubbletea drops them on terminals without colour and under NO_COLOR. No
// meaning rests on colour alone: the cursor row is also reversed and marked
// with '>', and bad rows carry '!', '✗' or '⚠'.
var (
	stCursor  = lipgloss.NewStyle().Reverse(true)
	stBad     = lipgloss.NewStyle().Foreground(lipgloss.Red)
	stWarn    = lipgloss.NewStyle().Foreground(lipgloss.Yellow)
	stGood    = lipgloss.NewStyle().Foreground(lipgloss.Green)
	stDim     = lipgloss.NewStyle().Faint(true)
	stTitle   = lipgloss.NewStyle().Bold(true)
	stTab     = lipgloss.NewStyle().Padding(0, 1)
	stTabOn   = lipgloss.NewStyle().Padding(0, 1).Bold(true).Reverse(true)
	stStatus  = lipgloss.NewStyle().Reverse(true)
	stMatch   = lipgloss.NewStyle().Underline(true).Bold(true)
	stCurLine = lipgloss.NewStyle().Bold(true)
	stFunc    = lipgloss.NewStyle().Foreground(lipgloss.Cyan)
	stFile    = lipgloss.NewStyle().Foreground(lipgloss.Blue)
)

// fit truncates s to width columns and pads it to exactly width.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		s = ansi.Truncate(s, width, "…")
		w = ansi.StringWidth(s)
	}
	if w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// cut truncates s to width columns without padding.
func cut(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > width {
		return ansi.Truncate(s, width, "…")
	}
	return s
}

// rule is a horizontal line with a title.
func rule(title string, width int) string {
	if title == "" {
		return stDim.Render(strings.Repeat("─", max(width, 0)))
	}
	t := "─ " + title + " "
	return stDim.Render(cut(t, width) + strings.Repeat("─", max(width-ansi.StringWidth(t), 0)))
}

// cursorRow renders a list row: '>' and reversed when it is the cursor.
func cursorRow(s string, width int, on bool) string {
	if on {
		return stCursor.Render(fit("> "+ansi.Strip(s), width))
	}
	return fit("  "+s, width)
}

// wrap breaks s into lines of at most width columns.
func wrap(s string, width int) []string {
	if width <= 0 {
		return nil
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		w := ansi.Wrap(line, width, " ,")
		out = append(out, strings.Split(w, "\n")...)
	}
	return out
}

// sanitize makes text from a log safe to put on a terminal: a log line can
// hold anything, including escape sequences that would move the cursor or
// change colours. Tabs become spaces, newlines stay (views cut or wrap
// there), other control characters and invalid UTF-8 become visible
// escapes.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\t':
			b.WriteString("    ")
		case r == '\r':
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
