// Loading and validating a JobSpec (proto/tributary/v1/job.proto). A job is
// validated once, here, into a Status; everything downstream may trust it.
#ifndef TRIBUTARY_COMMON_JOB_SPEC_H_
#define TRIBUTARY_COMMON_JOB_SPEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tributary/v1/job.pb.h"

namespace tributary {

// Parses a job from protobuf text format, fills the defaults that depend on
// other fields, and validates it. `source` names the text in messages.
// Errors are INVALID_ARGUMENT, one line per problem, each naming the source
// and, where the field was written in the text, its line:
//   "job.textproto:7: optimizer.lr: must be positive, got -0.1"
absl::StatusOr<tributary::v1::JobSpec> ParseJobSpec(absl::string_view text,
                                                    absl::string_view source);

// Reads and parses a job file.
absl::StatusOr<tributary::v1::JobSpec> LoadJobSpec(const std::string& path);

// The job a coordinator runs when given none: the flagship GPT job,
// deploy/jobs/gpt-fortunes.textproto, compiled in.
tributary::v1::JobSpec DefaultJobSpec();
extern const char kDefaultJobText[];
inline constexpr char kDefaultJobName[] = "deploy/jobs/gpt-fortunes.textproto (built in)";

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_JOB_SPEC_H_
