// Splitting a tensor operation over threads: contiguous ranges of tasks, one
// per thread, the caller's thread taking the first, each with its own
// scratch allocated before any pass runs (so that running out of memory is
// reported before anything is written).
#ifndef BITNET_TENSOR_PARALLEL_H_
#define BITNET_TENSOR_PARALLEL_H_

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "threads/thread_pool.h"

namespace bitnet {

// Part p of ParallelFor: fn(p, begin, end) over its range.
template <class Fn>
class RangeJob final : public PoolJob {
 public:
  RangeJob(size_t parts, size_t tasks, const Fn& fn) : parts_(parts), tasks_(tasks), fn_(fn) {}
  void RunPart(size_t part) noexcept override { fn_(part, Begin(part), Begin(part + 1)); }

 private:
  size_t Begin(size_t part) const { return tasks_ * part / parts_; }
  size_t parts_, tasks_;
  const Fn& fn_;
};

// Runs fn(part, begin, end) over [0, tasks) in at most `parts` contiguous
// ranges, on the persistent pool (threads/thread_pool.h: a part may run on
// the calling thread, later). Results never depend on the split: every
// operation computes each task alone and combines reductions in task
// order. The calling thread then reports the CPU target its parts' kernels
// ran.
template <class Fn>
void ParallelFor(size_t parts, size_t tasks, const Fn& fn) {
  if (parts > tasks) parts = tasks;
  if (parts <= 1) {
    if (tasks > 0) fn(size_t{0}, size_t{0}, tasks);
    return;
  }
  RangeJob<Fn> job(parts, tasks, fn);
  RunOnPool(job, parts);
}

// Two float buffers per thread, not initialised: every pass writes what it
// reads (zeroing them took a tenth of a 256x256 transcode).
struct Scratch {
  std::unique_ptr<float[]> a, b;
};

class Workers {
 public:
  Workers(int threads, size_t floats) : scratch_() {
    try {
      scratch_.resize(threads > 1 ? static_cast<size_t>(threads) : 1);
      for (Scratch& s : scratch_) {
        s.a.reset(new float[floats]);
        s.b.reset(new float[floats]);
      }
      ok_ = true;
    } catch (const std::bad_alloc&) {
      scratch_.clear();
    }
  }
  bool ok() const { return ok_; }

  // fn(scratch, begin, end) over [0, tasks).
  template <class Fn>
  void Run(size_t tasks, const Fn& fn) {
    ParallelFor(scratch_.size(), tasks,
                [&](size_t part, size_t begin, size_t end) { fn(scratch_[part], begin, end); });
  }

 private:
  std::vector<Scratch> scratch_;
  bool ok_ = false;
};

}  // namespace bitnet

#endif  // BITNET_TENSOR_PARALLEL_H_
