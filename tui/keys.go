package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the UI answers, with its help text. Update matches
// keys only through these bindings and the help screen is generated from
// them, so the two cannot disagree.
type KeyMap struct {
	// Everywhere.
	Help, Quit         key.Binding
	NextView, PrevView key.Binding
	ViewKeys           key.Binding // 1-5: straight to a view
	Up, Down           key.Binding
	PageUp, PageDown   key.Binding
	Top, Bottom        key.Binding
	Open, Back         key.Binding
	Search, Next, Prev key.Binding
	Follow             key.Binding

	// Crashes and Timeline.
	Jump     key.Binding // crash <-> the callback that trapped
	Collapse key.Binding
	// Logs.
	Level, Plugin key.Binding
	// Replay.
	Step, Continue, Restart key.Binding
}

// DefaultKeyMap is the key map the UI starts with.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		NextView: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "view")),
		PrevView: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous view")),
		ViewKeys: key.NewBinding(key.WithKeys("1", "2", "3", "4", "5"), key.WithHelp("1-5", "go to view")),
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "first")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "last")),
		Open:     key.NewBinding(key.WithKeys("enter", "right"), key.WithHelp("enter", "open")),
		Back:     key.NewBinding(key.WithKeys("esc", "left"), key.WithHelp("esc", "back")),
		Search:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Next:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next match")),
		Prev:     key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "previous match")),
		Follow:   key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow new events")),
		Jump:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "jump crash↔callback")),
		Collapse: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "collapse all")),
		Level:    key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "minimum level")),
		Plugin:   key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "plugin filter")),
		Step:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "step")),
		Continue: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "continue to trap")),
		Restart:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart")),
	}
}

// keyHelp is the help of one view: the KeyMap with the bindings that do
// nothing there switched off. It implements help.KeyMap.
type keyHelp struct {
	k    KeyMap
	view viewID
}

// ShortHelp is the one-line help under the status bar.
func (h keyHelp) ShortHelp() []key.Binding {
	k := h.k
	switch h.view {
	case viewCrashes, viewTimeline:
		return []key.Binding{k.Help, k.Quit, k.NextView, k.Open, k.Back, k.Search, k.Jump}
	case viewLogs:
		return []key.Binding{k.Help, k.Quit, k.NextView, k.Open, k.Level, k.Plugin, k.Search}
	case viewReplay:
		return []key.Binding{k.Help, k.Quit, k.NextView, k.Step, k.Continue, k.Restart}
	}
	return []key.Binding{k.Help, k.Quit, k.NextView, k.Up, k.Down}
}

// FullHelp is the help screen: moving, searching, then the current view's
// own keys.
func (h keyHelp) FullHelp() [][]key.Binding {
	k := h.k
	third := []key.Binding{k.Search, k.Next, k.Prev}
	switch h.view {
	case viewCrashes:
		third = append(third, k.Jump)
	case viewTimeline:
		third = append(third, k.Jump, k.Collapse)
	case viewLogs:
		third = append(third, k.Level, k.Plugin)
	case viewReplay:
		third = append(third, k.Step, k.Continue, k.Restart)
	}
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.NextView, k.PrevView, k.ViewKeys, k.Open, k.Back, k.Follow},
		append(third, k.Help, k.Quit),
	}
}
