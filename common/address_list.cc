#include "common/address_list.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tributary {

absl::StatusOr<HostPort> SplitHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  HostPort hp;
  if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &hp.port) ||
      hp.port < 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not HOST:PORT"));
  }
  hp.host = std::string(address.substr(0, colon));
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  return hp;
}

absl::StatusOr<std::vector<std::string>> SplitAddressList(absl::string_view list) {
  std::vector<std::string> addresses;
  for (absl::string_view address : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    address = absl::StripAsciiWhitespace(address);
    // Someone else's listener: the port must be a real one.
    if (absl::StatusOr<HostPort> hp = SplitHostPort(address); !hp.ok() || hp->port == 0) {
      return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not HOST:PORT"));
    }
    addresses.emplace_back(address);
  }
  if (addresses.empty()) return absl::InvalidArgumentError("no address given");
  return addresses;
}

}  // namespace tributary
