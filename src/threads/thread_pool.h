// A persistent pool of worker threads for every call split over threads
// (the matrix products, the tensor operations): a decode step is ~200
// products of tens of microseconds each, and starting a thread per call cost
// about 75 us on the development VM, more than a 256x256 tensor's whole
// transcode. Workers spin briefly after a job, as ggml's and OpenMP's
// pools do, so that the next call finds them awake, then sleep.
#ifndef BITNET_THREADS_THREAD_POOL_H_
#define BITNET_THREADS_THREAD_POOL_H_

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
// returns when all are done; the calling thread then reports the CPU target
// the parts ran (PartReports). A part whose worker the system refuses to
// start runs on the calling thread, and so does every part of a call made
// while the pool runs another job (another thread's, or from inside a
// part): the cores are busy then, and a part waiting for the pool it runs
// on would wait for ever. A child of fork() gets a pool of its own.
void RunOnPool(PoolJob& job, size_t parts);

}  // namespace bitnet

#endif  // BITNET_THREADS_THREAD_POOL_H_
