#include "common/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/log.h"
#include "common/models/model.h"
#include "common/sha256.h"

namespace tributary {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'T', 'R', 'I', 'B', 'C', 'K', 'P', 'T'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = sizeof(kMagic) + 4 + 8 + 32;
constexpr char kPrefix[] = "checkpoint-";
constexpr char kSuffix[] = ".tckpt";

template <typename T>
void AppendLittleEndian(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

template <typename T>
T ReadLittleEndian(const char* p) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(static_cast<uint8_t>(p[i])) << (8 * i);
  return value;
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("write", path);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : ErrnoError("fsync", path);
}

// Writes `data` to `path` so that a crash leaves either the old state or
// the whole new file: temp file, fsync, rename, fsync of the directory.
absl::Status WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create", temp);
  absl::Status status = WriteAll(fd, data, temp);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("fsync", temp);
  ::close(fd);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) status = ErrnoError("rename", temp);
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return FsyncPath(fs::path(path).parent_path().string(), O_RDONLY | O_DIRECTORY);
}

}  // namespace

absl::StatusOr<std::string> WriteCheckpoint(const std::string& dir,
                                            const tributary::v1::Checkpoint& checkpoint, int keep) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("create ", dir, ": ", error.message()));
  absl::StatusOr<std::string> file = EncodeCheckpointFile(checkpoint);
  if (!file.ok()) return file.status();
  const std::string path =
      (fs::path(dir) / absl::StrFormat("%s%012d%s", kPrefix, checkpoint.model_version(), kSuffix)).string();
  if (absl::Status s = WriteFileAtomically(path, *file); !s.ok()) return s;
  const std::vector<std::string> all = ListCheckpoints(dir);
  for (size_t i = std::max(keep, 1); i < all.size(); ++i) fs::remove(all[i], error);
  return path;
}

absl::StatusOr<std::string> EncodeCheckpointFile(const tributary::v1::Checkpoint& checkpoint) {
  std::string body;
  if (!checkpoint.SerializeToString(&body)) return absl::InternalError("checkpoint does not serialize");
  std::string file(kMagic, sizeof(kMagic));
  AppendLittleEndian<uint32_t>(file, kFormatVersion);
  AppendLittleEndian<uint64_t>(file, body.size());
  file += DigestBytes(Sha256(body));
  file += body;
  return file;
}

absl::StatusOr<tributary::v1::Checkpoint> ParseCheckpointFile(absl::string_view file, absl::string_view path) {
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": not a valid checkpoint: ", why));
  };
  if (file.size() < kHeaderBytes || std::memcmp(file.data(), kMagic, sizeof(kMagic)) != 0) {
    return corrupt("no TRIBCKPT header");
  }
  const char* p = file.data() + sizeof(kMagic);
  const uint32_t format = ReadLittleEndian<uint32_t>(p);
  if (format != kFormatVersion) return corrupt(absl::StrCat("format version ", format, ", want ", kFormatVersion));
  const uint64_t length = ReadLittleEndian<uint64_t>(p + 4);
  if (length != file.size() - kHeaderBytes) {
    return corrupt(absl::StrCat("truncated: body of ", file.size() - kHeaderBytes, " bytes, header says ", length));
  }
  const absl::string_view body = file.substr(kHeaderBytes);
  if (DigestBytes(Sha256(body)) != absl::string_view(p + 12, 32)) return corrupt("SHA-256 mismatch");
  tributary::v1::Checkpoint checkpoint;
  if (!checkpoint.ParseFromArray(body.data(), static_cast<int>(body.size()))) return corrupt("body does not parse");
  return checkpoint;
}

absl::StatusOr<tributary::v1::Checkpoint> ReadCheckpointFile(const std::string& path) {
  absl::StatusOr<std::string> file = ReadFile(path);
  if (!file.ok()) return file.status();
  return ParseCheckpointFile(*file, path);
}

