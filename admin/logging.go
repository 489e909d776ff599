package admin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Level is an spdlog level name exactly as Envoy prints and accepts it.
type Level string

// The levels Envoy knows, lowest first (spdlog::level::level_string_views).
const (
	LevelTrace    Level = "trace"
	LevelDebug    Level = "debug"
	LevelInfo     Level = "info"
	LevelWarning  Level = "warning"
	LevelError    Level = "error"
	LevelCritical Level = "critical"
	LevelOff      Level = "off"
)

// Levels lists every level in Envoy's order.
var Levels = []Level{LevelTrace, LevelDebug, LevelInfo, LevelWarning, LevelError, LevelCritical, LevelOff}

// ParseLevel reads a level as a person types it. Envoy itself accepts only
// its exact lowercase names; "warn" (what istioctl and most people write) is
// turned into "warning", and case is ignored.
func ParseLevel(s string) (Level, error) {
	l := Level(strings.ToLower(strings.TrimSpace(s)))
	if l == "warn" {
		return LevelWarning, nil
	}
	for _, k := range Levels {
		if l == k {
			return l, nil
		}
	}
	return "", fmt.Errorf("unknown level %q: want one of trace, debug, info, warning (or warn), error, critical, off", s)
}

// Rank orders levels: trace is 0, off is 6; an unknown level is -1.
func (l Level) Rank() int {
	for i, k := range Levels {
		if l == k {
			return i
		}
	}
	return -1
}

// Logger is one logger and its level, as in the "active loggers:" list.
type Logger struct {
	Name  string `json:"name"`
	Level Level  `json:"level"`
}

func (l Logger) String() string { return l.Name + "=" + string(l.Level) }

// Loggers is the "active loggers:" list, in Envoy's order.
type Loggers []Logger

// Get returns the level of the named logger.
func (ls Loggers) Get(name string) (Level, bool) {
	for _, l := range ls {
		if l.Name == name {
			return l.Level, true
		}
	}
	return "", false
}

// FineGrain reports whether the list is Envoy's fine-grain form
// (--enable-fine-grain-logging), which names source files instead of
// loggers: there is no "wasm" logger then.
func (ls Loggers) FineGrain() bool {
	for _, l := range ls {
		if strings.ContainsAny(l.Name, "/.") {
			return true
		}
	}
	return false
}

// ParseLoggers reads the body of a /logging answer: the "active loggers:"
// block of logs_handler.cc, one "  <name>: <level>" line per logger, after an
// optional error and usage text. Line numbers in errors count from 1.
func ParseLoggers(body []byte) (Loggers, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var out Loggers
	found := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !found {
			found = line == "active loggers:"
			continue
		}
		if line == "" {
			continue
		}
		rest, ok := strings.CutPrefix(line, "  ")
		name, lvl, ok2 := strings.Cut(rest, ": ")
		if !ok || !ok2 || name == "" {
			return nil, fmt.Errorf("line %d: %q is not a \"  <logger>: <level>\" line", n, snippet([]byte(line)))
		}
		l := Level(lvl)
		if l.Rank() < 0 {
			return nil, fmt.Errorf("line %d: logger %s has unknown level %q", n, name, lvl)
		}
		out = append(out, Logger{Name: name, Level: l})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New(`no "active loggers:" line`)
	}
	return out, nil
}

// LoggingError is Envoy's refusal of a /logging change: 400 with "error:
// <reason>" and a usage text (current Envoy), or 404 with only the usage text
// (Envoy before 1.25 or so, which gave no reason). Nothing was changed.
type LoggingError struct {
	Request string  // "POST /logging?wasm=bogus"
	Status  int     // 400, or 404 from older Envoys
	Message string  // Envoy's reason ("unknown logger name", …); "" if it gave none
	NoPaths bool    // the usage text has no paths= form: Envoy before 1.22
	Loggers Loggers // the list Envoy printed with the refusal
}

func (e *LoggingError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "unknown logger name or level (this envoy does not say which)"
	}
	return fmt.Sprintf("%s: envoy refused the change: %s", e.Request, msg)
}

// Loggers lists every logger and its level (POST /logging without a query,
// which is how Envoy lists them; GET is refused with 405).
func (c *Client) Loggers(ctx context.Context) (Loggers, error) {
	return c.logging(ctx, "")
}

