// Checkpoint files: a Checkpoint message framed as
//
//   "TRIBCKPT"  8 bytes magic
//   u32 LE      format version (1)
//   u64 LE      body length
//   32 bytes    SHA-256 of the body
//   body        the serialized tributary.v1.Checkpoint
//
// written atomically (temp file, fsync, rename, fsync of the directory) as
// DIR/checkpoint-<version, 12 digits>.tckpt; the newest `keep` stay. A
// reader verifies the magic, length and digest, so a torn or corrupt file
// is reported and never half-loaded.
#ifndef TRIBUTARY_COMMON_CHECKPOINT_H_
#define TRIBUTARY_COMMON_CHECKPOINT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/models/gpt.h"
#include "tributary/v1/checkpoint.pb.h"

namespace tributary {

// Writes `checkpoint` into `dir` (created if missing) and removes all but
// the newest `keep` checkpoint files. Returns the new file's path.
absl::StatusOr<std::string> WriteCheckpoint(const std::string& dir,
                                            const tributary::v1::Checkpoint& checkpoint, int keep = 2);

// Reads and verifies one checkpoint file. Errors name the path.
absl::StatusOr<tributary::v1::Checkpoint> ReadCheckpointFile(const std::string& path);

// The two halves of the format, without the filesystem: the bytes of a
// checkpoint file, and those bytes verified and parsed (DATA_LOSS naming
// `path` when they are torn or corrupt). ReadCheckpointFile is ReadFile,
// then ParseCheckpointFile.
absl::StatusOr<std::string> EncodeCheckpointFile(const tributary::v1::Checkpoint& checkpoint);
absl::StatusOr<tributary::v1::Checkpoint> ParseCheckpointFile(absl::string_view file, absl::string_view path);

// The checkpoint files in `dir`, newest (highest version) first.
std::vector<std::string> ListCheckpoints(const std::string& dir);

// `path` itself when it is a file; for a directory, its newest checkpoint
// that verifies (older ones are tried when the newest is corrupt; each
// rejection is logged).
absl::StatusOr<tributary::v1::Checkpoint> LoadCheckpoint(const std::string& path);

struct LoadedCheckpoint {
  tributary::v1::Checkpoint checkpoint;
  std::string path;
};

// For a coordinator resuming from `dir`: its newest checkpoint that
// verifies. Newer files that do not (torn, corrupt) are then renamed to
// *.corrupt, logged, so they never again shadow the good ones or count
// among the `keep` newest. NOT_FOUND when `dir` holds no checkpoint files;
// when none verifies, the oldest one's error, and every file stays.
absl::StatusOr<LoadedCheckpoint> LoadCheckpointToResume(const std::string& dir);

// The checkpoint's weights as floats, checked against its job's model size.
absl::StatusOr<std::vector<float>> CheckpointParams(const tributary::v1::Checkpoint& checkpoint);

// A GPT checkpoint as the tools read it (tributary-sample, llmc_loss):
// LoadCheckpoint's, its weights and the model, built for `options`.
// Errors are prefixed "--checkpoint: ", and a checkpoint of another model
// is INVALID_ARGUMENT.
struct GptCheckpoint {
  tributary::v1::Checkpoint checkpoint;
  std::vector<float> params;
  std::unique_ptr<GptModel> model;
};
absl::StatusOr<GptCheckpoint> LoadGptCheckpoint(const std::string& path, const ModelOptions& options);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CHECKPOINT_H_
