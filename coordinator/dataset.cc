#include "coordinator/dataset.h"

#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <random>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"

namespace tributary::coordinator {
namespace {

absl::StatusOr<std::string> LoadFashionMnistSplit(const tributary::v1::FashionMnistData& data,
                                                  const tributary::v1::MlpSpec& mlp,
                                                  absl::string_view split) {
  const std::string images_path = absl::StrCat(data.dir(), "/", split, "-images-idx3-ubyte.gz");
  const std::string labels_path = absl::StrCat(data.dir(), "/", split, "-labels-idx1-ubyte.gz");
  absl::StatusOr<IdxArray> images = ReadIdxFile(images_path);
  if (!images.ok()) return images.status();
  absl::StatusOr<IdxArray> labels = ReadIdxFile(labels_path);
  if (!labels.ok()) return labels.status();
  return ImageRecords(*images, *labels, mlp.inputs(), mlp.classes(), images_path);
}

absl::StatusOr<std::unique_ptr<Dataset>> LoadFashionMnist(const tributary::v1::JobSpec& job) {
  const auto& data = job.data().fashion_mnist();
  const auto& mlp = job.model().mlp();
  auto dataset = std::make_unique<Dataset>();
  dataset->example_bytes = mlp.inputs() + 1;
  absl::StatusOr<std::string> train = LoadFashionMnistSplit(data, mlp, "train");
  if (!train.ok()) return train.status();
  absl::StatusOr<std::string> test = LoadFashionMnistSplit(data, mlp, "t10k");
  if (!test.ok()) return test.status();
  dataset->train = *std::move(train);
  dataset->test = *std::move(test);
  if (data.max_train_examples() > 0) {
    dataset->train.resize(std::min<size_t>(dataset->train.size(),
                                           data.max_train_examples() * dataset->example_bytes));
  }
  return dataset;
}

absl::StatusOr<std::unique_ptr<Dataset>> LoadText(const tributary::v1::JobSpec& job) {
  const auto& text = job.data().text();
  absl::StatusOr<std::vector<std::string>> files = ExpandFiles(text);
  if (!files.ok()) return files.status();
  std::string corpus;
  for (const std::string& path : *files) {
    absl::StatusOr<std::string> contents = ReadFile(path);
    if (!contents.ok()) return contents.status();
    corpus += *contents;
  }
  const int context = job.model().gpt().context();
  const size_t held_out = static_cast<size_t>(corpus.size() * text.eval_fraction());
  auto dataset = std::make_unique<Dataset>();
  dataset->example_bytes = context + 1;
  dataset->train = SequenceRecords(absl::string_view(corpus).substr(0, corpus.size() - held_out), context);
  dataset->test = SequenceRecords(absl::string_view(corpus).substr(corpus.size() - held_out), context);
  if (dataset->test.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data.text: ", corpus.size(), " bytes leave no held-out sequence of ", context + 1, " bytes"));
  }
  return dataset;
}

}  // namespace

std::string SequenceRecords(absl::string_view bytes, int context) {
  std::string records;
  for (size_t start = 0; start + context + 1 <= bytes.size(); start += context) {
    records.append(bytes.data() + start, context + 1);
  }
  return records;
}

absl::StatusOr<std::vector<std::string>> ExpandFiles(const tributary::v1::TextData& text) {
  std::set<std::string> files;
  for (const std::string& pattern : text.files()) {
    glob_t matches{};
    const int rc = glob(pattern.c_str(), 0, nullptr, &matches);
    std::unique_ptr<glob_t, void (*)(glob_t*)> guard(&matches, globfree);
    if (rc != 0) return absl::InvalidArgumentError(absl::StrCat("data.text.files: \"", pattern, "\" matches no file"));
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      const std::string path = matches.gl_pathv[i];
      const std::string name = path.substr(path.rfind('/') + 1);
      struct stat info {};
      if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
      bool excluded = false;
      for (const std::string& exclude : text.exclude()) excluded |= fnmatch(exclude.c_str(), name.c_str(), 0) == 0;
      if (!excluded) files.insert(path);
    }
  }
  if (files.empty()) return absl::InvalidArgumentError("data.text.files: no file left after the excludes");
  return std::vector<std::string>(files.begin(), files.end());
}

absl::StatusOr<std::string> ImageRecords(const IdxArray& images, const IdxArray& labels,
                                         int inputs, int classes, absl::string_view what) {
  if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0]) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": want images (N, rows, cols) and N labels"));
  }
  const int64_t n = images.dims[0];
  const int64_t pixels = int64_t{images.dims[1]} * images.dims[2];
  if (pixels != inputs) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": images have ", pixels,
                                                   " pixels, model.mlp.inputs is ", inputs));
  }
  std::string records;
  records.resize(n * (pixels + 1));
  for (int64_t i = 0; i < n; ++i) {
    const auto label = static_cast<uint8_t>(labels.data[i]);
    if (label >= classes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": example ", i, " has label ", int{label},
                                                     ", model.mlp.classes is ", classes));
    }
    char* record = &records[i * (pixels + 1)];
    std::copy_n(images.data.data() + i * pixels, pixels, record);
    record[pixels] = static_cast<char>(label);
  }
  return records;
}

void ShuffleRecords(std::string& records, int64_t example_bytes, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(records.size()) / example_bytes;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    if (j == i) continue;
    char* a = &records[i * example_bytes];
    std::swap_ranges(a, a + example_bytes, &records[j * example_bytes]);
  }
}

std::vector<Shard> CutShards(absl::string_view records, int64_t example_bytes, int shard_examples) {
  std::vector<Shard> shards;
  const int64_t n = static_cast<int64_t>(records.size()) / example_bytes;
  for (int64_t first = 0; first < n; first += shard_examples) {
    Shard shard;
    shard.examples = static_cast<int>(std::min<int64_t>(shard_examples, n - first));
    shard.offset = first * example_bytes;
    shard.bytes = shard.examples * example_bytes;
    shard.sha256 = Sha256(records.substr(shard.offset, shard.bytes));
    shards.push_back(shard);
  }
  return shards;
}

absl::StatusOr<std::unique_ptr<Dataset>> LoadDataset(const tributary::v1::JobSpec& job) {
  absl::StatusOr<std::unique_ptr<Dataset>> dataset =
      job.data().has_text() ? LoadText(job) : LoadFashionMnist(job);
  if (!dataset.ok()) return dataset.status();
  if (job.data().shuffle_examples()) ShuffleRecords((*dataset)->train, (*dataset)->example_bytes, job.seed());
  (*dataset)->shards = CutShards((*dataset)->train, (*dataset)->example_bytes, job.data().shard_examples());
  if ((*dataset)->shards.empty()) return absl::InvalidArgumentError("data: no training examples");
  return dataset;
}

}  // namespace tributary::coordinator
