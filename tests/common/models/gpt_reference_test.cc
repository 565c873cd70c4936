// The C++ GPT against an independent PyTorch implementation: weights, a
// batch, PyTorch's loss and gradients, all recorded once by
// tools/make_gpt_fixture.py into tests/data/gpt_tiny_fixture.bin.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/models/gpt.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

struct Fixture {
  tributary::v1::GptSpec spec;
  int batch = 0;
  std::vector<float> params;
  std::vector<uint8_t> records;
  double loss = 0;
  std::vector<float> grads;
};

// Reads the format tools/make_gpt_fixture.py documents.
class Reader {
 public:
  explicit Reader(const std::string& bytes) : bytes_(bytes) {}
  template <typename T>
  T Next() {
    T value{};
    Copy(&value, sizeof(T));
    return value;
  }
  template <typename T>
  std::vector<T> Array(size_t n) {
    std::vector<T> values(n);
    Copy(values.data(), n * sizeof(T));
    return values;
  }
  bool ok() const { return ok_ && offset_ == bytes_.size(); }

 private:
  void Copy(void* out, size_t n) {
    if (offset_ + n > bytes_.size()) {
      ok_ = false;
      return;
    }
    std::memcpy(out, bytes_.data() + offset_, n);
    offset_ += n;
  }
  const std::string& bytes_;
  size_t offset_ = 0;
  bool ok_ = true;
};

Fixture LoadFixture() {
  const std::string path = std::string(TRIBUTARY_SOURCE_DIR) + "/tests/data/gpt_tiny_fixture.bin";
  absl::StatusOr<std::string> bytes = ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  Fixture f;
  if (!bytes.ok()) return f;
  Reader r(*bytes);
  EXPECT_EQ(r.Array<char>(4), (std::vector<char>{'T', 'G', 'F', '1'}));
  f.spec.set_layers(r.Next<uint32_t>());
  f.spec.set_heads(r.Next<uint32_t>());
  f.spec.set_channels(r.Next<uint32_t>());
  f.spec.set_context(r.Next<uint32_t>());
  f.batch = r.Next<uint32_t>();
  const uint64_t n = r.Next<uint64_t>();
  f.params = r.Array<float>(n);
  f.records = r.Array<uint8_t>(static_cast<size_t>(f.batch) * (f.spec.context() + 1));
  f.loss = r.Next<double>();
  f.grads = r.Array<float>(n);
  EXPECT_TRUE(r.ok()) << path << " is truncated or too long";
  return f;
}

TEST(GptReferenceTest, LossAndGradientsMatchPyTorch) {
  const Fixture f = LoadFixture();
  auto model = GptModel::Create(f.spec, {static_cast<int>(f.records.size() / (f.spec.context() + 1)), 1});
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ((*model)->layout().size(), static_cast<int64_t>(f.params.size()));
  std::vector<float> grads(f.params.size());
  const LossStats stats = (*model)->ForwardBackward(f.params, f.records, absl::MakeSpan(grads)).value();
  EXPECT_NEAR(stats.mean_loss(), f.loss, 1e-5 * f.loss);
  double worst = 0;
  for (const TensorSpec& t : (*model)->layout().tensors()) {
    for (int64_t i = t.offset; i < t.offset + t.size; ++i) {
      const double error = std::abs(grads[i] - f.grads[i]);
      worst = std::max(worst, error);
      ASSERT_LE(error, 1e-4) << t.name << "[" << i - t.offset << "]: " << grads[i] << " vs PyTorch "
                             << f.grads[i];
    }
  }
  RecordProperty("worst_gradient_error", absl::StrFormat("%.3g", worst));
}

}  // namespace
}  // namespace tributary
