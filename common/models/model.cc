#include "common/models/model.h"

#include "absl/status/status.h"
#include "common/models/gpt.h"
#include "common/models/mlp.h"

namespace tributary {

LossStats EvaluateInBatches(Model& model, absl::Span<const float> params,
                            absl::Span<const uint8_t> records, int batch_examples) {
  const size_t batch_bytes = static_cast<size_t>(batch_examples) * model.example_bytes();
  LossStats total;
  for (size_t offset = 0; offset < records.size(); offset += batch_bytes) {
    total += model.Forward(params, records.subspan(offset, batch_bytes));
  }
  return total;
}

absl::StatusOr<std::unique_ptr<Model>> CreateModel(const tributary::v1::ModelSpec& spec) {
  switch (spec.kind_case()) {
    case tributary::v1::ModelSpec::kMlp:
      return MlpModel::Create(spec.mlp());
    case tributary::v1::ModelSpec::kGpt:
      return GptModel::Create(spec.gpt());
    case tributary::v1::ModelSpec::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("model: no model kind set");
}

}  // namespace tributary
