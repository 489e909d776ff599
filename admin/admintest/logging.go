package admintest

import (
	"fmt"
	"net/http"
	"path"
	"strings"
)

// spdlogLevels are spdlog::level::level_string_views, in order.
var spdlogLevels = []string{"trace", "debug", "info", "warning", "error", "critical", "off"}

func validLevel(l string) bool {
	for _, k := range spdlogLevels {
		if l == k {
			return true
		}
	}
	return false
}

// param is one query parameter as Envoy's Http::Utility::parseQueryString
// sees it: split on '&' and the first '=', not percent-decoded; a
// parameter without '=' has an empty value; a repeated key keeps its first
// value.
type param struct{ key, value string }

func parseQuery(raw string) []param {
	var out []param
	seen := map[string]bool{}
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, param{k, v})
	}
	return out
}

// serveLogging is logs_handler.cc handlerLogging in the chosen release's
// flavour. State changes only when the whole request is valid.
func (s *Server) serveLogging(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	params := parseQuery(r.URL.RawQuery)
	style := s.opts.Logging
	if style == LoggingCurrent {
		// The current handler skips parameters with empty values.
		kept := params[:0]
		for _, p := range params {
			if p.value != "" {
				kept = append(kept, p)
			}
		}
		params = kept
	}
	var reason string
	if len(params) > 0 {
		reason = s.changeLevels(params)
	}
	var b strings.Builder
	code := http.StatusOK
	if reason != "" {
		code = http.StatusBadRequest
		if style == Logging404 || style == LoggingNoPaths {
			code = http.StatusNotFound
		} else {
			fmt.Fprintf(&b, "error: %s\n\n", reason)
		}
		b.WriteString("usage: /logging?<name>=<level> (change single level)\n")
		if style != LoggingNoPaths {
			b.WriteString("usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n")
		}
		b.WriteString("usage: /logging?level=<level> (change all levels)\n")
		if style == LoggingCurrent {
			b.WriteString("usage: /logging?group=<group_name>:<level> (change group of loggers)\n")
		}
		b.WriteString("levels: ")
		for _, l := range spdlogLevels {
			b.WriteString(l + " ")
		}
		b.WriteString("\n")
	}
	b.WriteString("active loggers:\n")
	for _, n := range s.names {
		fmt.Fprintf(&b, "  %s: %s\n", n, s.levels[n])
	}
	if !s.opts.FineGrain || style == LoggingCurrent {
		b.WriteString("\n")
	}
	text(w, code, b.String())
}

// changeLevels applies one /logging change and returns Envoy's reason for
// refusing it, or "" when it was applied.
func (s *Server) changeLevels(params []param) string {
	style := s.opts.Logging
	if len(params) != 1 {
		return "invalid number of parameters"
	}
	key, value := params[0].key, params[0].value
	if key == "level" {
		if !validLevel(value) {
			return "unknown logger level"
		}
		for _, n := range s.names {
			s.levels[n] = value
		}
		return ""
	}
	changes := map[string]string{}
	switch {
	case key == "paths" && style != LoggingNoPaths:
		for _, pair := range strings.Split(value, ",") {
			if strings.TrimSpace(pair) == "" {
				continue // absl::SkipWhitespace
			}
			name, lvl, _ := strings.Cut(pair, ":")
			if strings.TrimSpace(name) == "" || strings.TrimSpace(lvl) == "" {
				return "empty logger name or empty logger level"
			}
			if !validLevel(lvl) {
				return "unknown logger level"
			}
			changes[name] = lvl
		}
	case key == "group" && style == LoggingCurrent:
		if !s.opts.FineGrain {
			return "group parameter requires fine-grain logging to be enabled"
		}
		name, lvl, _ := strings.Cut(value, ":")
		if name == "" || lvl == "" {
			return "empty logger name or empty logger level in group"
		}
		if !validLevel(lvl) {
			return "unknown logger level"
		}
		changes[name] = lvl
	default:
		if !validLevel(value) {
			return "unknown logger level"
		}
		changes[key] = value
	}
	if s.opts.FineGrain {
		// Fine-grain names are glob patterns over the file loggers.
		for pat, lvl := range changes {
			for _, n := range s.names {
				if ok, _ := path.Match(pat, n); ok || pat == n {
					s.levels[n] = lvl
				}
			}
		}
		return ""
	}
	for name := range changes {
		if _, ok := s.levels[name]; !ok {
			return "unknown logger name"
		}
	}
	for name, lvl := range changes {
		s.levels[name] = lvl
	}
	return ""
}
