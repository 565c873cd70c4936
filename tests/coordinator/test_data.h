// A tiny synthetic classification dataset and job for coordinator tests.
#ifndef TRIBUTARY_TESTS_COORDINATOR_TEST_DATA_H_
#define TRIBUTARY_TESTS_COORDINATOR_TEST_DATA_H_

#include <memory>
#include <random>
#include <string>

#include "coordinator/dataset.h"
#include "tributary/v1/coordinator.pb.h"
#include "tributary/v1/job.pb.h"

namespace tributary::coordinator {

inline constexpr int kTestInputs = 6;
inline constexpr int kTestClasses = 3;

// `examples` random records cut into shards of `shard_examples`.
inline std::unique_ptr<Dataset> TinyDataset(int examples, int shard_examples, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  auto dataset = std::make_unique<Dataset>();
  dataset->example_bytes = kTestInputs + 1;
  for (std::string* split : {&dataset->train, &dataset->test}) {
    for (int i = 0; i < examples; ++i) {
      for (int j = 0; j < kTestInputs; ++j) split->push_back(static_cast<char>(rng() % 256));
      split->push_back(static_cast<char>(rng() % kTestClasses));
    }
  }
  dataset->shards = CutShards(dataset->train, dataset->example_bytes, shard_examples);
  return dataset;
}

inline tributary::v1::JobSpec TinyJob() {
  tributary::v1::JobSpec job;
  job.set_name("tiny");
  auto* mlp = job.mutable_model()->mutable_mlp();
  mlp->set_inputs(kTestInputs);
  mlp->set_classes(kTestClasses);
  mlp->add_hidden(4);
  job.mutable_budget()->set_epochs(1);
  job.mutable_eval()->set_interval_versions(2);
  job.mutable_aggregation()->set_max_staleness(1);
  job.mutable_lease()->set_heartbeat_timeout_s(10);
  job.mutable_lease()->set_lease_timeout_s(30);
  job.mutable_lease()->set_max_invalid_requests(2);
  return job;
}

// The header a worker sends with an uncompressed update for `task`.
inline tributary::v1::UpdateHeader HeaderFor(const tributary::v1::Task& task, size_t encoded_bytes = 0) {
  tributary::v1::UpdateHeader header;
  header.set_task_id(task.task_id());
  header.set_base_version(task.base_version());
  header.set_epoch(task.epoch());
  header.set_shard_id(task.shard_id());
  header.set_codec("none");
  header.set_encoded_bytes(encoded_bytes);
  header.set_loss(1.0f);
  header.set_examples(task.shard_examples());
  return header;
}

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_TESTS_COORDINATOR_TEST_DATA_H_
