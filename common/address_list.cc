#include "common/address_list.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tributary {

absl::StatusOr<std::vector<std::string>> SplitAddressList(absl::string_view list) {
  std::vector<std::string> addresses;
  for (absl::string_view address : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    address = absl::StripAsciiWhitespace(address);
    const size_t colon = address.rfind(':');
    uint32_t port = 0;
    if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
        port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not HOST:PORT"));
    }
    addresses.emplace_back(address);
  }
  if (addresses.empty()) return absl::InvalidArgumentError("no address given");
  return addresses;
}

}  // namespace tributary
