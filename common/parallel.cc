#include "common/parallel.h"

#include <omp.h>

namespace tributary {

ScopedEigenThreads::ScopedEigenThreads(int threads) : saved_(omp_get_max_threads()) {
  omp_set_num_threads(std::max(threads, 1));
}

ScopedEigenThreads::~ScopedEigenThreads() { omp_set_num_threads(saved_); }

}  // namespace tributary
