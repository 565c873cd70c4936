// tributary-export: writes a checkpoint's weights as safetensors, under the
// model's tensor names (GPT-2's for gpt: wte.weight, h.0.ln_1.weight, ...).
// Linear weights are stored (out, in), as torch.nn.Linear holds them;
// Hugging Face's GPT2Model uses Conv1D, which wants them transposed.
//
//   tributary-export --checkpoint=STATE_DIR_OR_FILE --out=model.safetensors
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint.h"
#include "common/models/model.h"
#include "common/safetensors.h"
#include "google/protobuf/text_format.h"

ABSL_FLAG(std::string, checkpoint, "", "Checkpoint file, or a --state_dir (its newest valid checkpoint)");
ABSL_FLAG(std::string, out, "model.safetensors", "Output file");

namespace tributary {
namespace {

absl::Status Export() {
  const std::string path = absl::GetFlag(FLAGS_checkpoint);
  if (path.empty()) return absl::InvalidArgumentError("--checkpoint: required");
  absl::StatusOr<tributary::v1::Checkpoint> checkpoint = LoadCheckpoint(path);
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<std::vector<float>> params = CheckpointParams(*checkpoint);
  if (!params.ok()) return params.status();
  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(checkpoint->job().model());
  if (!model.ok()) return model.status();
  std::string model_spec;
  google::protobuf::TextFormat::PrintToString(checkpoint->job().model(), &model_spec);
  const std::string bytes = EncodeSafetensors(
      (*model)->layout(), *params,
      {{"format", "pt"},
       {"tributary.job", checkpoint->job().name()},
       {"tributary.model", model_spec},
       {"tributary.model_version", absl::StrCat(checkpoint->model_version())}});
  const std::string out = absl::GetFlag(FLAGS_out);
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("--out: cannot write ", out));
  std::printf("%s: %zu tensors, %zu parameters, model version %llu\n", out.c_str(),
              (*model)->layout().tensors().size(), params->size(),
              static_cast<unsigned long long>(checkpoint->model_version()));
  return absl::OkStatus();
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes a checkpoint's weights as safetensors.\n  tributary-export --checkpoint=DIR_OR_FILE --out=FILE");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = tributary::Export();
  if (!status.ok()) {
    std::fprintf(stderr, "tributary-export: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
