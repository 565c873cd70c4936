// Comma-separated lists of HOST:PORT, as --etcd and a worker's
// --coordinator take them.
#ifndef TRIBUTARY_COMMON_ADDRESS_LIST_H_
#define TRIBUTARY_COMMON_ADDRESS_LIST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tributary {

// "a:1, b:2,[::1]:3" as {"a:1", "b:2", "[::1]:3"}. INVALID_ARGUMENT for an
// empty list or an entry that is not HOST:PORT with a port in 1..65535.
absl::StatusOr<std::vector<std::string>> SplitAddressList(absl::string_view list);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_ADDRESS_LIST_H_
