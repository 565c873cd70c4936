#include "common/models/model.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/models/gpt.h"
#include "common/models/mlp.h"

namespace tributary {

absl::Status CheckModelOptions(const ModelOptions& options) {
  if (options.max_batch_examples < 0 || options.max_batch_examples > kMaxBatchExamples) {
    return absl::InvalidArgumentError(absl::StrCat("model: max_batch_examples must be in [0, ", kMaxBatchExamples,
                                                   "], got ", options.max_batch_examples));
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat("model: threads must be at least 1, got ", options.threads));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Model::BatchSize(absl::Span<const uint8_t> examples) const {
  const int64_t bytes = example_bytes();
  if (examples.size() % bytes != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch of ", examples.size(), " bytes is not whole examples of ", bytes));
  }
  const int64_t n = static_cast<int64_t>(examples.size()) / bytes;
  if (n > max_batch_examples()) {
    return absl::InvalidArgumentError(absl::StrCat("batch of ", n, " examples exceeds the ", max_batch_examples(),
                                                   " this model was built for (max_batch_examples)"));
  }
  return static_cast<int>(n);
}

absl::StatusOr<LossStats> EvaluateInBatches(Model& model, absl::Span<const float> params,
                                            absl::Span<const uint8_t> records, int batch_examples) {
  const size_t batch_bytes = static_cast<size_t>(batch_examples) * model.example_bytes();
  if (batch_bytes == 0) return absl::InvalidArgumentError("evaluation: batch_examples must be positive");
  LossStats total;
  for (size_t offset = 0; offset < records.size(); offset += batch_bytes) {
    absl::StatusOr<LossStats> batch = model.Forward(params, records.subspan(offset, batch_bytes));
    if (!batch.ok()) return batch.status();
    total += *batch;
  }
  return total;
}

absl::StatusOr<std::unique_ptr<Model>> CreateModel(const tributary::v1::ModelSpec& spec,
                                                   const ModelOptions& options) {
  switch (spec.kind_case()) {
    case tributary::v1::ModelSpec::kMlp:
      return MlpModel::Create(spec.mlp(), options);
    case tributary::v1::ModelSpec::kGpt:
      return GptModel::Create(spec.gpt(), options);
    case tributary::v1::ModelSpec::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("model: no model kind set");
}

}  // namespace tributary
