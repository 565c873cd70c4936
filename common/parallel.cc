#include "common/parallel.h"

#include <atomic>
#include <thread>

#include "Eigen/Core"

namespace tributary {
namespace {

int DefaultThreads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

std::atomic<int> compute_threads{DefaultThreads()};

}  // namespace

void SetComputeThreads(int threads) {
  threads = std::max(threads, 1);
  compute_threads.store(threads);
  Eigen::setNbThreads(threads);
}

int ComputeThreads() { return compute_threads.load(); }

}  // namespace tributary
