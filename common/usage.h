// How every Tributary binary reads its command line.
//
// Abseil's --help and --helpshort list only the flags defined in a file
// named after the program (tributary-worker.cc, tributary-worker-main.cc,
// ...). Every Tributary binary defines its flags in a main.cc, so a user
// typing `tributary-worker --help` got "No flags matched" and had to know
// about --helpfull, which also lists gRPC's and Abseil's own flags. ParseFlags
// makes --help list the binary's own flags, those defined in the file that
// calls it; --helpfull still lists every flag.
#ifndef TRIBUTARY_COMMON_USAGE_H_
#define TRIBUTARY_COMMON_USAGE_H_

#include "absl/strings/string_view.h"

namespace tributary {

// Sets `usage` as the program's usage message, parses argc/argv as
// absl::ParseCommandLine does (an unknown or malformed flag is named and the
// program exits 1), and exits 2 naming the first word that is not a flag:
// the binaries take none, and `tributary-worker 10.0.0.5:7070` silently
// meaning --coordinator's default would cost a volunteer an afternoon.
// `flags_file` is the file defining the binary's flags, the caller's own by
// default.
void ParseFlags(int argc, char** argv, absl::string_view usage, absl::string_view flags_file = __builtin_FILE());

// Whether a flag defined in `file` (as Abseil reports it: the path relative
// to the source tree, or without its leading slashes) belongs to `flags_file`
// (a __FILE__). Exposed for its test.
bool IsFlagFile(absl::string_view file, absl::string_view flags_file);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_USAGE_H_
