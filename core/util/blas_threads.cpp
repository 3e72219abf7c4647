#include "core/util/blas_threads.h"

#include <unistd.h>

#include <cstdlib>

namespace gfm::core {

void ensureSingleThreadedBlas(char** argv)
{
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) {
    return;
  }
  setenv("OPENBLAS_NUM_THREADS", "1", 1);
  execv("/proc/self/exe", argv);
  // execv returned: the program goes on with the pool it has, which is slower but correct.
}

} // namespace gfm::core
