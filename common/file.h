// Whole-file reads for the few places that load inputs from disk (job specs,
// datasets). Errors name the path.
#ifndef TRIBUTARY_COMMON_FILE_H_
#define TRIBUTARY_COMMON_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace tributary {

// NOT_FOUND / PERMISSION_DENIED / ... with the path and the OS's reason.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_FILE_H_
