// Token buckets by key (a session, an identity, an address): each key may
// make `rate` requests per second on average and `burst` at once. Pure:
// time comes in as arguments; not thread-safe (the owner serialises calls).
//
// The table is bounded: a key whose bucket has refilled is the same as one
// never seen, so such keys are dropped to make room, and when every one of
// `max_keys` buckets is still draining a new key is refused like a limited
// one. A flood of new keys thus costs memory up to the bound, no further.
#ifndef TRIBUTARY_COORDINATOR_RATE_LIMITER_H_
#define TRIBUTARY_COORDINATOR_RATE_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tributary::coordinator {

class RateLimiter {
 public:
  // rate > 0 per second, burst >= 1, max_keys >= 1.
  RateLimiter(double rate, double burst, size_t max_keys);

  // Takes one request of `key` at `now`. Returns zero when it is admitted,
  // else how long until one would be (the retry hint).
  absl::Duration Take(absl::string_view key, absl::Time now);

  void Forget(absl::string_view key) { buckets_.erase(key); }
  size_t keys() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  void Refill(Bucket& bucket, absl::Time now) const;
  // Drops the keys whose buckets are full again.
  void DropRefilled(absl::Time now);

  const double rate_;
  const double burst_;
  const size_t max_keys_;
  absl::flat_hash_map<std::string, Bucket> buckets_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_RATE_LIMITER_H_
