#include "gemm/gemm_ops.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "api/errors.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/dot_rules.h"
#include "threads/thread_pool.h"

namespace bitnet {
namespace {

size_t Ceil(size_t a, size_t b) { return a / b + (a % b != 0); }

// Calls fn(part, begin, end) over [begin, end) in chunks of `chunk` units
// (bounds multiples of it from begin). Each part owns a contiguous run of
// chunks and takes them front to back, so that its weights stream past the
// prefetchers without a break; a part whose run is done takes chunks from
// the back of the others' runs, so that a thread the system runs late (the
// cores may be shared) holds up at most the chunk it has taken. Every
// output is computed alone: who computes what does not change a bit.
template <class Fn>
class ChunkJob final : public PoolJob {
 public:
  ChunkJob(size_t begin, size_t end, size_t chunk, size_t parts, const Fn& fn)
      : begin_(begin), end_(end), chunk_(chunk), runs_(parts), fn_(fn) {
    const size_t chunks = Ceil(end - begin, chunk);
    for (size_t p = 0; p < parts; ++p) runs_[p].Assign(chunks * p / parts, chunks * (p + 1) / parts);
  }
  void RunPart(size_t part) noexcept override {
    for (;;) {
      size_t c = 0;
      if (!runs_[part].TakeFront(&c) && !Steal(part, &c)) return;
      const size_t b = begin_ + c * chunk_;
      fn_(part, b, end_ - b < chunk_ ? end_ : b + chunk_);
    }
  }

 private:
  // The chunks [front, back) not yet taken, in one word (each half 32 bits).
  struct alignas(64) Run {
    std::atomic<uint64_t> range{0};
    void Assign(size_t front, size_t back) { range.store(uint64_t{front} << 32 | back, std::memory_order_relaxed); }
    bool TakeFront(size_t* c) { return Take(c, true); }
    bool TakeBack(size_t* c) { return Take(c, false); }
    bool Take(size_t* c, bool front_end) {
      uint64_t r = range.load(std::memory_order_relaxed);
      for (;;) {
        const uint64_t front = r >> 32, back = r & 0xFFFFFFFFu;
        if (front >= back) return false;
        const uint64_t next = front_end ? (front + 1) << 32 | back : front << 32 | (back - 1);
        if (range.compare_exchange_weak(r, next, std::memory_order_relaxed)) {
          *c = static_cast<size_t>(front_end ? front : back - 1);
          return true;
        }
      }
    }
  };

  bool Steal(size_t part, size_t* c) {
    for (size_t i = 1; i < runs_.size(); ++i) {
      if (runs_[(part + i) % runs_.size()].TakeBack(c)) return true;
    }
    return false;
  }

  size_t begin_, end_, chunk_;
  std::vector<Run> runs_;
  const Fn& fn_;
};

// Runs fn over [begin, end) on up to `threads` threads (part = the thread's
// index), in chunks of a multiple of `align`, about four per thread.
template <class Fn>
void ParallelRanges(int threads, size_t begin, size_t end, size_t align, const Fn& fn) {
  if (begin >= end) return;
  const size_t units = Ceil(end - begin, align);
  const size_t parts = static_cast<size_t>(threads) < units ? static_cast<size_t>(threads) : units;
  const size_t chunk = (parts == 1 ? units : Ceil(units, 4 * parts)) * align;
  ChunkJob<Fn> job(begin, end, chunk, parts, fn);
  RunOnPool(job, parts);
}

// A buffer that every use fills before reading: not initialised.
template <class T>
class Buffer {
 public:
  // False when the memory cannot be had.
  bool Allocate(size_t n) {
    data_.reset(new (std::nothrow) T[n]);
    return n == 0 || data_ != nullptr;
  }
  T* data() const { return data_.get(); }

