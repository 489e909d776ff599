package replay

import (
	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// runTCP replays one connection through a network filter, as Envoy's
// Context does (source/extensions/common/wasm/context.cc onNewConnection,
// onData, onWrite, onEvent, onCloseTCP): proxy_on_new_connection, data in
// either direction, the closes, then proxy_on_done, proxy_on_log,
// proxy_on_delete.
func (r *runner) runTCP(idx int, cs *CaptureStream) *Stream {
	vm := r.vm
	st := &Stream{Index: idx, ID: cs.ID, Kind: "tcp"}
	st.info = r.streamInfo(cs, idx)
	if vm.failed && (vm.rootCtx == nil || r.failOpen()) {
		if r.failOpen() {
			st.FailedOpen = true
			for _, e := range cs.TCP {
				if e.Downstream != nil {
					st.DownstreamForwarded += len(e.Downstream.Data)
				}
				if e.Upstream != nil {
					st.UpstreamForwarded += len(e.Upstream.Data)
				}
			}
			return st
		}
		st.Closed = "wasm_fail_stream"
		return st
	}
	c := vm.newContext(kindTCP, vm.rootCtx.id)
	t := &tcpStream{vm: vm, ctx: c, stream: st}
	c.tcp = t
	st.ContextID = c.id
	vm.activeStream = st
	defer func() { vm.activeStream = nil }()

	r.onCreate(c)
	a := r.callFilter(c, st, vm.cbs.newConnection, abi.ResultNetworkAction, uint64(c.id))
	t.stopped = a != 0
	r.settle()

	for _, e := range cs.TCP {
		if t.closeDetails != "" || t.closedTCP {
			break
		}
		r.clock.Advance(r.clock.Step)
		switch {
		case e.Downstream != nil:
			r.tcpData(c, st, t, true, e.Downstream.Data, e.EndStream)
		case e.Upstream != nil:
			r.tcpData(c, st, t, false, e.Upstream.Data, e.EndStream)
			if e.EndStream {
				r.upstreamClose(c, t, abi.PeerUnknown)
			}
		case e.Close == "downstream":
			r.downstreamClose(c, t, peer(e.Peer))
		case e.Close == "upstream":
			r.upstreamClose(c, t, peer(e.Peer))
		}
	}
	if t.closeDetails != "" {
		st.Closed = t.closeDetails
	}
	if !t.closedTCP {
		// The connection ends: the client goes away.
		r.downstreamClose(c, t, abi.PeerRemote)
	}
	if st.Closed == "" {
		st.Closed = "connection closed"
	}
	vm.removeContext(c)
	return st
}

func peer(p string) abi.PeerType {
	if p == "local" {
		return abi.PeerLocal
	}
	return abi.PeerRemote
}

// tcpData is Envoy's Context::onData (downstream) or onWrite (upstream).
// Data a filter stopped on is not consumed: it stays in the connection's
// buffer (Network::FilterManagerImpl, ConnectionImpl::onRead and write)
// and the next call sees it again with what arrived since, until a call
// continues and it goes on whole.
func (r *runner) tcpData(c *hostContext, st *Stream, t *tcpStream, downstream bool, data []byte, eos bool) {
	if !c.created {
		return
	}
	buf, held := &t.upstream, &t.heldUpstream
	cb := r.vm.cbs.upstreamData
	on := &t.upstreamOn
	if downstream {
		buf, held, cb, on = &t.downstream, &t.heldDownstream, r.vm.cbs.downstreamData, &t.downstreamOn
	}
	*buf = bodyBuffer{data: append(*held, data...), mutable: true}
	*held = nil
	*on = true
	a := r.callFilter(c, st, cb, abi.ResultNetworkAction, uint64(c.id), uint64(len(buf.data)), boolArg(eos))
	if a == 0 {
		if downstream {
			st.DownstreamForwarded += len(buf.data)
		} else {
			st.UpstreamForwarded += len(buf.data)
		}
		*on = false
	} else {
		*held = buf.data
	}
	r.settle()
}

func (r *runner) downstreamClose(c *hostContext, t *tcpStream, p abi.PeerType) {
	vm := r.vm
	if !c.created || t.downstreamClosed {
		return
	}
	if !vm.failed && vm.cbs.downstreamClose != nil {
		vm.callDeferred(c, vm.cbs.downstreamClose, uint64(c.id), uint64(p))
		vm.drainAsync()
	}
	t.downstreamClosed = true
	r.closeTCP(c, t)
}

func (r *runner) upstreamClose(c *hostContext, t *tcpStream, p abi.PeerType) {
	vm := r.vm
	if !c.created || t.upstreamClosed {
		return
	}
	if !vm.failed && vm.cbs.upstreamClose != nil {
		vm.callDeferred(c, vm.cbs.upstreamClose, uint64(c.id), uint64(p))
		vm.drainAsync()
	}
	t.upstreamClosed = true
	if t.downstreamClosed {
		r.closeTCP(c, t)
	}
}

// closeTCP is Context::onCloseTCP: done, log, delete (the TCP order).
func (r *runner) closeTCP(c *hostContext, t *tcpStream) {
	if t.closedTCP || !c.created {
		return
	}
	t.closedTCP = true
	r.destroy(c, true)
}
