#include "threads/thread_pool.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include "cpu/target_list.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BITNET_SPIN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define BITNET_SPIN_PAUSE() __asm__ __volatile__("yield")
#else
#define BITNET_SPIN_PAUSE() ((void)0)
#endif

namespace bitnet {
namespace {

// How long an idle worker keeps polling before it sleeps.
constexpr std::chrono::microseconds kSpin{200};

// Every part on the calling thread, which then reports their CPU target.
void RunHere(PoolJob& job, size_t parts) {
  PartReports reports;
  for (size_t p = 0; p < parts; ++p) reports.Run([&] { job.RunPart(p); });
  reports.Publish();
}

// Counts the fork() calls that made this process (a child handler of
// pthread_atfork): a pool belongs to the process of its generation.
std::atomic<unsigned> g_fork_generation{0};

// Where pthread_atfork refused the handler (ENOMEM), the process id tells
// a child from its parent instead, at a system call per threaded call.
bool g_fork_handler_registered = false;

class Pool {
 public:
  explicit Pool(unsigned fork_generation) : fork_generation_(fork_generation) {}
  unsigned fork_generation() const { return fork_generation_; }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(wake_mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  void Run(PoolJob& job, size_t parts) {
    // One job at a time: a call that finds the pool taken (by another
    // thread's job, or by its own thread's, from inside a part) runs here.
    bool idle = false;
    if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire, std::memory_order_relaxed)) {
      return RunHere(job, parts);
    }
    const size_t workers = Grow(parts - 1 < kActiveMask ? parts - 1 : kActiveMask);
    job_ = &job;
    PartReports reports;
    reports_ = &reports;
    remaining_.store(workers, std::memory_order_relaxed);
    {
      // Under the lock, so that a worker between its check and its wait
      // cannot miss the new generation.
      std::lock_guard<std::mutex> lock(wake_mutex_);
      const uint64_t generation = (state_.load(std::memory_order_relaxed) >> kActiveBits) + 1;
      state_.store(generation << kActiveBits | workers, std::memory_order_release);
    }
    wake_.notify_all();
    RunPart(0);
    for (size_t p = workers + 1; p < parts; ++p) RunPart(p);  // refused workers
    // Waits for the workers; yields now and then, in case one of them waits
    // for this core.
    for (unsigned i = 1; remaining_.load(std::memory_order_acquire) != 0; ++i) {
      if (i % 1024 == 0) {
        std::this_thread::yield();
      } else {
        BITNET_SPIN_PAUSE();
      }
    }
    job_ = nullptr;
    reports_ = nullptr;
    busy_.store(false, std::memory_order_release);
    reports.Publish();
  }

 private:
  // Part p of the current job, its kernels' CPU target added to the job's
  // reports (which the calling thread publishes: it may run no chunk).
  void RunPart(size_t part) {
    reports_->Run([&] { job_->RunPart(part); });
  }

  // Starts workers until `want` exist (or the system refuses a thread or the
  // memory for one); returns how many exist.
  size_t Grow(size_t want) {
    while (threads_.size() < want) {
      try {
        // The job state it has seen: the one before the job that starts it.
        const size_t id = threads_.size();
        const uint64_t seen = state_.load(std::memory_order_relaxed);
        threads_.emplace_back([this, id, seen] { Work(id, seen); });
      } catch (const std::system_error&) {
        break;
      } catch (const std::bad_alloc&) {
        break;
      }
    }
    return threads_.size() < want ? threads_.size() : want;
  }

  void Work(size_t id, uint64_t seen) {
    for (;;) {
      uint64_t now = seen;
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (unsigned i = 1;; ++i) {
        now = state_.load(std::memory_order_acquire);
        if (now != seen || (i % 256 == 0 && std::chrono::steady_clock::now() > until)) break;
        BITNET_SPIN_PAUSE();
      }
      if (now == seen) {
        std::unique_lock<std::mutex> lock(wake_mutex_);
        wake_.wait(lock, [&] { return stop_ || state_.load(std::memory_order_acquire) != seen; });
        if (stop_) return;
        now = state_.load(std::memory_order_acquire);
      }
      seen = now;
      // Only the workers a job counts read it: it stays until they are done.
      if (id < (now & kActiveMask)) {
        RunPart(id + 1);
        remaining_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  const unsigned fork_generation_;
  // True while a job runs (a flag, not a mutex: a part's own thread may
  // test it, which a std::mutex does not allow).
  std::atomic<bool> busy_{false};
  std::vector<std::thread> threads_;
  // The job; written by Run before the state's release, read by the workers
  // it counts after their acquire.
  PoolJob* job_ = nullptr;
  PartReports* reports_ = nullptr;  // the job's, written and read as job_ is
  // A job's generation and the number of workers it uses, in one word, so
  // that a worker reads both of the same job.
  static constexpr unsigned kActiveBits = 20;
  static constexpr uint64_t kActiveMask = (uint64_t{1} << kActiveBits) - 1;
  std::atomic<uint64_t> state_{0};
  std::atomic<size_t> remaining_{0};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

// The pool of this process. A child of fork() has none of its parent's
// workers, and the parent's pool may hold locks that threads absent from
// the child took: a waiting call would spin for ever. The child starts a
// pool of its own at its first call and leaves the parent's as it is (it
// cannot join threads it does not have). The process's pool is joined
// when the library is unloaded or the process exits.
class ProcessPool {
 public:
  ProcessPool() {
    // Unregistered by glibc when the library is unloaded.
    g_fork_handler_registered =
        pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
  }
  ~ProcessPool() {
    if (!g_fork_handler_registered) CountForkByPid();
    Pool* pool = pool_.load(std::memory_order_acquire);
    if (pool != nullptr && pool->fork_generation() == g_fork_generation.load(std::memory_order_relaxed)) delete pool;
  }

  // Null when the memory for a new pool is refused.
  Pool* Get() {
    if (!g_fork_handler_registered) CountForkByPid();
    const unsigned generation = g_fork_generation.load(std::memory_order_relaxed);
    Pool* pool = pool_.load(std::memory_order_acquire);
    while (pool == nullptr || pool->fork_generation() != generation) {
      Pool* fresh = new (std::nothrow) Pool(generation);
      if (fresh == nullptr) return nullptr;
      if (pool_.compare_exchange_strong(pool, fresh, std::memory_order_acq_rel)) return fresh;
      delete fresh;  // another thread's came first: `pool` is now that one
    }
    return pool;
  }

 private:
  // Without the handler: a process id unlike the one last seen is a fork,
  // counted by the one caller whose exchange records the new id.
  static void CountForkByPid() {
    static std::atomic<pid_t> owner{getpid()};
    const pid_t self = getpid();
    pid_t seen = owner.load(std::memory_order_relaxed);
    if (seen != self && owner.compare_exchange_strong(seen, self, std::memory_order_relaxed))
      g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  }

  std::atomic<Pool*> pool_{nullptr};
};

}  // namespace

void RunOnPool(PoolJob& job, size_t parts) {
  if (parts <= 1) {
    if (parts == 1) job.RunPart(0);
    return;
  }
  static ProcessPool process;
  Pool* pool = process.Get();
  if (pool == nullptr) return RunHere(job, parts);
  pool->Run(job, parts);
}

}  // namespace bitnet
