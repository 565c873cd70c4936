// Makes absl::Mutex visible to ThreadSanitizer, for test binaries built with
// TRIBUTARY_SANITIZE=thread only (tests/CMakeLists.txt).
//
// Debian's Abseil is built without -fsanitize=thread, so TSan never sees
// its lock words change hands and reports every access a Mutex guards as a
// race. This file defines Mutex's and CondVar's out-of-line members in the
// test binary itself, which makes the dynamic linker bind every caller to
// them, gRPC's own locks included. Each calls Abseil's definition (found
// with dlsym(RTLD_NEXT)) and tells TSan what happened: a release before the
// mutex is let go, an acquire once it is held. A Condition is evaluated
// under the lock, possibly by another thread, so it acquires first too;
// Await and LockWhen* build the Condition they hand Abseil before a release,
// and Unlock acquires before Abseil evaluates the waiters' Conditions, since
// the thread that evaluates one reads it before that Condition's acquire.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

#define TSAN_ABSL_STRING(x) TSAN_ABSL_STRING2(x)
#define TSAN_ABSL_STRING2(x) #x

// Abseil's own definition of the member whose mangled name, after
// "_ZN4absl" and the inline namespace, is `suffix`.
template <typename Function>
Function Real(const char* suffix) {
  const char* ns = TSAN_ABSL_STRING(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = "_ZN4absl" + std::to_string(std::strlen(ns)) + ns + suffix;
  void* function = dlsym(RTLD_NEXT, name.c_str());
  if (function == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Function>(function);
}

struct AnnotatedCondition {
  const absl::Condition* condition;
  absl::Mutex* mu;
};

// A Condition's evaluation is a critical section of its own: it may run
// after its thread's last release (inside Await), so it releases too.
bool EvalHoldingLock(AnnotatedCondition* c) {
  __tsan_acquire(c->mu);
  const bool met = c->condition->Eval();
  __tsan_release(c->mu);
  return met;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

// Unlocking evaluates the waiters' Conditions, which LockWhen* built on
// their own stacks before they released `this` (Abseil's enqueueing is the
// real edge, invisible here): acquire it first.
void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_acquire(this);
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_acquire(this);
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  AnnotatedCondition annotated{&cond, this};
  const Condition wrapped(&EvalHoldingLock, &annotated);
  __tsan_release(this);  // Before the lock holder reads `wrapped` (see Unlock).
  real(this, wrapped);
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  AnnotatedCondition annotated{&cond, this};
  const Condition wrapped(&EvalHoldingLock, &annotated);
  __tsan_release(this);  // Before the lock holder reads `wrapped` (see Unlock).
  real(this, wrapped);
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real =
      Real<bool (*)(Mutex*, const Condition&, Duration)>("5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AnnotatedCondition annotated{&cond, this};
  const Condition wrapped(&EvalHoldingLock, &annotated);
  __tsan_release(this);  // Before the lock holder reads `wrapped` (see Unlock).
  const bool met = real(this, wrapped, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real =
      Real<bool (*)(Mutex*, const Condition&, Time)>("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AnnotatedCondition annotated{&cond, this};
  const Condition wrapped(&EvalHoldingLock, &annotated);
  __tsan_release(this);  // Before the lock holder reads `wrapped` (see Unlock).
  const bool met = real(this, wrapped, deadline);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  AnnotatedCondition annotated{&cond, this};
  const Condition wrapped(&EvalHoldingLock, &annotated);
  __tsan_release(this);
  real(this, wrapped);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real =
      Real<bool (*)(Mutex*, const Condition&, Duration)>("5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AnnotatedCondition annotated{&cond, this};
  const Condition wrapped(&EvalHoldingLock, &annotated);
  __tsan_release(this);
  const bool met = real(this, wrapped, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static const auto real =
      Real<bool (*)(Mutex*, const Condition&, Time)>("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AnnotatedCondition annotated{&cond, this};
  const Condition wrapped(&EvalHoldingLock, &annotated);
  __tsan_release(this);
  const bool met = real(this, wrapped, deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static const auto real =
      Real<bool (*)(CondVar*, Mutex*, Duration)>("7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static const auto real =
      Real<bool (*)(CondVar*, Mutex*, Time)>("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
