// Package abi holds the Proxy-Wasm ABI as data: status codes, enum values,
// callback and host-function signatures for ABI versions 0.1.0, 0.2.0 and
// 0.2.1, and the WASI functions proxy-wasm-cpp-host provides. It has no
// behaviour, so tracer, replay and inspect name every number the same way
// (BadArgument, not 2).
//
// Sources: proxy-wasm/spec abi-versions/v0.2.1 (and v0.1.0, v0.2.0),
// proxy-wasm-cpp-sdk proxy_wasm_enums.h / proxy_wasm_common.h, and
// proxy-wasm-cpp-host include/proxy-wasm/exports.h and src/wasm.cc, as
// summarised in shared/reference/envoy-formats.md §9.
package abi

import "strconv"

// Version is a Proxy-Wasm ABI version, detected from the
// proxy_abi_version_X_Y_Z export.
type Version int

const (
	VersionUnknown Version = iota
	Version010
	Version020
	Version021
)

// versionExports are the marker exports in cpp-host's detection order
// (src/bytecode_util.cc: the first match in the export section wins).
var versionExports = []struct {
	name string
	v    Version
}{
	{"proxy_abi_version_0_1_0", Version010},
	{"proxy_abi_version_0_2_0", Version020},
	{"proxy_abi_version_0_2_1", Version021},
}

// VersionFromExport returns the ABI version a marker export names, if it is one.
func VersionFromExport(name string) (Version, bool) {
	for _, e := range versionExports {
		if e.name == name {
			return e.v, true
		}
	}
	return VersionUnknown, false
}

// ExportName is the marker export of v, e.g. "proxy_abi_version_0_2_1".
func (v Version) ExportName() string {
	for _, e := range versionExports {
		if e.v == v {
			return e.name
		}
	}
	return ""
}

func (v Version) String() string {
	switch v {
	case Version010:
		return "0.1.0"
	case Version020:
		return "0.2.0"
	case Version021:
		return "0.2.1"
	}
	return "unknown"
}

// Status is proxy_status_t / WasmResult, the return value of host functions.
type Status uint32

const (
	Ok                   Status = 0
	NotFound             Status = 1
	BadArgument          Status = 2
	SerializationFailure Status = 3
	ParseFailure         Status = 4
	BadExpression        Status = 5
	InvalidMemoryAccess  Status = 6
	Empty                Status = 7
	CasMismatch          Status = 8
	ResultMismatch       Status = 9
	InternalFailure      Status = 10
	BrokenConnection     Status = 11
	Unimplemented        Status = 12
)

var statusNames = []string{"Ok", "NotFound", "BadArgument", "SerializationFailure", "ParseFailure",
	"BadExpression", "InvalidMemoryAccess", "Empty", "CasMismatch", "ResultMismatch",
	"InternalFailure", "BrokenConnection", "Unimplemented"}

func (s Status) String() string { return enumName(statusNames, uint64(s), "Status") }

// LogLevel is proxy_log_level_t.
type LogLevel uint32

const (
	LogTrace LogLevel = iota
	LogDebug
	LogInfo
	LogWarn
	LogError
	LogCritical
)

var logLevelNames = []string{"trace", "debug", "info", "warn", "error", "critical"}

func (l LogLevel) String() string { return enumName(logLevelNames, uint64(l), "LogLevel") }

// MapType is proxy_map_type_t.
type MapType uint32

const (
	HttpRequestHeaders MapType = iota
	HttpRequestTrailers
	HttpResponseHeaders
	HttpResponseTrailers
	GrpcReceiveInitialMetadata
	GrpcReceiveTrailingMetadata
	HttpCallResponseHeaders
	HttpCallResponseTrailers
)

var mapTypeNames = []string{"HttpRequestHeaders", "HttpRequestTrailers", "HttpResponseHeaders",
	"HttpResponseTrailers", "GrpcReceiveInitialMetadata", "GrpcReceiveTrailingMetadata",
	"HttpCallResponseHeaders", "HttpCallResponseTrailers"}

func (m MapType) String() string { return enumName(mapTypeNames, uint64(m), "MapType") }

// BufferType is proxy_buffer_type_t.
type BufferType uint32

const (
	HttpRequestBody BufferType = iota
	HttpResponseBody
	DownstreamData
	UpstreamData
	HttpCallResponseBody
	GrpcReceiveBuffer
	VmConfiguration
	PluginConfiguration
	CallData // foreign function arguments
)

var bufferTypeNames = []string{"HttpRequestBody", "HttpResponseBody", "DownstreamData", "UpstreamData",
	"HttpCallResponseBody", "GrpcReceiveBuffer", "VmConfiguration", "PluginConfiguration", "CallData"}

func (b BufferType) String() string { return enumName(bufferTypeNames, uint64(b), "BufferType") }

// StreamType is proxy_stream_type_t.
type StreamType uint32

const (
	StreamHttpRequest StreamType = iota
	StreamHttpResponse
	StreamDownstream
	StreamUpstream
)

var streamTypeNames = []string{"HttpRequest", "HttpResponse", "Downstream", "Upstream"}

func (s StreamType) String() string { return enumName(streamTypeNames, uint64(s), "StreamType") }

// PeerType is proxy_peer_type_t.
type PeerType uint32

const (
	PeerUnknown PeerType = iota
	PeerLocal
	PeerRemote
)

