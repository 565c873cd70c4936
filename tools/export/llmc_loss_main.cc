// llmc_loss: a GPT checkpoint's loss, computed by our model, on the batches
// llm.c's train_gpt2.c takes its "val loss" over, so the two numbers can be
// compared for one checkpoint (tools/check-llmc-export.sh).
//
//   llmc_loss --checkpoint=STATE_DIR_OR_FILE --tokens=VAL.bin [--batch=4] [--batches=5]
//
// VAL.bin is an llm.c token file (llmc/dataloader.h): int32 header[256]
// {20240520, 1, ntok, 0...}, then ntok uint16 tokens. As train_gpt2.c's
// unshuffled val loader does, batch i row b reads the T + 1 tokens from
// (i * B + b) * T on (T = the model's context) and predicts the last T.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint.h"
#include "common/file.h"
#include "common/models/gpt.h"
#include "common/usage.h"

ABSL_FLAG(std::string, checkpoint, "", "Checkpoint file, or a --state_dir (its newest valid checkpoint)");
ABSL_FLAG(std::string, tokens, "", "llm.c token file (uint16 tokens, each a byte)");
ABSL_FLAG(int, batch, 4, "Sequences per batch (train_gpt2.c's B)");
ABSL_FLAG(int, batches, 5, "Batches (train_gpt2.c's val_num_batches)");

namespace tributary {
namespace {

constexpr int kHeaderInts = 256;
constexpr int32_t kTokensMagic = 20240520;
constexpr int32_t kTokensVersion = 1;
constexpr int kMaxBatches = 1 << 16;

// The file's tokens as bytes; errors name the path.
absl::StatusOr<std::vector<uint8_t>> ReadTokens(const std::string& path) {
  absl::StatusOr<std::string> file = ReadFile(path);
  if (!file.ok()) return file.status();
  int32_t header[kHeaderInts];
  if (file->size() < sizeof(header)) return absl::InvalidArgumentError(absl::StrCat(path, ": no llm.c header"));
  std::memcpy(header, file->data(), sizeof(header));
  if (header[0] != kTokensMagic || header[1] != kTokensVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an llm.c token file (magic ", header[0], ", version ", header[1], ")"));
  }
  const int64_t n = header[2];
  if (n < 0 || file->size() != sizeof(header) + n * sizeof(uint16_t)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header says ", n, " tokens, file has ", file->size(), " bytes"));
  }
  std::vector<uint8_t> tokens(n);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t token;
    std::memcpy(&token, file->data() + sizeof(header) + i * sizeof(uint16_t), sizeof(token));
    if (token >= GptModel::kVocab) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": token ", i, " is ", token, ", not a byte"));
    }
    tokens[i] = static_cast<uint8_t>(token);
  }
  return tokens;
}

absl::Status PrintLoss() {
  const int B = absl::GetFlag(FLAGS_batch), batches = absl::GetFlag(FLAGS_batches);
  if (B < 1 || B > kMaxBatches) return absl::InvalidArgumentError("--batch: must be in [1, 65536]");
  if (batches < 1 || batches > kMaxBatches) return absl::InvalidArgumentError("--batches: must be in [1, 65536]");
  const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  absl::StatusOr<GptCheckpoint> loaded = LoadGptCheckpoint(absl::GetFlag(FLAGS_checkpoint), {B, threads});
  if (!loaded.ok()) return loaded.status();
  GptModel& model = *loaded->model;  // Its activations are scratch.
  absl::StatusOr<std::vector<uint8_t>> tokens = ReadTokens(absl::GetFlag(FLAGS_tokens));
  if (!tokens.ok()) return absl::Status(tokens.status().code(), absl::StrCat("--tokens: ", tokens.status().message()));

  const int64_t T = model.context();
  const int64_t rows = int64_t{B} * batches;
  if (static_cast<int64_t>(tokens->size()) < rows * T + 1) {
    return absl::InvalidArgumentError(absl::StrCat("--tokens: ", tokens->size(), " tokens, ", batches, " batches of ",
                                                   B, " x ", T, " need ", rows * T + 1));
  }
  std::vector<uint8_t> records(rows * (T + 1));
  for (int64_t r = 0; r < rows; ++r) std::copy_n(tokens->data() + r * T, T + 1, records.data() + r * (T + 1));
  // Every row has T tokens, so the mean over rows is train_gpt2.c's mean
  // over batches of each batch's mean over tokens.
  const absl::StatusOr<LossStats> stats = EvaluateInBatches(model, loaded->params, records, B);
  if (!stats.ok()) return stats.status();
  std::printf("ours: val loss %f (%d batches of %d x %lld tokens, model version %llu)\n", stats->mean_loss(), batches, B,
              static_cast<long long>(T), static_cast<unsigned long long>(loaded->checkpoint.model_version()));
  return absl::OkStatus();
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) {
  tributary::ParseFlags(argc, argv,
                        "Our GPT's loss on the batches train_gpt2.c's val loss reads.\n"
                        "  llmc_loss --checkpoint=DIR_OR_FILE --tokens=VAL.bin [--batch=4] [--batches=5]");
  const absl::Status status = tributary::PrintLoss();
  if (!status.ok()) {
    std::fprintf(stderr, "llmc_loss: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
