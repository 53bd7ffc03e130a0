// Splitting a tensor operation over threads: contiguous ranges of tasks, one
// per thread, the caller's thread taking the first, each with its own
// scratch allocated before any pass runs (so that running out of memory is
// reported before anything is written).
#ifndef BITNET_TENSOR_PARALLEL_H_
#define BITNET_TENSOR_PARALLEL_H_

#include <cstddef>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include "cpu/target_list.h"

namespace bitnet {

// Runs fn(part, begin, end) over [0, tasks) in at most `parts` contiguous
// ranges. Results never depend on the split: every operation computes each
// task alone and combines reductions in task order. If the system refuses a
// thread, or the memory to start one, its range runs on the calling thread
// (same results, later): nothing here throws once a part has started. The
// calling thread then reports the CPU target its parts' kernels ran.
template <class Fn>
void ParallelFor(size_t parts, size_t tasks, const Fn& fn) {
  if (parts > tasks) parts = tasks;
  if (parts <= 1) {
    if (tasks > 0) fn(size_t{0}, size_t{0}, tasks);
    return;
  }
  PartReports reports;
  const auto begin_of = [&](size_t p) { return tasks * p / parts; };
  const auto run_part = [&](size_t p) { reports.Run([&] { fn(p, begin_of(p), begin_of(p + 1)); }); };
  std::vector<std::thread> workers;
  try {
    workers.reserve(parts - 1);
  } catch (const std::bad_alloc&) {  // no room to hold workers: every range runs here
  }
  for (size_t p = 1; p < parts; ++p) {
    if (workers.size() < workers.capacity()) {  // so emplace_back cannot reallocate
      try {
        workers.emplace_back([&run_part, p] { run_part(p); });
        continue;
      } catch (const std::system_error&) {
      } catch (const std::bad_alloc&) {
      }
    }
    run_part(p);
  }
  run_part(0);
  for (std::thread& w : workers) w.join();
  reports.Publish();
}

// Two float buffers per thread.
struct Scratch {
  std::vector<float> a, b;
};

class Workers {
 public:
  Workers(int threads, size_t floats) : scratch_() {
    try {
      scratch_.resize(threads > 1 ? static_cast<size_t>(threads) : 1);
      for (Scratch& s : scratch_) {
        s.a.resize(floats);
        s.b.resize(floats);
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