std::vector<std::string> ListCheckpoints(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, kPrefix) && absl::EndsWith(name, kSuffix)) paths.push_back(entry.path().string());
  }
  // Zero-padded versions: the names sort by version.
  std::sort(paths.rbegin(), paths.rend());
  return paths;
}

absl::StatusOr<tributary::v1::Checkpoint> LoadCheckpoint(const std::string& path) {
  std::error_code error;
  if (!fs::is_directory(path, error)) return ReadCheckpointFile(path);
  const std::vector<std::string> candidates = ListCheckpoints(path);
  if (candidates.empty()) return absl::NotFoundError(absl::StrCat(path, ": no checkpoint files"));
  absl::Status last;
  for (const std::string& candidate : candidates) {
    absl::StatusOr<tributary::v1::Checkpoint> checkpoint = ReadCheckpointFile(candidate);
    if (checkpoint.ok()) return checkpoint;
    TLOG(WARNING) << checkpoint.status().message() << "; trying an older one";
    last = checkpoint.status();
  }
  return last;
}

absl::StatusOr<LoadedCheckpoint> LoadCheckpointToResume(const std::string& dir) {
  const std::vector<std::string> candidates = ListCheckpoints(dir);
  if (candidates.empty()) return absl::NotFoundError(absl::StrCat(dir, ": no checkpoint files"));
  absl::Status last;
  std::vector<std::string> bad;
  for (const std::string& candidate : candidates) {
    absl::StatusOr<tributary::v1::Checkpoint> checkpoint = ReadCheckpointFile(candidate);
    if (!checkpoint.ok()) {
      TLOG(WARNING) << checkpoint.status().message() << "; trying an older one";
      last = checkpoint.status();
      bad.push_back(candidate);
      continue;
    }
    // Only once a good one is found: with none, every file stays for a human to look at.
    for (const std::string& path : bad) {
      std::error_code error;
      fs::rename(path, path + ".corrupt", error);
      TLOG(WARNING) << "moved " << path << " aside to " << path << ".corrupt"
                    << (error ? absl::StrCat(" (failed: ", error.message(), ")") : "");
    }
    return LoadedCheckpoint{*std::move(checkpoint), candidate};
  }
  return last;
}

absl::StatusOr<std::vector<float>> CheckpointParams(const tributary::v1::Checkpoint& checkpoint) {
  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(checkpoint.job().model());
  if (!model.ok()) return model.status();
  const int64_t n = (*model)->layout().size();
  if (checkpoint.params().size() != static_cast<size_t>(n) * sizeof(float)) {
    return absl::DataLossError(absl::StrCat("checkpoint has ", checkpoint.params().size(),
                                            " bytes of weights; its model needs ", n * sizeof(float)));
  }
  std::vector<float> params(n);
  std::memcpy(params.data(), checkpoint.params().data(), checkpoint.params().size());
  return params;
}

absl::StatusOr<GptCheckpoint> LoadGptCheckpoint(const std::string& path, const ModelOptions& options) {
  const auto flag_error = [](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("--checkpoint: ", s.message()));
  };
  if (path.empty()) return absl::InvalidArgumentError("--checkpoint: required");
  GptCheckpoint out;
  absl::StatusOr<tributary::v1::Checkpoint> checkpoint = LoadCheckpoint(path);
  if (!checkpoint.ok()) return flag_error(checkpoint.status());
  out.checkpoint = *std::move(checkpoint);
  if (!out.checkpoint.job().model().has_gpt()) {
    return absl::InvalidArgumentError(absl::StrCat("--checkpoint: ", path, " holds no gpt model"));
  }
  absl::StatusOr<std::vector<float>> params = CheckpointParams(out.checkpoint);
  if (!params.ok()) return flag_error(params.status());
  out.params = *std::move(params);
  absl::StatusOr<std::unique_ptr<GptModel>> model = GptModel::Create(out.checkpoint.job().model().gpt(), options);
  if (!model.ok()) return flag_error(model.status());
  out.model = *std::move(model);
  return out;
}

}  // namespace tributary
