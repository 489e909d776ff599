package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

type viewID int

const (
	viewCrashes viewID = iota
	viewTimeline
	viewLogs
	viewMetrics
	viewReplay
	numViews
)

var viewNames = [numViews]string{"Crashes", "Timeline", "Logs", "Metrics", "Replay"}

// ViewNames lists the views by the names Options.View accepts.
func ViewNames() []string {
	out := make([]string, numViews)
	for i, n := range viewNames {
		out[i] = strings.ToLower(n)
	}
	return out
}

func parseView(s string) (viewID, bool) {
	for i, n := range viewNames {
		if strings.EqualFold(s, n) {
			return viewID(i), true
		}
	}
	return 0, false
}

// Options configure the UI.
type Options struct {
	// Files finds the source code frames name; nil looks files up only as
	// named.
	Files *SourceFiles
	// View is the view shown first (see ViewNames); "" means Crashes, or
	// Logs for a live source.
	View string
	// MetricsEvery is how often a Metered source is sampled (default 2 s).
	MetricsEvery time.Duration
	// KeyMap replaces DefaultKeyMap.
	KeyMap *KeyMap
}

// Model is the root model: it owns the event store and the state of every
// view, routes keys to the view on screen, and starts every IO (reading
// the source, resolving frames, reading source files, stepping a replay,
// sampling metrics) as a command whose answer comes back as a message.
type Model struct {
	src  Source
	rep  Replayer
	met  Metered
	info Info
	opts Options
	keys KeyMap
	help help.Model

	ctx    context.Context
	cancel context.CancelFunc

	width, height int
	view          viewID
	st            *store

	loading  bool   // the source may still send events
	srcErr   string // why the source stopped, if it failed
	follow   bool   // lists stick to the newest event
	showHelp bool
	quitting bool
	closeErr error

	searching bool
	input     textinput.Model
	search    [numViews]search
	flash     string // a one-off message in the status bar

	crashes  crashesView
	timeline timelineView
	logs     logsView
	metrics  metricsView
	replay   replayView

	sources map[string]*SourceText // loaded source files; nil value: loading
}

// New returns the model for src.
func New(src Source, opts Options) *Model {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{
		src: src, info: src.Info(), opts: opts, keys: DefaultKeyMap(),
		ctx: ctx, cancel: cancel,
		st: newStore(), loading: true,
		sources: map[string]*SourceText{},
		width:   80, height: 24,
	}
	if opts.KeyMap != nil {
		m.keys = *opts.KeyMap
	}
	if opts.MetricsEvery <= 0 {
		m.opts.MetricsEvery = 2 * time.Second
	}
	m.rep, _ = src.(Replayer)
	m.met, _ = src.(Metered)
	m.follow = m.info.Live
	m.help = help.New()
	m.help.Styles = help.Styles{
		ShortKey: lipgloss.NewStyle().Bold(true), ShortDesc: lipgloss.NewStyle(),
		ShortSeparator: stDim, Ellipsis: stDim,
		FullKey: lipgloss.NewStyle().Bold(true), FullDesc: lipgloss.NewStyle(), FullSeparator: stDim,
	}
	m.input = textinput.New()
	m.input.Prompt = "/"
	is := m.input.Styles()
	is.Cursor.Blink = false
	m.input.SetStyles(is)
	m.logs.init()
	m.metrics.init()
	if v, ok := parseView(opts.View); ok {
		m.view = v
	} else if m.info.Live {
		m.view = viewLogs
	}
	return m
}

// Messages from commands.
type (
	batchMsg struct {
		b   Batch
		err error
	}
	framesMsg struct {
		crash  int
		frames [][]loc.Frame
		err    error
	}
	sourceMsg struct {
		name string
		text SourceText
	}
	replayMsg struct {
		state ReplayState
		err   error
		ran   bool // a step, continue or restart, not just a look
	}
	metricsMsg struct {
		at      time.Time
		metrics []Metric
		err     error
	}
	metricsTickMsg struct{}
	closedMsg      struct{ err error }
)

// Init starts reading the source.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.nextBatch()}
	if m.rep != nil {
		rep, ctx := m.rep, m.ctx
		cmds = append(cmds, func() tea.Msg {
			s, err := rep.State(ctx)
			return replayMsg{state: s, err: err}
		})
	}
	if m.met != nil {
		cmds = append(cmds, m.sampleMetrics())
	}
	return tea.Batch(cmds...)
}

func (m *Model) nextBatch() tea.Cmd {
	src, ctx := m.src, m.ctx
	return func() tea.Msg {
		b, err := src.Next(ctx)
		return batchMsg{b, err}
	}
}

