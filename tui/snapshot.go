package tui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// SnapshotOptions say what Snapshot renders.
type SnapshotOptions struct {
	View          string   // see ViewNames; "" for the default view
	Width, Height int      // the screen size; 0 means 120x40
	Keys          []string // keys pressed after loading, named as ParseKey reads them
}

// Snapshot loads src to its end without a terminal, presses the given
// keys, and returns the screen as plain text: `wasmdbg tui --snapshot`,
// for scripts, documentation and tests. src must end (Next returns
// io.EOF); a live source never does.
func Snapshot(ctx context.Context, src Source, opts Options, so SnapshotOptions) (string, error) {
	if src.Info().Live {
		return "", fmt.Errorf("a snapshot needs a source that ends; %s %s is live", src.Info().Kind, src.Info().Name)
	}
	if so.View != "" {
		if _, ok := parseView(so.View); !ok {
			return "", fmt.Errorf("unknown view %q (want one of %s)", so.View, strings.Join(ViewNames(), ", "))
		}
	}
	msgs := make([]tea.Msg, len(so.Keys))
	for i, k := range so.Keys {
		msg, err := ParseKey(k)
		if err != nil {
			return "", err
		}
		msgs[i] = msg
	}
	opts.View = so.View
	m := New(src, opts)
	defer m.cancel()
	w, h := so.Width, so.Height
	if w <= 0 || h <= 0 {
		w, h = 120, 40
	}
	run := func(cmd tea.Cmd) error {
		queue := []tea.Cmd{cmd}
		for len(queue) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			c := queue[0]
			queue = queue[1:]
			if c == nil {
				continue
			}
			switch msg := c().(type) {
			case nil, tea.QuitMsg:
			case tea.BatchMsg:
				queue = append(queue, msg...)
			default:
				_, next := m.Update(msg)
				queue = append(queue, next)
			}
		}
		return nil
	}
	if err := run(m.Init()); err != nil {
		return "", err
	}
	_, cmd := m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	if err := run(cmd); err != nil {
		return "", err
	}
	if m.srcErr != "" {
		return "", fmt.Errorf("%s", m.srcErr)
	}
	for _, msg := range msgs {
		_, cmd := m.Update(msg)
		if err := run(cmd); err != nil {
			return "", err
		}
	}
	return ansi.Strip(m.View().Content) + "\n", nil
}

// keyNames are the special keys ParseKey knows, as bubbletea names them.
var keyNames = map[string]tea.KeyPressMsg{
	"enter":     {Code: tea.KeyEnter},
	"esc":       {Code: tea.KeyEscape},
	"tab":       {Code: tea.KeyTab},
	"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
	"up":        {Code: tea.KeyUp},
	"down":      {Code: tea.KeyDown},
	"left":      {Code: tea.KeyLeft},
	"right":     {Code: tea.KeyRight},
	"pgup":      {Code: tea.KeyPgUp},
	"pgdown":    {Code: tea.KeyPgDown},
	"home":      {Code: tea.KeyHome},
	"end":       {Code: tea.KeyEnd},
	"space":     {Code: tea.KeySpace, Text: " "},
	"ctrl+c":    {Code: 'c', Mod: tea.ModCtrl},
}

// ParseKey reads a key as bubbletea names it ("enter", "shift+tab", "N")
// or a single printable character.
func ParseKey(s string) (tea.KeyPressMsg, error) {
	if k, ok := keyNames[s]; ok {
		return k, nil
	}
	r := []rune(s)
	if len(r) != 1 || r[0] < ' ' {
		return tea.KeyPressMsg{}, fmt.Errorf("unknown key %q (a character, or one of enter, esc, tab, shift+tab, up, down, left, right, pgup, pgdown, home, end, space)", s)
	}
	return tea.KeyPressMsg{Code: r[0], Text: s}, nil
}
