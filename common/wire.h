// Constants of the wire protocol (proto/tributary/v1/coordinator.proto)
// that both sides must agree on. See docs/ARCHITECTURE.md.
#ifndef TRIBUTARY_COMMON_WIRE_H_
#define TRIBUTARY_COMMON_WIRE_H_

#include <cstddef>

namespace tributary {

// Payload bytes per streamed Chunk or SubmitUpdateChunk; well under gRPC's
// default 4 MiB message limit.
inline constexpr size_t kMaxChunkBytes = size_t{1} << 20;

// The largest message either end accepts: one chunk and its framing. The
// coordinator refuses anything larger (RESOURCE_EXHAUSTED) before it is
// buffered whole.
inline constexpr int kMaxReceiveMessageBytes = static_cast<int>(kMaxChunkBytes) + 64 * 1024;

// HTTP/2 flow-control window per stream, on both ends. gRPC's 64 KiB
// default costs a round trip per window when a model or update of several
// MiB is streamed; a payload-sized window lets it flow in one go.
inline constexpr int kStreamWindowBytes = 16 << 20;

// What a coordinator's gRPC server may hold in buffers for all its
// connections together (grpc::ResourceQuota): a few dozen uploads in
// flight at full window; beyond it gRPC slows the senders down.
inline constexpr size_t kServerMemoryQuotaBytes = size_t{512} << 20;

// Keepalive: home routers and NATs drop idle TCP state after a minute or
// two, and a worker whose link died should notice before its deadline. So
// clients ping an idle connection every kClientKeepaliveTime and give up
// on it after kKeepaliveTimeout without an answer. gRPC servers close a
// connection that pings more often than their minimum interval (GOAWAY
// "too_many_pings"), so the server's minimum must stay below the
// client's interval. The server pings too, to find workers that vanished
// mid-stream and free what their calls hold.
inline constexpr int kClientKeepaliveTimeMs = 20'000;
inline constexpr int kServerMinPingIntervalMs = 10'000;
inline constexpr int kServerKeepaliveTimeMs = 60'000;
inline constexpr int kKeepaliveTimeoutMs = 10'000;
static_assert(kClientKeepaliveTimeMs > kServerMinPingIntervalMs,
              "clients pinging faster than the server allows are dropped with too_many_pings");

// Metadata entry carrying "Bearer <session token>" on every call after Join.
inline constexpr char kSessionMetadataKey[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";

// Trailing metadata of a RESOURCE_EXHAUSTED answer: milliseconds to wait
// before calling again. Workers honour it.
inline constexpr char kRetryAfterMetadataKey[] = "tributary-retry-after-ms";

// Trailing metadata of a standby coordinator's UNAVAILABLE answer: the
// leader's address (HOST:PORT), when the standby knows it. Workers given
// several coordinator addresses go there.
inline constexpr char kLeaderMetadataKey[] = "tributary-leader";

// A pipelining worker leases its next task while it still computes one and
// submits another: GetTask keeps at most kMaxKeptTasks of its leases, so a
// worker holds at most kMaxKeptTasks + 1. A heartbeat names at most
// kMaxHeldTasks held tasks, with room for a few the worker has not yet
// learnt were revoked. More is INVALID_ARGUMENT.
inline constexpr int kMaxKeptTasks = 2;
inline constexpr int kMaxHeldTasks = 8;
static_assert(kMaxHeldTasks > kMaxKeptTasks, "a heartbeat must be able to name every lease a worker holds");

// Limits on free-form strings a worker sends at Join.
inline constexpr size_t kMaxNameBytes = 64;
inline constexpr size_t kMaxDeviceBytes = 32;
inline constexpr size_t kMaxJoinTokenBytes = 4096;

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_WIRE_H_
