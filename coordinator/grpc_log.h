// gRPC writes its own log lines (a failed TLS handshake, a broken HTTP/2
// preface), one per event and straight to stderr, so any client that can
// open a connection could flood the coordinator's log with them. After
// RouteGrpcLogs, they go through TLOG, at most kMaxGrpcLogLinesPerSecond a
// second; the lines dropped are counted and reported with the next one
// that passes.
#ifndef TRIBUTARY_COORDINATOR_GRPC_LOG_H_
#define TRIBUTARY_COORDINATOR_GRPC_LOG_H_

namespace tributary::coordinator {

inline constexpr int kMaxGrpcLogLinesPerSecond = 5;

// Installs the process-wide hook (gRPC's is a plain function pointer, so
// its rate-limit state is process-wide too). Call once, before serving.
void RouteGrpcLogs();

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_GRPC_LOG_H_
