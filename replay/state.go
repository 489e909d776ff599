package replay

import (
	"sort"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Clock is the virtual clock of a replay. It never reads the real time: it
// starts at a fixed instant, moves forward by Step before every callback,
// and by one microsecond at every read, so code that waits for time to pass
// (Go's scheduler) still makes progress and two runs read the same values.
type Clock struct {
	start time.Time
	Step  time.Duration
	now   int64 // Unix nanoseconds
}

// clockReadStep is how far each read moves the clock.
const clockReadStep = int64(time.Microsecond)

// NewClock returns a clock at start that advances by step per callback.
func NewClock(start time.Time, step time.Duration) *Clock {
	return &Clock{start: start, Step: step, now: start.UnixNano()}
}

// Now is the current virtual time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.now).UTC() }

// UnixNano is the current virtual time without moving it.
func (c *Clock) UnixNano() int64 { return c.now }

// Realtime answers a read of the realtime clock.
func (c *Clock) Realtime() int64 {
	c.now += clockReadStep
	return c.now
}

// Monotonic answers a read of the monotonic clock: the time since start,
// plus one second so that it is never zero.
func (c *Clock) Monotonic() int64 {
	c.now += clockReadStep
	return c.now - c.start.UnixNano() + int64(time.Second)
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.now += int64(d) }

// AdvanceTo moves the clock to t if t is later.
func (c *Clock) AdvanceTo(t int64) {
	if t > c.now {
		c.now = t
	}
}

// SharedStore is the host-wide shared data (key/value with CAS) and shared
// queues of proxy-wasm-cpp-host (src/shared_data.cc, src/shared_queue.cc),
// keyed by VM id. One store may serve several VMs.
type SharedStore struct {
	data    map[string]map[string]sharedValue
	nextCAS uint32

	queues    map[uint32]*sharedQueue
	queueIDs  map[[2]string]uint32
	nextQueue uint32
}

type sharedValue struct {
	value []byte
	cas   uint32
}

type sharedQueue struct {
	items   [][]byte
	vm      *VM
	context uint32
}

// NewSharedStore returns an empty store.
func NewSharedStore() *SharedStore {
	return &SharedStore{data: map[string]map[string]sharedValue{}, nextCAS: 1,
		queues: map[uint32]*sharedQueue{}, queueIDs: map[[2]string]uint32{}, nextQueue: 1}
}

func (s *SharedStore) casValue() uint32 {
	v := s.nextCAS
	s.nextCAS++
	if s.nextCAS == 0 {
		s.nextCAS++
	}
	return v
}

func (s *SharedStore) get(vmID, key string) ([]byte, uint32, bool) {
	v, ok := s.data[vmID][key]
	return v.value, v.cas, ok
}

func (s *SharedStore) set(vmID, key string, value []byte, cas uint32) abi.Status {
	m := s.data[vmID]
	if m == nil {
		m = map[string]sharedValue{}
		s.data[vmID] = m
	}
	old, ok := m[key]
	if ok && cas != 0 && cas != old.cas {
		return abi.CasMismatch
	}
	// The old value's storage is reused: get's callers copy what it
	// returns at once.
	m[key] = sharedValue{value: append(old.value[:0], value...), cas: s.casValue()}
	return abi.Ok
}

// Set stores a value as the plugin would (for a capture's initial state).
func (s *SharedStore) Set(vmID, key string, value []byte) { s.set(vmID, key, value, 0) }

// Snapshot returns the shared data of a VM id, sorted by key.
func (s *SharedStore) Snapshot(vmID string) []SharedEntry {
	var out []SharedEntry
	for k, v := range s.data[vmID] {
		out = append(out, SharedEntry{Key: k, Value: string(v.value), CAS: v.cas})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// SharedEntry is one shared-data key.
type SharedEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	CAS   uint32 `json:"cas"`
}

func (s *SharedStore) registerQueue(vmID, name string, vm *VM, context uint32) uint32 {
	key := [2]string{vmID, name}
	token, ok := s.queueIDs[key]
	if !ok {
		for {
			token = s.nextQueue
			s.nextQueue++
			if token != 0 && s.queues[token] == nil {
				break
			}
		}
		s.queueIDs[key] = token
		s.queues[token] = &sharedQueue{}
	}
	q := s.queues[token]
	q.vm, q.context = vm, context // existing items are kept
	return token
}

// Enqueue adds an item to a queue, creating it (with no listener) if
// needed, for a capture's initial state.
func (s *SharedStore) Enqueue(vmID, name string, item []byte) {
	key := [2]string{vmID, name}
	token, ok := s.queueIDs[key]
	if !ok {
		token = s.registerQueue(vmID, name, nil, 0)
	}
	q := s.queues[token]
	q.items = append(q.items, append([]byte(nil), item...))
}

func (s *SharedStore) resolveQueue(vmID, name string) uint32 {
	return s.queueIDs[[2]string{vmID, name}]
}

func (s *SharedStore) dequeue(token uint32) ([]byte, abi.Status) {
	q := s.queues[token]
	if q == nil {
		return nil, abi.NotFound
	}
	if len(q.items) == 0 {
		return nil, abi.Empty
	}
	item := q.items[0]
	q.items = q.items[1:]
	return item, abi.Ok
}

func (s *SharedStore) enqueue(token uint32, data []byte) abi.Status {
	q := s.queues[token]
	if q == nil {
		return abi.NotFound
	}
	q.items = append(q.items, append([]byte(nil), data...))
	if vm := q.vm; vm != nil {
		ctx := q.context
		// SharedQueue::enqueue posts onQueueReady to the registering
		// context's thread; it runs after the current call.
		vm.async = append(vm.async, func() { vm.queueReady(ctx, token) })
	}
	return abi.Ok
}

// metrics are a VM's custom metrics: ids by type as cpp-host allocates them
// (counter 4, 8, …; gauge 5, 9, …; histogram 6, 10, …: id & 3 is the type)
// with Envoy's rules for each operation.
type metrics struct {
	next    [3]uint32
	byID    map[uint32]*Metric
	defined []*Metric
}

// Metric is a custom metric and its value (Envoy names it wasmcustom.<name>).
type Metric struct {
	ID     uint32         `json:"id"`
	Type   abi.MetricType `json:"-"`
	Kind   string         `json:"type"`
	Name   string         `json:"name"`
	Value  uint64         `json:"value"`
	Values []uint64       `json:"values,omitempty"` // histogram records
}

func newMetrics() *metrics {
	return &metrics{next: [3]uint32{0, 1, 2}, byID: map[uint32]*Metric{}}
}

func (m *metrics) define(t uint32, name string) (uint32, abi.Status) {
	if t > uint32(abi.Histogram) {
		return 0, abi.BadArgument
	}
	m.next[t] += 4
	id := m.next[t]
	mt := &Metric{ID: id, Type: abi.MetricType(t), Kind: abi.MetricType(t).String(), Name: name}
	m.byID[id] = mt
	m.defined = append(m.defined, mt)
	return id, abi.Ok
}

func (m *metrics) increment(id uint32, delta int64) abi.Status {
	switch abi.MetricType(id & 3) {
	case abi.Counter:
		mt := m.byID[id]
		if mt == nil {
			return abi.NotFound
		}
		if delta <= 0 {
			return abi.BadArgument
		}
		mt.Value += uint64(delta)
		return abi.Ok
	case abi.Gauge:
		mt := m.byID[id]
		if mt == nil {
			return abi.NotFound
		}
		mt.Value += uint64(delta) // two's complement: a negative delta subtracts
		return abi.Ok
	}
	return abi.BadArgument
}

func (m *metrics) record(id uint32, v uint64) abi.Status {
	mt := m.byID[id]
	if mt == nil || mt.ID&3 == 3 {
		return abi.NotFound
	}
	switch mt.Type {
	case abi.Counter:
		mt.Value += v
	case abi.Gauge:
		mt.Value = v
	case abi.Histogram:
		if len(mt.Values) < 1024 {
			mt.Values = append(mt.Values, v)
		}
		mt.Value++
	}
	return abi.Ok
}

func (m *metrics) get(id uint32) (uint64, abi.Status) {
	switch abi.MetricType(id & 3) {
	case abi.Counter, abi.Gauge:
		mt := m.byID[id]
		if mt == nil {
			return 0, abi.NotFound
		}
		return mt.Value, abi.Ok
	}
	return 0, abi.BadArgument
}

// Metrics returns the VM's custom metrics in definition order.
func (vm *VM) Metrics() []Metric {
	out := make([]Metric, len(vm.metrics.defined))
	for i, m := range vm.metrics.defined {
		out[i] = *m
	}
	return out
}
