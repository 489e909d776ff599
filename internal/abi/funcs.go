package abi

import (
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// ValType is a WebAssembly value type in a signature: the section reader's
// type, so a signature read from a module compares with the tables here.
type ValType = wasm.ValType

// The number types the Proxy-Wasm ABI uses.
const (
	I32 = wasm.I32
	I64 = wasm.I64
	F32 = wasm.F32
	F64 = wasm.F64
)

// Kind says what a parameter or result means, so a tracer or a host can
// decode it: an enum, a context id, or a pointer into guest memory.
type Kind uint8

const (
	KindNumber     Kind = iota // a plain integer (size, period, token, id)
	KindContextID              // a context id
	KindString                 // pointer to bytes shown as text; the next parameter is its size
	KindBytes                  // pointer to opaque bytes; the next parameter is its size
	KindPairs                  // pointer to a serialized header map (§9.4); the next parameter is its size
	KindSize                   // the size belonging to the previous pointer
	KindOutPtr                 // pointer the host writes a result to
	KindMapType                // MapType
	KindBufferType             // BufferType
	KindStreamType             // StreamType
	KindLogLevel               // LogLevel
	KindMetricType             // MetricType
	KindPeerType               // PeerType
	KindBool                   // 0 false, otherwise true
	KindGrpcStatus             // GrpcStatus (signed)
	KindFd                     // a WASI file descriptor
	KindClockID                // a WASI clock id (0 realtime, 1 monotonic)
	KindSigned                 // a signed integer (proxy_increment_metric's delta)
)

// Result says what a function returns.
type Result uint8

const (
	ResultVoid           Result = iota
	ResultStatus                // Status
	ResultErrno                 // Errno
	ResultHeadersAction         // HeadersAction
	ResultDataAction            // DataAction
	ResultTrailersAction        // TrailersAction
	ResultNetworkAction         // NetworkAction
	ResultBool                  // i32, 0 false
	ResultPointer               // i32 guest pointer (malloc)
	ResultNumber                // plain i32 (main's exit code)
)

// Param is one parameter of a function.
type Param struct {
	Name string
	Type ValType
	Kind Kind
}

// Func is the signature and meaning of a host function (an import the
// module may need) or a callback (an export the host calls).
type Func struct {
	Module string // "env", "wasi_snapshot_preview1"; empty for exports
	Name   string
	Params []Param
	Result Result
}

// ResultType is the wasm result type, nil for void.
func (f *Func) ResultType() []ValType {
	if f.Result == ResultVoid {
		return nil
	}
	return []ValType{I32}
}

// ParamTypes is the wasm parameter types.
func (f *Func) ParamTypes() []ValType {
	ts := make([]ValType, len(f.Params))
	for i, p := range f.Params {
		ts[i] = p.Type
	}
	return ts
}

// Signature renders the type as cpp-host does in its load errors:
// "i32 i32 -> i32" (an empty side is written as "void"; see
// proxy-wasm-cpp-host src/v8/v8.cc printValTypes).
func Signature(params, results []ValType) string {
	return typeList(params) + " -> " + typeList(results)
}

func typeList(ts []ValType) string {
	if len(ts) == 0 {
		return "void"
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, " ")
}

// p builds a parameter list from "name:kind" specs; i64 parameters are
// marked with a leading '@'.
func p(specs ...string) []Param {
	ps := make([]Param, len(specs))
	for i, s := range specs {
		t := I32
		if strings.HasPrefix(s, "@") {
			t, s = I64, s[1:]
		}
		name, kind, _ := strings.Cut(s, ":")
		ps[i] = Param{Name: name, Type: t, Kind: kinds[kind]}
	}
	return ps
}

var kinds = map[string]Kind{
	"": KindNumber, "ctx": KindContextID, "str": KindString, "bytes": KindBytes, "pairs": KindPairs,
	"size": KindSize, "out": KindOutPtr, "map": KindMapType, "buf": KindBufferType,
	"stream": KindStreamType, "level": KindLogLevel, "metric": KindMetricType, "peer": KindPeerType,
	"bool": KindBool, "grpc": KindGrpcStatus, "fd": KindFd, "clock": KindClockID, "signed": KindSigned,
}