var peerTypeNames = []string{"Unknown", "Local", "Remote"}

func (p PeerType) String() string { return enumName(peerTypeNames, uint64(p), "PeerType") }

// MetricType is proxy_metric_type_t.
type MetricType uint32

const (
	Counter MetricType = iota
	Gauge
	Histogram
)

var metricTypeNames = []string{"Counter", "Gauge", "Histogram"}

func (m MetricType) String() string { return enumName(metricTypeNames, uint64(m), "MetricType") }

// HeadersAction is what proxy_on_*_headers returns (FilterHeadersStatus).
// cpp-host turns StopIteration into StopAllIterationAndWatermark for ABI 0.2.x
// unless allow_on_headers_stop_iteration is set, and anything above 4 into
// StopAllIterationAndWatermark (src/context.cc).
type HeadersAction uint32

const (
	HeadersContinue HeadersAction = iota
	HeadersStopIteration
	HeadersContinueAndEndStream
	HeadersStopAllIterationAndBuffer
	HeadersStopAllIterationAndWatermark
)

var headersActionNames = []string{"Continue", "StopIteration", "ContinueAndEndStream",
	"StopAllIterationAndBuffer", "StopAllIterationAndWatermark"}

func (a HeadersAction) String() string {
	return enumName(headersActionNames, uint64(a), "HeadersAction")
}

// DataAction is what proxy_on_*_body and proxy_on_*_data return
// (FilterDataStatus); anything above 3 is StopIterationNoBuffer.
type DataAction uint32

const (
	DataContinue DataAction = iota
	DataStopIterationAndBuffer
	DataStopIterationAndWatermark
	DataStopIterationNoBuffer
)

var dataActionNames = []string{"Continue", "StopIterationAndBuffer", "StopIterationAndWatermark", "StopIterationNoBuffer"}

func (a DataAction) String() string { return enumName(dataActionNames, uint64(a), "DataAction") }

// TrailersAction is what proxy_on_*_trailers returns (FilterTrailersStatus).
type TrailersAction uint32

const (
	TrailersContinue TrailersAction = iota
	TrailersStopIteration
)

var trailersActionNames = []string{"Continue", "StopIteration"}

func (a TrailersAction) String() string {
	return enumName(trailersActionNames, uint64(a), "TrailersAction")
}

// NetworkAction is what the TCP callbacks return (FilterStatus).
type NetworkAction uint32

const (
	NetworkContinue NetworkAction = iota
	NetworkStopIteration
)

var networkActionNames = []string{"Continue", "StopIteration"}

func (a NetworkAction) String() string {
	return enumName(networkActionNames, uint64(a), "NetworkAction")
}

// GrpcStatus is the gRPC status code passed to proxy_on_grpc_close and
// proxy_send_local_response (-1, InvalidCode, means none).
type GrpcStatus int32

var grpcStatusNames = []string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
	"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
	"Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

func (g GrpcStatus) String() string {
	if g < 0 {
		return "InvalidCode"
	}
	return enumName(grpcStatusNames, uint64(g), "GrpcStatus")
}

// Errno is a WASI errno (wasi_snapshot_preview1 and wasi_unstable agree).
type Errno uint32

const (
	ErrnoSuccess    Errno = 0
	ErrnoBadf       Errno = 8
	ErrnoFault      Errno = 21
	ErrnoInval      Errno = 28
	ErrnoNoent      Errno = 44
	ErrnoNosys      Errno = 52
	ErrnoNotsup     Errno = 58
	ErrnoNotcapable Errno = 76
)

var errnoNames = []string{"SUCCESS", "2BIG", "ACCES", "ADDRINUSE", "ADDRNOTAVAIL", "AFNOSUPPORT",
	"AGAIN", "ALREADY", "BADF", "BADMSG", "BUSY", "CANCELED", "CHILD", "CONNABORTED", "CONNREFUSED",
	"CONNRESET", "DEADLK", "DESTADDRREQ", "DOM", "DQUOT", "EXIST", "FAULT", "FBIG", "HOSTUNREACH",
	"IDRM", "ILSEQ", "INPROGRESS", "INTR", "INVAL", "IO", "ISCONN", "ISDIR", "LOOP", "MFILE", "MLINK",
	"MSGSIZE", "MULTIHOP", "NAMETOOLONG", "NETDOWN", "NETRESET", "NETUNREACH", "NFILE", "NOBUFS",
	"NODEV", "NOENT", "NOEXEC", "NOLCK", "NOLINK", "NOMEM", "NOMSG", "NOPROTOOPT", "NOSPC", "NOSYS",
	"NOTCONN", "NOTDIR", "NOTEMPTY", "NOTRECOVERABLE", "NOTSOCK", "NOTSUP", "NOTTY", "NXIO",
	"OVERFLOW", "OWNERDEAD", "PERM", "PIPE", "PROTO", "PROTONOSUPPORT", "PROTOTYPE", "RANGE", "ROFS",
	"SPIPE", "SRCH", "STALE", "TIMEDOUT", "TXTBSY", "XDEV", "NOTCAPABLE"}

func (e Errno) String() string { return enumName(errnoNames, uint64(e), "Errno") }

func enumName(names []string, v uint64, kind string) string {
	if v < uint64(len(names)) {
		return names[v]
	}
	return kind + "(" + strconv.FormatUint(v, 10) + ")"
}
