// A persistent pool of worker threads for the matrix products: a decode
// step is ~200 products of tens of microseconds each, so starting threads
// per call (tens of microseconds) would cost more than the work. Workers
// spin briefly after a job, as ggml's and OpenMP's pools do, so that the
// next call finds them awake, then sleep.
#ifndef BITNET_GEMM_THREAD_POOL_H_
#define BITNET_GEMM_THREAD_POOL_H_

#include <cstddef>

namespace bitnet {

// A job: part p of `parts` (p = 0 runs on the calling thread). A part
// cannot fail: what it needs is allocated before the job runs.
class PoolJob {
 public:
  virtual void RunPart(size_t part) noexcept = 0;

 protected:
  ~PoolJob() = default;
};

// Runs job.RunPart(p) for every p in [0, parts), one part per thread, and
// returns when all are done. Calls from several threads take turns. A part
// whose worker the system refuses to start runs on the calling thread.
void RunOnPool(PoolJob& job, size_t parts);

}  // namespace bitnet

#endif  // BITNET_GEMM_THREAD_POOL_H_
