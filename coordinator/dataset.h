// The coordinator's copy of a job's data: training examples cut into shards
// (each named by its SHA-256, streamed to workers on request) and the
// held-out split the coordinator evaluates on. Only the coordinator reads
// the dataset's files; workers receive shards over the wire.
//
// Examples are stored as fixed-size records in the layout the job's model
// reads (see Model::example_bytes()).
#ifndef TRIBUTARY_COORDINATOR_DATASET_H_
#define TRIBUTARY_COORDINATOR_DATASET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/data/idx.h"
#include "common/sha256.h"
#include "tributary/v1/job.pb.h"

namespace tributary::coordinator {

struct Shard {
  int64_t offset = 0;  // Into Dataset::train.
  int64_t bytes = 0;
  int examples = 0;
  Sha256Digest sha256{};
};

struct Dataset {
  int64_t example_bytes = 0;
  std::string train;  // Training records, back to back.
  std::string test;   // Held-out records.
  std::vector<Shard> shards;

  absl::string_view ShardBytes(const Shard& shard) const {
    return absl::string_view(train).substr(shard.offset, shard.bytes);
  }
};

// Interleaves images (N, rows, cols) and labels (N) into records of
// rows*cols pixel bytes followed by the label byte. INVALID_ARGUMENT naming
// `what` when shapes disagree with `inputs` or a label is >= `classes`.
absl::StatusOr<std::string> ImageRecords(const IdxArray& images, const IdxArray& labels,
                                         int inputs, int classes, absl::string_view what);

// Overlapping windows of context + 1 bytes, one every `context` bytes (a
// window's last byte is the next one's first), so every byte but the first
// is predicted exactly once. A tail shorter than a window is dropped.
std::string SequenceRecords(absl::string_view bytes, int context);

// The regular files the patterns name, less those whose file name matches
// an exclude pattern, sorted and without duplicates. INVALID_ARGUMENT when
// a pattern matches nothing.
absl::StatusOr<std::vector<std::string>> ExpandFiles(const tributary::v1::TextData& text);

// Permutes the records of `example_bytes` each in place, the same way for
// the same seed (its own Fisher-Yates over a 64-bit Mersenne Twister, so no
// standard library's choice of algorithm changes a dataset).
void ShuffleRecords(std::string& records, int64_t example_bytes, uint64_t seed);

// Cuts records into shards of `shard_examples` (the last may be shorter)
// and hashes each.
std::vector<Shard> CutShards(absl::string_view records, int64_t example_bytes, int shard_examples);

// Reads the files the job names. Errors name the file and what is wrong.
absl::StatusOr<std::unique_ptr<Dataset>> LoadDataset(const tributary::v1::JobSpec& job);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_DATASET_H_
