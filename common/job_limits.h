// The upper bounds a job is validated against (common/job_spec.cc), each
// named once so that code relying on one checks the same number: the worker
// refuses a task beyond kMaxLocalSteps whatever coordinator sent it
// (worker/trainer.cc). Lower bounds and ranges that follow from the maths
// (a fraction below 0.5, a positive rate) stay where they are checked.
#ifndef TRIBUTARY_COMMON_JOB_LIMITS_H_
#define TRIBUTARY_COMMON_JOB_LIMITS_H_

#include <cstdint>

namespace tributary {

// Local steps per task (DiLoCo's H; job.local_steps, Task.local_steps).
// DiLoCo runs with H = 500; 10,000 leaves room for far longer inner loops
// while keeping one task, computed under one lease, bounded in time.
inline constexpr int32_t kMaxLocalSteps = 10'000;

// Updates in one delayed-Nesterov period (optimizer.momentum_period): the
// momentum moves the weights once per period, so a period longer than a
// run would leave it idle for good. Same order as kMaxLocalSteps.
inline constexpr int32_t kMaxMomentumPeriod = 10'000;

// Examples in a shard (data.shard_examples), which a worker downloads per
// task: this bounds that download at about 256 MiB (65,536 sequences of the
// largest GPT context, 4,097 bytes each).
inline constexpr int32_t kMaxShardExamples = 65'536;

// Updates per version (aggregation.buffer_size). The coordinator keeps one
// model-sized fp32 buffer per update waiting (coordinator/aggregator.h),
// so this bounds its memory at 256 models beside the weights.
inline constexpr int32_t kMaxBufferSize = 256;

// Centered clip's iterations (aggregation.clip_iterations): each is a pass
// over the whole buffer while the step waits (the default is 3).
inline constexpr int32_t kMaxClipIterations = 100;

// Recent update norms the norm check keeps (aggregation.norm_window); each
// check takes their median, so the window is copied per update.
inline constexpr int32_t kMaxNormWindow = 4096;

// Passes over the data (budget.epochs): the ledger lays out every epoch's
// work items at the start (coordinator/ledger.h), so this bounds it.
inline constexpr int32_t kMaxEpochs = 100'000;

// Bytes of the job's name (name), shown on the status page and in metrics.
inline constexpr int kMaxJobNameBytes = 128;

// A checkpoint holds the weights as one field of one protobuf message, and
// protobuf caps a message at 2 GiB: 2^29 fp32 values. (It also keeps every
// model below topk's 2^32 indices, and a model the coordinator cannot
// allocate from being refused only after the job was accepted.)
inline constexpr int64_t kMaxModelParams = int64_t{1} << 29;

// The longest wall-clock budget (budget.seconds, and the straggler grace):
// about three years, far past any run, and small enough that seconds and
// steps estimated from it stay exact.
inline constexpr double kMaxBudgetSeconds = 1e8;

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_JOB_LIMITS_H_