func (m *Model) sampleMetrics() tea.Cmd {
	met, ctx := m.met, m.ctx
	return func() tea.Msg {
		ms, err := met.Metrics(ctx)
		return metricsMsg{time.Now(), ms, err}
	}
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		m.input.SetWidth(max(msg.Width-2, 1))
	case batchMsg:
		cmds = append(cmds, m.ingest(msg))
	case framesMsg:
		c := &m.st.crashes[msg.crash]
		c.resolved, c.done = msg.frames, true
		if msg.err != nil {
			c.err = msg.err.Error()
		}
	case sourceMsg:
		t := msg.text
		m.sources[msg.name] = &t
	case replayMsg:
		m.replay.busy = false
		if msg.err != nil {
			m.replay.err = msg.err.Error()
		} else {
			m.replay.err = ""
			m.replay.state = msg.state
			m.replay.have = true
		}
		if m.met != nil && msg.ran {
			cmds = append(cmds, m.sampleMetrics())
		}
		if msg.ran {
			// The lists show what the step just ran.
			m.toEnd()
		}
	case metricsMsg:
		m.metrics.add(msg)
		if m.info.Live {
			cmds = append(cmds, tea.Tick(m.opts.MetricsEvery, func(time.Time) tea.Msg { return metricsTickMsg{} }))
		}
	case searchStepMsg:
		if s := &m.search[msg.view]; s.pending != 0 {
			cmds = append(cmds, m.findNext(msg.view, s.pending > 0))
		}
	case metricsTickMsg:
		if !m.quitting {
			cmds = append(cmds, m.sampleMetrics())
		}
	case closedMsg:
		m.closeErr = msg.err
		return m, tea.Quit
	case tea.KeyPressMsg:
		if cmd := m.key(msg); cmd != nil {
			cmds = append(cmds, cmd)
		}
	case tea.PasteMsg:
		if m.searching {
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			cmds = append(cmds, cmd)
		}
	}
	cmds = append(cmds, m.sync())
	return m, tea.Batch(cmds...)
}

// ingest adds a batch of events and asks for the next one.
func (m *Model) ingest(msg batchMsg) tea.Cmd {
	if msg.err != nil {
		m.loading = false
		if !errors.Is(msg.err, io.EOF) && !errors.Is(msg.err, context.Canceled) {
			m.srcErr = msg.err.Error()
		}
		return nil
	}
	if msg.b.Reset {
		m.st.reset()
		m.crashes = crashesView{}
		m.timeline = timelineView{}
		m.logs.reset()
		m.search = [numViews]search{}
	}
	for i := range msg.b.Events {
		m.st.add(&msg.b.Events[i])
	}
	// A live session's description changes (pods come and go).
	m.info = m.src.Info()
	m.logs.extend(m.st)
	if m.follow {
		m.toEnd()
	}
	return m.nextBatch()
}

