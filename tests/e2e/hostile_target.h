// The coordinator under attack in the hostile-client test, and what every
// attack must leave alone: a real coordinator (and, optionally, one honest
// worker training beside the attacks) whose join-token file gives each
// attacker an identity of its own, an observer session that reads the
// model, and checks of the model, the memory and the honest worker.
#ifndef TRIBUTARY_TESTS_E2E_HOSTILE_TARGET_H_
#define TRIBUTARY_TESTS_E2E_HOSTILE_TARGET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "common/codec/codec.h"
#include "common/models/model.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/harness.h"
#include "tests/e2e/hostile_client.h"

namespace tributary::testing {

// How far above its size at the start the coordinator's RSS may grow.
inline constexpr int64_t kRssHeadroomBytes = int64_t{256} << 20;

// The join token of `identity` in the target's token file.
std::string JoinToken(const std::string& identity);

// What the model is; a refused request must leave it so.
struct ModelState {
  uint64_t version = 0;
  int64_t updates_applied = 0;
  std::string sha256_hex;
};

// Not thread-safe; the test drives it from one thread.
class AttackTarget {
 public:
  // Starts a coordinator for `job` whose --join_token_file holds
  // "NAME TOKEN" lines for `identities`, "honest" and "observer"; joins the
  // observer; with `honest_worker`, starts a worker "honest" (with the bare
  // token in its own file) and waits for its first task. ready() says
  // whether all of that worked.
  AttackTarget(const std::string& name, const std::string& job, const std::vector<std::string>& identities,
               bool honest_worker);
  // Prints the coordinator's RSS (at the start, and the most seen) and the
  // honest worker's tasks (when the attacks began, and at the end).
  ~AttackTarget();

  bool ready() const { return codec_ != nullptr; }
  Cluster& cluster() { return cluster_; }
  int port() const { return cluster_.grpc_port(); }
  nlohmann::json Status() const { return cluster_.Status(); }

  // A new connection joined as `identity`; nullptr (and a test failure)
  // when the join is refused.
  std::unique_ptr<HostileClient> Attacker(const std::string& identity);

  // The job's codec, as a worker builds it from its JoinResponse.
  size_t num_params() const { return model_->layout().size(); }
  std::string codec_name() const;
  std::string Encode(absl::Span<const float> update) const;
  // A well-formed update (all zeros) that would be applied if the rest of
  // its upload were right.
  std::string ValidPayload() const;

  // Pauses the honest worker (SIGSTOP, until Thaw) once it has just been
  // heard from, waits until the model stops moving, and records it.
  ModelState Freeze();
  void Thaw();
  // The model is still `before`: version, applied count and weights.
  void ExpectUntouched(const ModelState& before);

  // Tasks the honest worker finished, over all its sessions.
  int64_t HonestTasksDone() const;

  // What every test must leave behind: the RSS within kRssHeadroomBytes of
  // where it started, no update of an attacker ("atk-" names) accepted,
  // the honest worker not banned.
  void ExpectBoundedAndUnharmed();

 private:
  double HonestLastSeenS() const;
  // The SHA-256 (hex) of the model handed out now, which must be `version`.
  std::string CurrentModelSha256(uint64_t version);

  Cluster cluster_;
  std::unique_ptr<HostileClient> observer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Codec> codec_;  // Borrows model_'s layout.
  Process* honest_ = nullptr;     // Owned by cluster_.
  int64_t honest_tasks_start_ = 0;
  int64_t rss_start_ = 0;
  int64_t rss_max_ = 0;
};

}  // namespace tributary::testing

#endif  // TRIBUTARY_TESTS_E2E_HOSTILE_TARGET_H_
