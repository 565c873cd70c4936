// The job of the end-to-end fault tests (fault_test.cc, failover_test.cc):
// the MLP, small enough that a run takes seconds, with leases, heartbeats
// and checkpoints on a scale of seconds too. Plain SGD: with momentum,
// asynchronous runs of this short budget spread by +-6 % in final loss
// even without faults; without it, by +-0.1 %, so a 5 % bar measures the
// faults, not the luck of the schedule.
#ifndef TRIBUTARY_TESTS_E2E_CHAOS_JOB_H_
#define TRIBUTARY_TESTS_E2E_CHAOS_JOB_H_

namespace tributary::testing {

inline constexpr char kChaosJob[] = R"(
  name: "chaos-mlp"
  data { fashion_mnist { max_train_examples: 12000 } shard_examples: 100 }
  eval { interval_versions: 60 max_examples: 2000 }
  optimizer { lr: 0.1 momentum: 0 schedule: COSINE }
  aggregation { max_staleness: 8 weighting: CONSTANT }
  budget { epochs: 2 }
  lease { lease_timeout_s: 6 heartbeat_interval_s: 0.5 heartbeat_timeout_s: 3 }
  checkpoint { interval_s: 1 }
)";

}  // namespace tributary::testing

#endif  // TRIBUTARY_TESTS_E2E_CHAOS_JOB_H_