// key handles a key press.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if m.quitting {
		return nil
	}
	if m.searching {
		switch msg.String() {
		case "enter":
			m.searching = false
			m.input.Blur()
			return m.startSearch(m.input.Value())
		case "esc":
			m.searching = false
			m.input.Blur()
			return nil
		case "ctrl+c":
			return m.quit()
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return cmd
	}
	m.flash = ""
	if m.showHelp {
		switch {
		case key.Matches(msg, k.Quit):
			return m.quit()
		case key.Matches(msg, k.Help, k.Back):
			m.showHelp = false
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.showHelp = true
		return nil
	case key.Matches(msg, k.NextView):
		m.view = (m.view + 1) % numViews
		return nil
	case key.Matches(msg, k.PrevView):
		m.view = (m.view + numViews - 1) % numViews
		return nil
	case key.Matches(msg, k.ViewKeys):
		m.view = viewID(msg.String()[0] - '1')
		return nil
	case key.Matches(msg, k.Search):
		if !m.searchable() {
			m.flash = "nothing to search in " + viewNames[m.view]
			return nil
		}
		m.searching = true
		m.input.SetValue(m.search[m.view].query)
		m.input.CursorEnd()
		return m.input.Focus()
	case key.Matches(msg, k.Next):
		return m.findNext(m.view, true)
	case key.Matches(msg, k.Prev):
		return m.findNext(m.view, false)
	case key.Matches(msg, k.Follow):
		m.follow = !m.follow
		if m.follow {
			m.toEnd()
		}
		return nil
	}
	switch m.view {
	case viewCrashes:
		return m.crashesKey(msg)
	case viewTimeline:
		return m.timelineKey(msg)
	case viewLogs:
		return m.logsKey(msg)
	case viewMetrics:
		m.metrics.cur.key(msg, k, len(m.metrics.names), m.metricsRows())
	case viewReplay:
		return m.replayKey(msg)
	}
	return nil
}

// moveKey applies the movement keys to a list of n rows shown h at a time,
// and reports whether msg was one. Moving up stops following.
func (c *cursor) key(msg tea.KeyPressMsg, k KeyMap, n, h int) bool {
	switch {
	case key.Matches(msg, k.Up):
		c.pos--
	case key.Matches(msg, k.Down):
		c.pos++
	case key.Matches(msg, k.PageUp):
		c.pos -= max(h-1, 1)
	case key.Matches(msg, k.PageDown):
		c.pos += max(h-1, 1)
	case key.Matches(msg, k.Top):
		c.pos = 0
	case key.Matches(msg, k.Bottom):
		c.pos = n - 1
	default:
		return false
	}
	c.fix(n, h)
	return true
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.cancel()
	src := m.src
	return func() tea.Msg { return closedMsg{src.Close()} }
}

// CloseErr is the error the source's Close returned when the user quit
// (for attach: a logger level that could not be restored).
func (m *Model) CloseErr() error { return m.closeErr }

// toEnd moves the lists that follow new events to their last row.
func (m *Model) toEnd() {
	m.timeline.cur.pos = len(m.st.tl.visible) - 1
	m.timeline.cur.fix(len(m.st.tl.visible), m.contentHeight()-1)
	m.logs.cur.pos = len(m.logs.rows) - 1
	m.logs.cur.fix(len(m.logs.rows), m.logsRows())
}

// sync starts the IO the screen now needs: frames for the selected crash,
// the source file of the selected frame.
func (m *Model) sync() tea.Cmd {
	var cmds []tea.Cmd
	if c := m.selectedCrash(); c >= 0 {
		// The crashes on screen in the list, so each line can say where.
		lv := &m.crashes.list
		for i := max(lv.top, 0); i < min(lv.top+m.crashLayout().list, len(m.st.crashes)); i++ {
			if cr := &m.st.crashes[i]; !cr.done && !m.crashes.pending[i] {
				if m.crashes.pending == nil {
					m.crashes.pending = map[int]bool{}
				}
				m.crashes.pending[i] = true
				cmds = append(cmds, m.resolve(i, cr.ev.Frames))
			}
		}
		cr := &m.st.crashes[c]
		if cr.done {
			// Every file of the crash: the crash list previews the first
			// frame whose source can be read.
			for _, fl := range m.frameLines(cr) {
				if f := fl.f.File; f != "" {
					if _, ok := m.sources[f]; !ok {
						m.sources[f] = nil
						cmds = append(cmds, m.openSource(f))
					}
				}
			}
		}
	}
	return tea.Batch(cmds...)
}

func (m *Model) resolve(c int, frames []tracer.Frame) tea.Cmd {
	src, ctx := m.src, m.ctx
	frames = append([]tracer.Frame(nil), frames...)
	return func() tea.Msg {
		out := make([][]loc.Frame, len(frames))
		var errs []string
		for i, f := range frames {
			fs, err := src.Frames(ctx, f)
			if err != nil {
				errs = append(errs, fmt.Sprintf("frame %d: %v", f.Index, err))
				continue
			}
			out[i] = fs
		}
		var err error
		if len(errs) > 0 {
			err = errors.New(strings.Join(errs, "; "))
		}
		return framesMsg{c, out, err}
	}
}

func (m *Model) openSource(name string) tea.Cmd {
	files := m.opts.Files
	return func() tea.Msg { return sourceMsg{name, files.Open(name)} }
}

// contentHeight is the number of rows between the tab bar and the status
// bar.
func (m *Model) contentHeight() int { return max(m.height-3, 1) }

// View renders the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "wasmdbg: " + m.info.Name
	return v
}

func (m *Model) render() string {
	w, h := m.width, m.contentHeight()
	var body string
	switch {
	case m.showHelp:
		body = m.renderHelp(w, h)
	default:
		switch m.view {
		case viewCrashes:
			body = m.renderCrashes(w, h)
		case viewTimeline:
			body = m.renderTimeline(w, h)
		case viewLogs:
			body = m.renderLogs(w, h)
		case viewMetrics:
			body = m.renderMetrics(w, h)
		case viewReplay:
			body = m.renderReplay(w, h)
		}
	}
	lines := strings.Split(body, "\n")
	for len(lines) < h {
		lines = append(lines, "")
	}
	lines = lines[:h]
	for i, l := range lines {
		lines[i] = fit(l, w)
	}
	var b strings.Builder
	b.WriteString(fit(m.renderTabs(), w))
	b.WriteByte('\n')
	b.WriteString(strings.Join(lines, "\n"))
	b.WriteByte('\n')
	b.WriteString(m.renderStatus(w))
	b.WriteByte('\n')
	if m.searching {
		b.WriteString(fit(m.input.View(), w))
	} else {
		b.WriteString(fit(m.help.View(keyHelp{m.keys, m.view}), w))
	}
	return b.String()
}

