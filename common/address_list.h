// HOST:PORT addresses: one (--listen, --http, --advertise) or a
// comma-separated list (--etcd, a worker's --coordinator).
#ifndef TRIBUTARY_COMMON_ADDRESS_LIST_H_
#define TRIBUTARY_COMMON_ADDRESS_LIST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tributary {

struct HostPort {
  std::string host;
  int port = 0;
};

// Splits "host:port" or "[v6]:port" (the brackets dropped; port 0 allowed:
// a listener picks one); INVALID_ARGUMENT naming the address otherwise.
absl::StatusOr<HostPort> SplitHostPort(absl::string_view address);

// "a:1, b:2,[::1]:3" as {"a:1", "b:2", "[::1]:3"}. INVALID_ARGUMENT for an
// empty list or an entry that is not HOST:PORT with a port in 1..65535.
absl::StatusOr<std::vector<std::string>> SplitAddressList(absl::string_view list);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_ADDRESS_LIST_H_
