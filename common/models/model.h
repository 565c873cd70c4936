// The interface every trainable model implements, so the worker's trainer
// and the coordinator's evaluator never depend on a concrete architecture.
//
// A model is a function of a flat parameter vector (see common/params.h) and
// a batch of fixed-size example records, as they are stored in shards.
#ifndef TRIBUTARY_COMMON_MODELS_MODEL_H_
#define TRIBUTARY_COMMON_MODELS_MODEL_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/params.h"
#include "tributary/v1/job.pb.h"

namespace tributary {

// Totals over a batch; sums, so batches can be added up.
struct LossStats {
  double loss_sum = 0;  // Sum of per-example losses (nats).
  int64_t correct = 0;  // Examples whose top prediction was right.
  int64_t examples = 0;

  LossStats& operator+=(const LossStats& o) {
    loss_sum += o.loss_sum;
    correct += o.correct;
    examples += o.examples;
    return *this;
  }
  double mean_loss() const { return examples ? loss_sum / examples : 0; }
  double accuracy() const { return examples ? static_cast<double>(correct) / examples : 0; }
};

// What a model is built for; each of its users chooses its own.
struct ModelOptions {
  // The largest batch (examples) Forward and ForwardBackward will be given:
  // the activation arena is sized for it at construction, so no pass
  // allocates. 0: the model serves its layout and initial weights only.
  int max_batch_examples = 0;
  // Threads each forward and backward pass may use (>= 1). Results are
  // deterministic for a given count (common/parallel.h).
  int threads = 1;
};

// As JobSpec's data.shard_examples, the largest batch a job can have.
inline constexpr int kMaxBatchExamples = 1 << 16;

// OK when `options` are in range; INVALID_ARGUMENT saying which is not.
absl::Status CheckModelOptions(const ModelOptions& options);

// Not thread-safe: a model owns its activation workspace. Use one per thread.
class Model {
 public:
  virtual ~Model() = default;

  virtual const ParamLayout& layout() const = 0;

  // Size of one example record in a shard.
  virtual int64_t example_bytes() const = 0;

  // Fills `params` (layout().size()) with initial weights drawn from `seed`.
  virtual void InitParams(absl::Span<float> params, uint64_t seed) const = 0;

  // The largest batch Forward and ForwardBackward take (ModelOptions).
  virtual int max_batch_examples() const = 0;

  // Loss over `examples`, which holds n = examples.size() / example_bytes()
  // records. INVALID_ARGUMENT, computing nothing, when they are not whole
  // records, n > max_batch_examples(), or a record does not fit the model
  // (an MLP label out of range).
  virtual absl::StatusOr<LossStats> Forward(absl::Span<const float> params,
                                            absl::Span<const uint8_t> examples) = 0;

  // As Forward, and writes the gradient of the mean loss over the batch into
  // `grads` (layout().size(), overwritten).
  virtual absl::StatusOr<LossStats> ForwardBackward(absl::Span<const float> params,
                                                    absl::Span<const uint8_t> examples,
                                                    absl::Span<float> grads) = 0;

 protected:
  // The number of records in `examples`, or Forward's INVALID_ARGUMENT for
  // a batch that is not whole records or exceeds max_batch_examples().
  absl::StatusOr<int> BatchSize(absl::Span<const uint8_t> examples) const;
};

// Loss over all of `records`, evaluated `batch_examples` (at most the
// model's max_batch_examples()) at a time; Forward's errors.
absl::StatusOr<LossStats> EvaluateInBatches(Model& model, absl::Span<const float> params,
                                            absl::Span<const uint8_t> records, int batch_examples);

// Builds the model a spec describes, for `options`. Fails with
// INVALID_ARGUMENT on sizes or options that are out of range.
absl::StatusOr<std::unique_ptr<Model>> CreateModel(const tributary::v1::ModelSpec& spec,
                                                   const ModelOptions& options = {});

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_MODELS_MODEL_H_
