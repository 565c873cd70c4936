// The coordinator's open download and upload streams: how many each worker
// holds, how many uploads are in flight in all, and when each must end.
// A worker over its share is refused a new stream (RESOURCE_EXHAUSTED), so
// 200 downloads left unread cost what max_streams_per_worker of them cost;
// a stream past its deadline is reported once, for the gRPC shell to cut it
// off, whether or not its task exists.
//
// Pure: time comes in as arguments; not thread-safe (the owner serialises
// calls).
#ifndef TRIBUTARY_COORDINATOR_STREAM_TABLE_H_
#define TRIBUTARY_COORDINATOR_STREAM_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tributary::coordinator {

enum class StreamKind { kDownload, kUpload };

class StreamTable {
 public:
  StreamTable(int max_per_worker, int max_uploads)
      : max_per_worker_(max_per_worker), max_uploads_(max_uploads) {}

  // Opens a stream of `worker` that must end by `deadline`; returns its id.
  // RESOURCE_EXHAUSTED when the worker holds max_per_worker streams, or
  // for an upload when max_uploads are in flight.
  absl::StatusOr<uint64_t> Open(absl::string_view worker, StreamKind kind, absl::Time deadline);

  // The stream ended (however it ended). Unknown ids are ignored.
  void Close(uint64_t id);

  // Streams past their deadline at `now`, each reported once.
  std::vector<uint64_t> TakeOverdue(absl::Time now);

  int open() const { return static_cast<int>(streams_.size()); }
  int uploads() const { return uploads_; }

 private:
  struct Stream {
    std::string worker;
    StreamKind kind;
    absl::Time deadline;
    bool overdue = false;
  };

  const int max_per_worker_;
  const int max_uploads_;
  uint64_t next_id_ = 1;
  int uploads_ = 0;
  absl::flat_hash_map<uint64_t, Stream> streams_;
  absl::flat_hash_map<std::string, int> per_worker_;
  absl::btree_multimap<absl::Time, uint64_t> by_deadline_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_STREAM_TABLE_H_