 private:
  std::unique_ptr<T[]> data_;
};

// The canonical activations of `batch` tokens, owned.
struct ActBuffers {
  Buffer<int8_t> q;
  Buffer<float> scales;
  Buffer<int32_t> sums;
  Buffer<uint8_t> blocks;
};

int OutOfMemory(const char* what, size_t bytes) {
  return Fail(BITNET_E_OUT_OF_MEMORY, "out of memory for the %s (%zu bytes)", what, bytes);
}

}  // namespace

float I2SWeightScale(const uint8_t* weights, size_t rows, size_t cols) {
  return ReadI2SScale(weights + rows * cols / 4);
}

int GemmQuantized(const GemmJob& job, const GemmProblem& p) {
  const GemmKernels& k = *job.kernels->gemm;
  Buffer<uint8_t> workspace;
  const size_t ws_bytes = k.workspace_bytes(p);
  if (!workspace.Allocate(ws_bytes)) return OutOfMemory("arranged activations", ws_bytes);
  // Each thread's scratch on its own cache lines.
  constexpr size_t kLine = 64;
  const size_t scratch_stride = Ceil(k.scratch_bytes(p), kLine) * kLine;
  const size_t scratch_bytes = static_cast<size_t>(job.threads) * scratch_stride + kLine;
  Buffer<uint8_t> scratch;
  uint8_t* scratch_base = nullptr;
  if (scratch_stride != 0) {
    if (!scratch.Allocate(scratch_bytes)) return OutOfMemory("threads' scratch", scratch_bytes);
    const size_t misalignment = reinterpret_cast<uintptr_t>(scratch.data()) % kLine;
    scratch_base = scratch.data() + (misalignment == 0 ? 0 : kLine - misalignment);
  }
  uint8_t* ws = workspace.data();
  if (ws_bytes != 0) {
    ParallelRanges(job.threads, 0, p.batch, 1,
                   [&](size_t, size_t b, size_t e) { k.arrange(p, ws, b, e); });
  }
  ParallelRanges(job.threads, job.row_begin, job.row_end, k.row_tile, [&](size_t part, size_t b, size_t e) {
    k.rows(p, ws, scratch_base == nullptr ? nullptr : scratch_base + part * scratch_stride, b, e);
  });
  return BITNET_OK;
}

int GemmFromFloat(const GemmJob& job, GemmProblem p, const Layout& x_layout, const void* x) {
  const TensorKernels& tk = *job.kernels->tensor;
  ActKind kind = ActKind::kI8S;
  GemmActKind(p.layout, &kind);
  const size_t n = p.batch, cols = p.cols;
  const size_t row_bytes = cols / ActBlockElements(kind) * ActBlockBytes(kind);
  ActBuffers acts;
  Buffer<float> floats;  // F16/BF16 rows as f32, one per thread
  const bool convert = x_layout.id != LayoutId::kF32;
  const bool allocated =
      (kind == ActKind::kI8S
           ? acts.q.Allocate(n * cols) && acts.scales.Allocate(n) && acts.sums.Allocate(n)
           : acts.blocks.Allocate(n * row_bytes)) &&
      (!convert || floats.Allocate(static_cast<size_t>(job.threads) * cols));
  if (!allocated) return OutOfMemory("quantized activations", n * (cols + row_bytes));
  const size_t x_elem = x_layout.block_bytes;
  ParallelRanges(job.threads, 0, n, 1, [&](size_t part, size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const void* row = static_cast<const uint8_t*>(x) + t * cols * x_elem;
      const float* f = static_cast<const float*>(row);
      if (convert) {
        float* buffer = floats.data() + part * cols;
        tk.to_float(x_layout.id, row, cols, buffer);
        f = buffer;
      }
      switch (kind) {
        case ActKind::kI8S:
          tk.i8s_row(f, cols, acts.q.data() + t * cols, acts.scales.data() + t, acts.sums.data() + t);
          break;
        case ActKind::kQ8K:
          tk.encode_blocks(LayoutId::kQ8_K, LayoutId::kF32, f, cols / ActBlockElements(kind),
                           acts.blocks.data() + t * row_bytes);
          break;
        case ActKind::kQ8_0:
          tk.encode_blocks(LayoutId::kQ8_0, LayoutId::kF32, f, cols / ActBlockElements(kind),
                           acts.blocks.data() + t * row_bytes);
          break;
      }
    }
  });
  p.acts = {kind, acts.q.data(), acts.scales.data(), acts.sums.data(), acts.blocks.data(),
            row_bytes};
  return GemmQuantized(job, p);
}

}  // namespace bitnet
