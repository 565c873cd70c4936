#include "common/usage.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace tributary {

bool IsFlagFile(absl::string_view file, absl::string_view flags_file) {
  // Abseil asks with the name NormalizeFlagFile made of __FILE__, a suffix
  // of ours; a suffix that starts mid-name ("in.cc" of "/src/worker/main.cc")
  // is another file.
  if (file.empty() || !absl::EndsWith(flags_file, file)) return false;
  const size_t start = flags_file.size() - file.size();
  return start == 0 || flags_file[start - 1] == '/' || flags_file[start - 1] == '\\';
}

namespace {

// The name --helpfull prints above a file's flags: relative to the source
// tree for ours ("worker/main.cc", not the build machine's checkout path),
// without leading slashes (Abseil's default) for everyone else's.
std::string NormalizeFlagFile(absl::string_view file) {
  absl::string_view source_dir = TRIBUTARY_SOURCE_DIR "/";
  if (absl::ConsumePrefix(&file, source_dir)) return std::string(file);
  const size_t start = file.find_first_not_of("/\\");
  return start == absl::string_view::npos ? std::string() : std::string(file.substr(start));
}

}  // namespace

void ParseFlags(int argc, char** argv, absl::string_view usage, absl::string_view flags_file) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.normalize_filename = NormalizeFlagFile;
  const std::string own(flags_file);
  config.contains_help_flags = [own](absl::string_view file) { return IsFlagFile(file, own); };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);

  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  // positional[0] is the program itself.
  if (positional.size() > 1) {
    std::fprintf(stderr, "%s: unexpected argument '%s': flags are written --name=value (see --help)\n", argv[0],
                 positional[1]);
    std::exit(2);
  }
}

}  // namespace tributary