// SetLevels changes the named loggers' levels in one request: ?<name>=<level>
// for one logger, ?paths=a:l1,b:l2 for several. Envoy applies a paths= batch
// all or nothing: an unknown name fails it before anything changes. Envoy
// releases before 1.22 have no paths= and read it as a logger name; then the
// changes are sent one logger per request, after checking every name, and a
// failure part way puts back the ones already changed. It returns the list
// Envoy printed after the change.
func (c *Client) SetLevels(ctx context.Context, changes ...Logger) (Loggers, error) {
	if len(changes) == 0 {
		return nil, errors.New("set levels: no logger given")
	}
	for _, ch := range changes {
		if err := checkQueryName(ch.Name); err != nil {
			return nil, err
		}
		if ch.Level.Rank() < 0 {
			return nil, fmt.Errorf("set levels: %s: unknown level %q", ch.Name, ch.Level)
		}
	}
	// Envoy reads the query without percent-decoding it (logs_handler.cc uses
	// Http::Utility::parseQueryString), so names, ':' and ',' go in raw.
	if len(changes) == 1 {
		return c.logging(ctx, changes[0].Name+"="+string(changes[0].Level))
	}
	pairs := make([]string, len(changes))
	for i, ch := range changes {
		if strings.ContainsAny(ch.Name, ",:") {
			return nil, fmt.Errorf("set levels: logger name %q contains ',' or ':', which paths= cannot carry", ch.Name)
		}
		pairs[i] = ch.Name + ":" + string(ch.Level)
	}
	ls, err := c.logging(ctx, "paths="+strings.Join(pairs, ","))
	var le *LoggingError
	if err == nil || !errors.As(err, &le) {
		return ls, err
	}
	// An Envoy that predates paths= reads it as a logger name and refuses;
	// its usage text then lacks the paths= line.
	if !le.NoPaths || !allKnown(le.Loggers, changes) {
		return nil, err
	}
	return c.setOneByOne(ctx, le.Loggers, changes)
}

// checkQueryName rejects logger names that cannot travel raw in a query.
func checkQueryName(name string) error {
	if name == "" {
		return errors.New("set levels: empty logger name")
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("&=#%?", r) {
			return fmt.Errorf("set levels: logger name %q: %q cannot be sent to envoy", name, r)
		}
	}
	return nil
}

func allKnown(ls Loggers, changes []Logger) bool {
	for _, ch := range changes {
		if _, ok := ls.Get(ch.Name); !ok {
			return false
		}
	}
	return true
}

func (c *Client) setOneByOne(ctx context.Context, before Loggers, changes []Logger) (Loggers, error) {
	var ls Loggers
	for i, ch := range changes {
		var err error
		ls, err = c.SetLevels(ctx, ch)
		if err != nil {
			for _, done := range changes[:i] {
				old, _ := before.Get(done.Name)
				c.SetLevels(context.WithoutCancel(ctx), Logger{Name: done.Name, Level: old}) //nolint:errcheck // best effort; the first error is the one to report
			}
			return nil, err
		}
	}
	return ls, nil
}

// SetAllLevels sets every logger to l (?level=<l>).
func (c *Client) SetAllLevels(ctx context.Context, l Level) (Loggers, error) {
	if l.Rank() < 0 {
		return nil, fmt.Errorf("set all levels: unknown level %q", l)
	}
	return c.logging(ctx, "level="+string(l))
}

func (c *Client) logging(ctx context.Context, query string) (Loggers, error) {
	r := request{method: http.MethodPost, path: "/logging", query: query}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	switch resp.code {
	case http.StatusOK:
		if !bytes.HasPrefix(resp.body, []byte("active loggers:")) {
			return nil, c.notAdmin(r, resp, `200 "active loggers:"`)
		}
		ls, err := ParseLoggers(resp.body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.where(r), err)
		}
		return ls, nil
	case http.StatusBadRequest, http.StatusNotFound:
		// logs_handler.cc: "error: <reason>\n\n" then the usage text (400);
		// older releases: the usage text alone (404).
		msg, hasReason := bytes.CutPrefix(resp.body, []byte("error: "))
		if !hasReason && !bytes.HasPrefix(resp.body, []byte("usage: /logging")) {
			break
		}
		if i := bytes.IndexByte(msg, '\n'); hasReason && i >= 0 {
			msg = msg[:i]
		}
		ls, _ := ParseLoggers(resp.body) // the list is a help, not required
		if query == "" && !hasReason && ls != nil {
			// Very old releases answered a plain listing with the usage
			// text and 404 too.
			return ls, nil
		}
		le := &LoggingError{
			Request: r.String(), Status: resp.code, Loggers: ls,
			NoPaths: !bytes.Contains(resp.body, []byte("usage: /logging?paths=")),
		}
		if hasReason {
			le.Message = string(msg)
		}
		return nil, le
	case http.StatusMethodNotAllowed:
		// Only a proxy in between can turn our POST into something else.
		return nil, &StatusError{Request: r.String(), Status: resp.code, Message: snippet(resp.body)}
	}
	return nil, c.notAdmin(r, resp, `200 "active loggers:"`)
}
