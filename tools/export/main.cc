// tributary-export: writes a checkpoint's weights in a format other tools load.
//
//   --format=safetensors (default): one safetensors file under the model's
//     tensor names (GPT-2's for gpt: wte.weight, h.0.ln_1.weight, ...),
//     linear weights (out, in) as torch.nn.Linear holds them; any model.
//   --format=hf: a directory Hugging Face transformers'
//     GPT2LMHeadModel.from_pretrained loads (tools/export/hf_format.h); gpt.
//   --format=llmc: llm.c's train_gpt2.c checkpoint file
//     (tools/export/llmc_format.h); gpt.
//
//   tributary-export --checkpoint=STATE_DIR_OR_FILE [--format=F] [--out=PATH]
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint.h"
#include "common/models/gpt.h"
#include "common/models/model.h"
#include "common/safetensors.h"
#include "common/usage.h"
#include "google/protobuf/text_format.h"
#include "tools/export/hf_format.h"
#include "tools/export/llmc_format.h"

ABSL_FLAG(std::string, checkpoint, "", "Checkpoint file, or a --state_dir (its newest valid checkpoint)");
ABSL_FLAG(std::string, format, "safetensors",
          "safetensors (one file, GPT-2 tensor names, nn.Linear layout), hf (a Hugging Face transformers "
          "GPT2LMHeadModel directory) or llmc (llm.c's train_gpt2.c checkpoint)");
ABSL_FLAG(std::string, out, "",
          "Output file (safetensors: default model.safetensors; llmc), or directory (hf), created if missing");

namespace tributary {
namespace {

struct Loaded {
  tributary::v1::Checkpoint checkpoint;
  std::vector<float> params;
};

absl::StatusOr<Loaded> Load(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("--checkpoint: required");
  absl::StatusOr<tributary::v1::Checkpoint> checkpoint = LoadCheckpoint(path);
  if (!checkpoint.ok()) {
    return absl::Status(checkpoint.status().code(), absl::StrCat("--checkpoint: ", checkpoint.status().message()));
  }
  absl::StatusOr<std::vector<float>> params = CheckpointParams(*checkpoint);
  if (!params.ok()) {
    return absl::Status(params.status().code(), absl::StrCat("--checkpoint ", path, ": ", params.status().message()));
  }
  return Loaded{*std::move(checkpoint), *std::move(params)};
}

absl::Status WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return absl::ErrnoToStatus(errno, absl::StrCat("--out: cannot write ", path));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) return absl::ErrnoToStatus(errno, absl::StrCat("--out: cannot write ", path));
  return absl::OkStatus();
}

// Safetensors metadata: the format key from_pretrained insists on, and
// where the weights came from.
std::map<std::string, std::string> Metadata(const tributary::v1::Checkpoint& checkpoint) {
  std::string model_spec;
  google::protobuf::TextFormat::PrintToString(checkpoint.job().model(), &model_spec);
  return {{"format", "pt"},
          {"tributary.job", checkpoint.job().name()},
          {"tributary.model", model_spec},
          {"tributary.model_version", absl::StrCat(checkpoint.model_version())}};
}

absl::Status ExportSafetensors(const Loaded& in, const std::string& out) {
  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(in.checkpoint.job().model());
  if (!model.ok()) return model.status();
  absl::Status status = WriteBytes(out, EncodeSafetensors((*model)->layout(), in.params, Metadata(in.checkpoint)));
  if (!status.ok()) return status;
  std::printf("%s: %zu tensors, %zu parameters, model version %llu\n", out.c_str(), (*model)->layout().tensors().size(),
              in.params.size(), static_cast<unsigned long long>(in.checkpoint.model_version()));
  return absl::OkStatus();
}

absl::Status ExportHuggingFace(const Loaded& in, const std::string& dir) {
  const tributary::v1::GptSpec& spec = in.checkpoint.job().model().gpt();
  absl::StatusOr<std::unique_ptr<GptModel>> model = GptModel::Create(spec);
  if (!model.ok()) return model.status();
  absl::StatusOr<RenamedTensors> hf = ToHuggingFaceGpt2((*model)->layout(), in.params);
  if (!hf.ok()) return hf.status();
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    return absl::InvalidArgumentError(absl::StrCat("--out: cannot create directory ", dir, ": ", error.message()));
  const std::map<std::string, std::string> files = {
      {"model.safetensors", EncodeSafetensors(hf->layout, hf->params, Metadata(in.checkpoint))},
      {"config.json", HuggingFaceGpt2Config(spec)},
      {"README.md", HuggingFaceGpt2Readme(spec)},
  };
  for (const auto& [name, bytes] : files) {
    absl::Status status = WriteBytes(dir + "/" + name, bytes);
    if (!status.ok()) return status;
  }
  std::printf("%s: GPT2LMHeadModel, %zu tensors, %zu parameters, model version %llu\n", dir.c_str(),
              hf->layout.tensors().size(), in.params.size(),
              static_cast<unsigned long long>(in.checkpoint.model_version()));
  return absl::OkStatus();
}

absl::Status ExportLlmc(const Loaded& in, const std::string& out) {
  const tributary::v1::GptSpec& spec = in.checkpoint.job().model().gpt();
  absl::StatusOr<std::string> bytes = EncodeLlmcCheckpoint(spec, in.params);
  if (!bytes.ok()) return bytes.status();
  absl::Status status = WriteBytes(out, *bytes);
  if (!status.ok()) return status;
  std::printf("%s: llm.c checkpoint (maxT %d, V %d, Vp %d, L %d, NH %d, C %d), model version %llu\n", out.c_str(),
              spec.context(), GptModel::kVocab, LlmcPaddedVocab(GptModel::kVocab), spec.layers(), spec.heads(),
              spec.channels(), static_cast<unsigned long long>(in.checkpoint.model_version()));
  return absl::OkStatus();
}

absl::Status Export() {
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "safetensors" && format != "hf" && format != "llmc") {
    return absl::InvalidArgumentError(absl::StrCat("--format: must be safetensors, hf or llmc, got \"", format, "\""));
  }
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty() && format != "safetensors") {
    return absl::InvalidArgumentError(
        absl::StrCat("--out: required with --format=", format, format == "hf" ? " (a directory)" : " (a file)"));
  }
  if (out.empty()) out = "model.safetensors";
  const std::string path = absl::GetFlag(FLAGS_checkpoint);
  absl::StatusOr<Loaded> in = Load(path);
  if (!in.ok()) return in.status();
  if (format == "safetensors") return ExportSafetensors(*in, out);
  if (!in->checkpoint.job().model().has_gpt()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--format=", format, ": needs a gpt model; --checkpoint ", path, " holds another kind"));
  }
  return format == "hf" ? ExportHuggingFace(*in, out) : ExportLlmc(*in, out);
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) {
  tributary::ParseFlags(
      argc, argv,
      "Writes a checkpoint's weights as safetensors, a Hugging Face transformers directory or an llm.c "
      "checkpoint.\n  tributary-export --checkpoint=DIR_OR_FILE [--format=safetensors|hf|llmc] [--out=PATH]");
  const absl::Status status = tributary::Export();
  if (!status.ok()) {
    std::fprintf(stderr, "tributary-export: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