func (m *Model) renderTabs() string {
	var parts []string
	for i, n := range viewNames {
		label := fmt.Sprintf("%d %s", i+1, n)
		if viewID(i) == viewCrashes && len(m.st.crashes) > 0 {
			label += fmt.Sprintf(" (%d)", len(m.st.crashes))
		}
		if viewID(i) == m.view && !m.showHelp {
			parts = append(parts, stTabOn.Render(label))
		} else if !m.viewUseful(viewID(i)) {
			parts = append(parts, stTab.Inherit(stDim).Render(label))
		} else {
			parts = append(parts, stTab.Render(label))
		}
	}
	return strings.Join(parts, "")
}

// viewUseful is false for the views a source has nothing for.
func (m *Model) viewUseful(v viewID) bool {
	switch v {
	case viewMetrics:
		return m.met != nil
	case viewReplay:
		return m.rep != nil
	}
	return true
}

func (m *Model) renderStatus(w int) string {
	parts := []string{fmt.Sprintf("%s %s", m.info.Kind, m.info.Name)}
	switch {
	case m.quitting && m.info.Kind == KindAttach:
		parts = append(parts, "restoring logger levels…")
	case m.info.Notice != "":
		// The restore reminder matters more than the counts: it goes
		// where a narrow terminal still shows it.
		parts = append(parts, m.info.Notice)
	}
	parts = append(parts, fmt.Sprintf("%s events", thousands(m.st.rows.len())))
	switch n := len(m.st.crashes); n {
	case 1:
		parts = append(parts, "1 crash")
	default:
		parts = append(parts, fmt.Sprintf("%d crashes", n))
	}
	switch {
	case m.quitting && m.info.Kind == KindAttach:
	case m.quitting:
		parts = append(parts, "closing…")
	case m.srcErr != "":
		parts = append(parts, "error: "+m.srcErr)
	case m.rep != nil && m.replay.busy:
		parts = append(parts, "running…")
	case m.rep != nil && m.replay.have:
		rs := m.replay.state
		switch {
		case rs.Done:
			parts = append(parts, "replay done")
		case rs.Trapped:
			parts = append(parts, "trapped; next "+rs.Next)
		default:
			parts = append(parts, "paused before "+rs.Next)
		}
	case m.loading && m.info.Live && m.follow:
		parts = append(parts, "following")
	case m.loading && m.info.Live:
		parts = append(parts, "paused (f: follow)")
	case m.loading:
		parts = append(parts, "loading…")
	default:
		parts = append(parts, "loaded")
	}
	if s := m.search[m.view]; s.query != "" {
		parts = append(parts, s.status())
	}
	if m.flash != "" {
		parts = append(parts, m.flash)
	}
	return stStatus.Render(fit(" "+strings.Join(parts, " │ "), w))
}

func (m *Model) renderHelp(w, h int) string {
	hm := m.help
	hm.ShowAll = true
	var b strings.Builder
	b.WriteString(stTitle.Render("Keys") + stDim.Render(" (esc or ? to close)") + "\n\n")
	b.WriteString(hm.View(keyHelp{m.keys, m.view}))
	b.WriteString("\n\n")
	for _, l := range wrap(viewHelp[m.view], w-2) {
		b.WriteString(" " + l + "\n")
	}
	return b.String()
}

// viewHelp says what each view shows, under the key list.
var viewHelp = [numViews]string{
	viewCrashes:  "Crashes: every trap with its callback, trap text, the plugin's panic message and its frames, symbolized. enter opens a crash's frames, enter again a frame's source code; t jumps to the callback that trapped in the Timeline.",
	viewTimeline: "Timeline: callbacks in time order (host->vm), each expandable into the host calls it made (vm->host) with decoded arguments, statuses and durations. '!' marks a non-Ok status, '✗' a trap, '⚠' a finding. t jumps between a crash and its callback.",
	viewLogs:     "Logs: plugin logs and the other lines of the source. l raises the minimum level, p picks one plugin.",
	viewMetrics:  "Metrics: Envoy's Wasm stats and the plugin's custom metrics, sampled over time (attach), or the metrics the plugin defined (replay).",
	viewReplay:   "Replay: step callback by callback, continue to the trap, restart; the current stream's headers and body as the plugin sees them.",
}

// thousands formats n with thin separators: 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// cursor is the selected row of a list and the first row on screen.
type cursor struct{ pos, top int }

// fix keeps pos inside n rows and on screen in a window of h rows.
func (c *cursor) fix(n, h int) {
	h = max(h, 1)
	if n <= 0 {
		c.pos, c.top = 0, 0
		return
	}
	c.pos = min(max(c.pos, 0), n-1)
	if c.pos < c.top {
		c.top = c.pos
	}
	if c.pos >= c.top+h {
		c.top = c.pos - h + 1
	}
	c.top = min(max(c.top, 0), max(n-h, 0))
}
