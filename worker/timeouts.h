// How long the worker waits for the coordinator: every call's deadline,
// its retry pacing, and how far it follows the coordinator's retry hints.
// docs/ARCHITECTURE.md ("Fault tolerance" and "The worker's pipeline")
// quotes these numbers; change both together.
#ifndef TRIBUTARY_WORKER_TIMEOUTS_H_
#define TRIBUTARY_WORKER_TIMEOUTS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace tributary::worker {

// Join waits for a connection (a coordinator that is just restarting) up to
// this long; every other call fails fast when there is none.
inline constexpr absl::Duration kJoinTimeout = absl::Seconds(3);
// Heartbeats, GetTask, and the base of every stream's deadline.
inline constexpr absl::Duration kUnaryTimeout = absl::Seconds(5);
// Leave is the last call before the process exits: a coordinator that
// does not answer soon must not hold up a shutdown (SIGTERM).
inline constexpr absl::Duration kLeaveTimeout = absl::Seconds(2);

// Slowest link a transfer deadline allows for: 64 KiB/s (0.5 Mbit/s), as
// slow as the coordinator's default limits.min_transfer_bytes_per_s. At
// 256 KiB/s a volunteer on a 2 Mbit/s link could never fetch the flagship
// model (13 MB): every download ran past its deadline and started over.
inline constexpr double kMinTransferBytesPerSecond = 64 * 1024;

// The deadline for moving `bytes` over a slow home link: a model or shard
// download, or an update's upload.
inline absl::Duration TransferTimeout(uint64_t bytes) {
  return kUnaryTimeout + absl::Seconds(static_cast<double>(bytes) / kMinTransferBytesPerSecond);
}

// Reconnecting: exponential backoff with jitter (worker/backoff.h) from
// kBackoffInitial doubling to kBackoffMax.
inline constexpr absl::Duration kBackoffInitial = absl::Milliseconds(500);
inline constexpr absl::Duration kBackoffMax = absl::Seconds(30);

// A coordinator's retry hint is followed up to kMaxRetryHint. Hints up to
// kMaxInlineHint are waited out inside a call, up to kHintedRetries times
// (each try with a deadline of its own), so a rate limit hit mid-task
// costs the wait it asks for rather than the task.
inline constexpr absl::Duration kMaxRetryHint = absl::Minutes(5);
inline constexpr absl::Duration kMaxInlineHint = absl::Seconds(1);
inline constexpr int kHintedRetries = 5;

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_TIMEOUTS_H_
