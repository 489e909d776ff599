package attach

import (
	"container/heap"
	"time"

	"github.com/wasmdbg/wasmdbg/tracer"
)

// merger orders the events of several live streams (one per pod) by their
// time. A stream's events arrive in order, but a pod that logged earlier
// can be read later; so each event waits window after its arrival before it
// is released, and released events come out oldest first. Events without a
// readable time take the time of the event before them in the same stream
// (the line that preceded them), or their arrival time if there is none,
// so they stay beside their neighbours. An event that arrives after a
// newer one was already released keeps its place in arrival order: late is
// better than lost.
type merger struct {
	window time.Duration
	h      eventHeap
	seq    uint64
	last   map[string]time.Time // last key per stream
}

type pending struct {
	ev      tracer.Event
	key     time.Time // the event's own time, or its arrival
	arrived time.Time
	seq     uint64
}

type eventHeap []pending

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].key.Equal(h[j].key) {
		return h[i].key.Before(h[j].key)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// eventTime reads an event's time as the tracer prints it (RFC 3339 with
// the source's precision; Envoy's default format has no zone and is UTC).
func eventTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// add takes an event of a stream that arrived at now.
func (m *merger) add(stream string, ev tracer.Event, now time.Time) {
	key, ok := eventTime(ev.Time)
	if !ok {
		if key, ok = m.last[stream]; !ok {
			key = now
		}
	}
	if m.last == nil {
		m.last = map[string]time.Time{}
	}
	m.last[stream] = key
	m.seq++
	heap.Push(&m.h, pending{ev: ev, key: key, arrived: now, seq: m.seq})
}

// release returns, oldest first, the events whose wait is over at now; with
// all set, every event held.
func (m *merger) release(now time.Time, all bool) []tracer.Event {
	var out []tracer.Event
	for m.h.Len() > 0 {
		// The oldest event goes when it has waited long enough; anything
		// held behind it waits with it, which keeps the order.
		if !all && now.Sub(m.h[0].arrived) < m.window {
			break
		}
		out = append(out, heap.Pop(&m.h).(pending).ev)
	}
	return out
}

// next is when the oldest held event is due, and whether there is one.
func (m *merger) next() (time.Time, bool) {
	if m.h.Len() == 0 {
		return time.Time{}, false
	}
	return m.h[0].arrived.Add(m.window), true
}
