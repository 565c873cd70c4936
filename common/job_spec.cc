#include "common/job_spec.h"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/codec/codec.h"
#include "common/file.h"
#include "common/job_limits.h"
#include "common/models/model.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace tributary {
namespace {

using tributary::v1::JobSpec;
using FieldPath = std::initializer_list<const char*>;

// The Debian package fortunes: plain-text files beside their .dat indexes
// and .u8 links to themselves.
constexpr char kDefaultCorpus[] = "/usr/share/games/fortunes/*";
constexpr const char* kDefaultCorpusExcludes[] = {"*.dat", "*.u8"};

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(absl::string_view source) : source_(source) {}
  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

// Collects semantic errors, each located at the line where the offending
// field was written (when it was written at all).
class Validator {
 public:
  Validator(absl::string_view source, const google::protobuf::TextFormat::ParseInfoTree* tree)
      : source_(source), tree_(tree) {}

  void Require(bool ok, FieldPath path, absl::string_view message) {
    if (!ok) errors_.push_back(absl::StrCat(Where(path), absl::StrJoin(path, "."), ": ", message));
  }
  void Require(const absl::Status& status, FieldPath path) {
    if (!status.ok()) Require(false, path, status.message());
  }
  absl::Status status() const {
    if (errors_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
  }

 private:
  // "source:line: " for a field written in the text, else "source: ".
  std::string Where(FieldPath path) const {
    const google::protobuf::Descriptor* type = JobSpec::descriptor();
    const google::protobuf::TextFormat::ParseInfoTree* tree = tree_;
    google::protobuf::TextFormat::ParseLocation location;
    for (const char* name : path) {
      const google::protobuf::FieldDescriptor* field = type ? type->FindFieldByName(name) : nullptr;
      if (field == nullptr || tree == nullptr) break;
      const int index = field->is_repeated() ? 0 : -1;
      location = tree->GetLocation(field, index);
      tree = tree->GetTreeForNested(field, index);
      type = field->message_type();
    }
    if (location.line < 0) return absl::StrCat(source_, ": ");
    return absl::StrCat(source_, ":", location.line + 1, ": ");
  }

  std::string source_;
  const google::protobuf::TextFormat::ParseInfoTree* tree_;
  std::vector<std::string> errors_;
};

// A job that names neither model nor data is the Fashion-MNIST MLP; one
// that names only the model gets that model's usual data.
void FillDefaults(JobSpec& job) {
  if (job.model().kind_case() == tributary::v1::ModelSpec::KIND_NOT_SET) {
    job.mutable_model()->mutable_mlp();
  }
  if (job.data().source_case() == tributary::v1::DataSpec::SOURCE_NOT_SET && job.model().has_mlp()) {
    job.mutable_data()->mutable_fashion_mnist();
  }
  if (job.data().source_case() == tributary::v1::DataSpec::SOURCE_NOT_SET && job.model().has_gpt()) {
    tributary::v1::TextData* text = job.mutable_data()->mutable_text();
    text->add_files(kDefaultCorpus);
    for (const char* pattern : kDefaultCorpusExcludes) text->add_exclude(pattern);
  }
}

std::string Got(double v) { return absl::StrCat(", got ", v); }

void ValidateLimits(const tributary::v1::LimitsSpec& limits, Validator& v) {
  const auto positive = [&v](double value, const char* field) {
    v.Require(std::isfinite(value) && value > 0, {"limits", field}, "must be positive" + Got(value));
  };
  positive(limits.requests_per_s(), "requests_per_s");
  v.Require(limits.request_burst() >= 1, {"limits", "request_burst"},
            "must be at least 1" + Got(limits.request_burst()));
  positive(limits.joins_per_minute_per_identity(), "joins_per_minute_per_identity");
  positive(limits.joins_per_minute_per_ip(), "joins_per_minute_per_ip");
  positive(limits.stream_grace_s(), "stream_grace_s");
  positive(limits.min_transfer_bytes_per_s(), "min_transfer_bytes_per_s");
  positive(limits.ban_duration_s(), "ban_duration_s");
  v.Require(limits.max_sessions_per_identity() >= 1, {"limits", "max_sessions_per_identity"},
            "must be at least 1" + Got(limits.max_sessions_per_identity()));
  v.Require(limits.max_streams_per_worker() >= 2, {"limits", "max_streams_per_worker"},
            "must be at least 2 (a download beside an upload)" + Got(limits.max_streams_per_worker()));
  v.Require(limits.max_concurrent_uploads() >= 1, {"limits", "max_concurrent_uploads"},
            "must be at least 1" + Got(limits.max_concurrent_uploads()));
}

void ValidateOptimizer(const tributary::v1::OptimizerSpec& opt, const char* name, Validator& v) {
  v.Require(std::isfinite(opt.lr()) && opt.lr() > 0 && opt.lr() <= 100, {name, "lr"},
            "must be in (0, 100]" + Got(opt.lr()));
  v.Require(opt.momentum() >= 0 && opt.momentum() < 1, {name, "momentum"},
            "must be in [0, 1)" + Got(opt.momentum()));
  v.Require(std::isfinite(opt.weight_decay()) && opt.weight_decay() >= 0, {name, "weight_decay"},
            "must not be negative" + Got(opt.weight_decay()));
  v.Require(opt.warmup_steps() >= 0, {name, "warmup_steps"}, "must not be negative" + Got(opt.warmup_steps()));
  v.Require(opt.beta1() >= 0 && opt.beta1() < 1, {name, "beta1"}, "must be in [0, 1)" + Got(opt.beta1()));
  v.Require(opt.beta2() >= 0 && opt.beta2() < 1, {name, "beta2"}, "must be in [0, 1)" + Got(opt.beta2()));
  v.Require(opt.eps() > 0, {name, "eps"}, "must be positive" + Got(opt.eps()));
  v.Require(std::isfinite(opt.clip_norm()) && opt.clip_norm() >= 0, {name, "clip_norm"},
            "must not be negative" + Got(opt.clip_norm()));
  v.Require(opt.momentum_period() >= 1 && opt.momentum_period() <= kMaxMomentumPeriod, {name, "momentum_period"},
            absl::StrCat("must be in [1, ", kMaxMomentumPeriod, "]") + Got(opt.momentum_period()));
  v.Require(opt.momentum_period() == 1 || (opt.kind() == tributary::v1::OptimizerSpec::SGD && opt.nesterov()),
            {name, "momentum_period"}, "needs kind SGD with nesterov (delayed Nesterov)");
}

void Validate(const JobSpec& job, Validator& v) {
  v.Require(!job.name().empty() && job.name().size() <= kMaxJobNameBytes, {"name"},
            absl::StrCat("must be 1 to ", kMaxJobNameBytes, " characters"));
  const absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(job.model());
  v.Require(model.status(), {"model"});
  if (model.ok()) {
    const int64_t params = (*model)->layout().size();
    v.Require(params <= kMaxModelParams, {"model"},
              absl::StrCat("has ", params, " parameters, at most ", kMaxModelParams,
                           " fit a checkpoint (one protobuf message, at most 2 GiB)"));
  }

  const auto& data = job.data();
  v.Require(data.shard_examples() >= 1 && data.shard_examples() <= kMaxShardExamples, {"data", "shard_examples"},
            absl::StrCat("must be in [1, ", kMaxShardExamples, "]") + Got(data.shard_examples()));
  if (data.has_fashion_mnist()) {
    v.Require(!data.fashion_mnist().dir().empty(), {"data", "fashion_mnist", "dir"}, "must not be empty");
    v.Require(data.fashion_mnist().max_train_examples() >= 0,
              {"data", "fashion_mnist", "max_train_examples"},
              "must not be negative" + Got(data.fashion_mnist().max_train_examples()));
    v.Require(job.model().has_mlp(), {"model"}, "fashion_mnist data needs an mlp model");
  }
  if (data.has_text()) {
    v.Require(data.text().files_size() > 0, {"data", "text", "files"}, "must name at least one file");
    v.Require(data.text().eval_fraction() > 0 && data.text().eval_fraction() <= 0.5,
              {"data", "text", "eval_fraction"}, "must be in (0, 0.5]" + Got(data.text().eval_fraction()));
    v.Require(job.model().has_gpt(), {"model"}, "text data needs a gpt model");
  }

  v.Require(job.eval().interval_versions() >= 1, {"eval", "interval_versions"},
            "must be at least 1" + Got(job.eval().interval_versions()));
  v.Require(job.eval().max_examples() >= 0, {"eval", "max_examples"},
            "must not be negative" + Got(job.eval().max_examples()));

  ValidateOptimizer(job.optimizer(), "optimizer", v);
  v.Require(std::isfinite(job.worker_momentum()) && job.worker_momentum() >= 0 && job.worker_momentum() < 1,
            {"worker_momentum"}, "must be in [0, 1)" + Got(job.worker_momentum()));
  v.Require(job.local_steps() >= 1 && job.local_steps() <= kMaxLocalSteps, {"local_steps"},
            absl::StrCat("must be in [1, ", kMaxLocalSteps, "]") + Got(job.local_steps()));
  v.Require(!job.overlap() || job.local_steps() > 1, {"overlap"},
            absl::StrCat("needs local_steps > 1 (it overlaps a multi-step task's local steps with sending "
                         "the update before), got local_steps ", job.local_steps()));
  if (job.local_steps() > 1) {
    ValidateOptimizer(job.inner_optimizer(), "inner_optimizer", v);
    v.Require(job.worker_momentum() == 0, {"worker_momentum"},
              "applies to gradients (local_steps 1); DiLoCo's inner optimizer has its own momentum" +
                  Got(job.worker_momentum()));
    v.Require(data.shard_examples() >= job.local_steps(), {"local_steps"},
              absl::StrCat("must not exceed data.shard_examples (", data.shard_examples(),
                           "): each local step takes a batch of the shard") + Got(job.local_steps()));
  }

  const auto& agg = job.aggregation();
  v.Require(agg.max_staleness() >= 0, {"aggregation", "max_staleness"},
            "must not be negative" + Got(agg.max_staleness()));
  v.Require(std::isfinite(agg.staleness_exponent()) && agg.staleness_exponent() >= 0,
            {"aggregation", "staleness_exponent"}, "must not be negative" + Got(agg.staleness_exponent()));
  v.Require(agg.buffer_size() >= 1 && agg.buffer_size() <= kMaxBufferSize, {"aggregation", "buffer_size"},
            absl::StrCat("must be in [1, ", kMaxBufferSize, "]") + Got(agg.buffer_size()));
  v.Require(agg.trim_fraction() >= 0 && agg.trim_fraction() < 0.5, {"aggregation", "trim_fraction"},
            "must be in [0, 0.5)" + Got(agg.trim_fraction()));
  v.Require(std::isfinite(agg.clip_tau()) && agg.clip_tau() > 0, {"aggregation", "clip_tau"},
            "must be positive" + Got(agg.clip_tau()));
  v.Require(agg.clip_iterations() >= 1 && agg.clip_iterations() <= kMaxClipIterations,
            {"aggregation", "clip_iterations"},
            absl::StrCat("must be in [1, ", kMaxClipIterations, "]") + Got(agg.clip_iterations()));
  v.Require(std::isfinite(agg.norm_check_factor()) && agg.norm_check_factor() >= 0,
            {"aggregation", "norm_check_factor"}, "must not be negative" + Got(agg.norm_check_factor()));
  v.Require(agg.norm_window() >= 1 && agg.norm_window() <= kMaxNormWindow, {"aggregation", "norm_window"},
            absl::StrCat("must be in [1, ", kMaxNormWindow, "]") + Got(agg.norm_window()));
  v.Require(agg.quorum() >= 1 && agg.quorum() <= agg.buffer_size(), {"aggregation", "quorum"},
            absl::StrCat("must be in [1, aggregation.buffer_size (", agg.buffer_size(), ")]") + Got(agg.quorum()));
  v.Require(agg.quorum() == 1 || agg.rule() != tributary::v1::AggregationSpec::MEAN, {"aggregation", "quorum"},
            "applies to robust rules (the mean counts every update)" + Got(agg.quorum()));
  v.Require(agg.rule() == tributary::v1::AggregationSpec::MEAN || agg.buffer_size() >= 3, {"aggregation", "rule"},
            absl::StrCat("a robust rule needs aggregation.buffer_size of at least 3, got ", agg.buffer_size()));
  const bool sync = agg.mode() == tributary::v1::AggregationSpec::SYNC;
  v.Require(agg.sync_quorum() >= 0 && agg.sync_quorum() <= agg.buffer_size(), {"aggregation", "sync_quorum"},
            absl::StrCat("must be in [0, aggregation.buffer_size (", agg.buffer_size(), ")]; 0: wait for all") +
                Got(agg.sync_quorum()));
  v.Require(sync || !agg.has_sync_quorum(), {"aggregation", "sync_quorum"}, "applies to aggregation.mode SYNC");
  v.Require(std::isfinite(agg.straggler_grace_s()) && agg.straggler_grace_s() >= 0 &&
                agg.straggler_grace_s() <= kMaxBudgetSeconds,
            {"aggregation", "straggler_grace_s"},
            absl::StrCat("must be in [0, ", static_cast<int64_t>(kMaxBudgetSeconds), "]") +
                Got(agg.straggler_grace_s()));
  v.Require(!sync || !job.overlap(), {"overlap"},
            "needs aggregation.mode ASYNC: a SYNC round's tasks all start from the round's version");
  if (std::optional<CodecSpecError> codec = CheckCodecSpec(job.codec())) {
    v.Require(false, {"codec", codec->field}, codec->why);
  }
  v.Require(job.budget().epochs() >= 1 && job.budget().epochs() <= kMaxEpochs, {"budget", "epochs"},
            absl::StrCat("must be in [1, ", kMaxEpochs, "]") + Got(job.budget().epochs()));
  const double seconds = job.budget().seconds();
  v.Require(std::isfinite(seconds) && seconds >= 0 && seconds <= kMaxBudgetSeconds, {"budget", "seconds"},
            absl::StrCat("must be in [0, ", static_cast<int64_t>(kMaxBudgetSeconds), "] (0: no time budget)") +
                Got(seconds));

  const auto& lease = job.lease();
  v.Require(lease.lease_timeout_s() > 0, {"lease", "lease_timeout_s"},
            "must be positive" + Got(lease.lease_timeout_s()));
  v.Require(lease.heartbeat_interval_s() > 0, {"lease", "heartbeat_interval_s"},
            "must be positive" + Got(lease.heartbeat_interval_s()));
  v.Require(lease.heartbeat_timeout_s() > lease.heartbeat_interval_s(),
            {"lease", "heartbeat_timeout_s"},
            absl::StrCat("must exceed heartbeat_interval_s (", lease.heartbeat_interval_s(), ")") +
                Got(lease.heartbeat_timeout_s()));
  v.Require(lease.max_invalid_requests() >= 1, {"lease", "max_invalid_requests"},
            "must be at least 1" + Got(lease.max_invalid_requests()));
  ValidateLimits(job.limits(), v);
  const auto& checkpoint = job.checkpoint();
  v.Require(std::isfinite(checkpoint.interval_s()) && checkpoint.interval_s() >= 0.1, {"checkpoint", "interval_s"},
            "must be at least 0.1" + Got(checkpoint.interval_s()));
  v.Require(checkpoint.interval_versions() >= 0, {"checkpoint", "interval_versions"},
            "must not be negative" + Got(checkpoint.interval_versions()));
}

}  // namespace

absl::StatusOr<JobSpec> ParseJobSpec(absl::string_view text, absl::string_view source) {
  JobSpec job;
  CollectErrors syntax_errors(source);
  google::protobuf::TextFormat::ParseInfoTree tree;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&syntax_errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &job)) {
    return absl::InvalidArgumentError(absl::StrJoin(syntax_errors.errors(), "\n"));
  }
  FillDefaults(job);
  Validator validator(source, &tree);
  Validate(job, validator);
  if (!validator.status().ok()) return validator.status();
  return job;
}

absl::StatusOr<JobSpec> LoadJobSpec(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseJobSpec(*text, path);
}

JobSpec DefaultJobSpec() {
  absl::StatusOr<JobSpec> job = ParseJobSpec(kDefaultJobText, kDefaultJobName);
  // The job_spec test validates the built-in job.
  return *std::move(job);
}

}  // namespace tributary
