// Fuzzes the job-spec parser (common/job_spec.h) on arbitrary text. A job
// that parses is one "everything downstream may trust": its model and its
// codec must then be created without error, as the coordinator does next.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "common/codec/codec.h"
#include "common/job_spec.h"
#include "common/models/model.h"
#include "tests/fuzz/require.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tributary::v1::JobSpec> job = tributary::ParseJobSpec(text, "fuzz.textproto");
  if (!job.ok()) return 0;
  absl::StatusOr<std::unique_ptr<tributary::Model>> model = tributary::CreateModel(job->model());
  FUZZ_REQUIRE(model.ok(), "a valid job's model can be created");
  FUZZ_REQUIRE(tributary::CreateCodec(job->codec(), (*model)->layout()).ok(),
               "a valid job's codec can be created");
  return 0;
}
