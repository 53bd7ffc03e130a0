#include "gemm/gemm_ops.h"

#include <cstring>
#include <vector>

#include "api/errors.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/dot_rules.h"
#include "gemm/thread_pool.h"

namespace bitnet {
namespace {

size_t Ceil(size_t a, size_t b) { return a / b + (a % b != 0); }

// Calls fn(part, begin, end) for `parts` contiguous ranges of [begin, end)
// whose inner bounds are multiples of `align` from begin.
template <class Fn>
class RangeJob final : public PoolJob {
 public:
  RangeJob(size_t parts, size_t begin, size_t end, size_t align, const Fn& fn)
      : parts_(parts), begin_(begin), end_(end), align_(align), fn_(fn) {}
  void RunPart(size_t part) override {
    const size_t b = Bound(part), e = Bound(part + 1);
    if (b < e) fn_(part, b, e);
  }

 private:
  size_t Bound(size_t part) const {
    if (part >= parts_) return end_;
    const size_t units = Ceil(end_ - begin_, align_);
    const size_t at = begin_ + units * part / parts_ * align_;
    return at < end_ ? at : end_;
  }
  size_t parts_, begin_, end_, align_;
  const Fn& fn_;
};

// Runs fn over [begin, end) on up to `threads` threads, each range at least
// `align` long (except the last).
template <class Fn>
void ParallelRanges(int threads, size_t begin, size_t end, size_t align, const Fn& fn) {
  if (begin >= end) return;
  const size_t units = Ceil(end - begin, align);
  const size_t parts = static_cast<size_t>(threads) < units ? static_cast<size_t>(threads) : units;
  RangeJob<Fn> job(parts, begin, end, align, fn);
  RunOnPool(job, parts);
}

// The canonical activations of `batch` tokens, owned.
struct ActBuffers {
  std::vector<int8_t> q;
  std::vector<float> scales;
  std::vector<int32_t> sums;
  std::vector<uint8_t> blocks;
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
  std::vector<uint8_t> workspace;
  const size_t ws_bytes = k.workspace_bytes(p);
  try {
    workspace.resize(ws_bytes);
  } catch (const std::bad_alloc&) {
    return OutOfMemory("arranged activations", ws_bytes);
  }
  uint8_t* ws = workspace.data();
  if (ws_bytes != 0) {
    ParallelRanges(job.threads, 0, p.batch, 1,
                   [&](size_t, size_t b, size_t e) { k.arrange(p, ws, b, e); });
  }
  ParallelRanges(job.threads, job.row_begin, job.row_end, k.row_tile,
                 [&](size_t, size_t b, size_t e) { k.rows(p, ws, b, e); });
  return BITNET_OK;
}

int GemmFromFloat(const GemmJob& job, GemmProblem p, const Layout& x_layout, const void* x) {
  const TensorKernels& tk = *job.kernels->tensor;
  ActKind kind = ActKind::kI8S;
  GemmActKind(p.layout, &kind);
  const size_t n = p.batch, cols = p.cols;
  const size_t row_bytes = cols / ActBlockElements(kind) * ActBlockBytes(kind);
  ActBuffers acts;
  std::vector<float> floats;  // F16/BF16 rows as f32, one per thread
  const bool convert = x_layout.id != LayoutId::kF32;
  try {
    if (kind == ActKind::kI8S) {
      acts.q.resize(n * cols);
      acts.scales.resize(n);
      acts.sums.resize(n);
    } else {
      acts.blocks.resize(n * row_bytes);
    }
    if (convert) floats.resize(static_cast<size_t>(job.threads) * cols);
  } catch (const std::bad_alloc&) {
    return OutOfMemory("quantized activations", n * row_bytes);
  }
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
          tk.i8s_row(f, cols, acts.q.data() + t * cols, &acts.scales[t], &acts.sums[t]);
          break;
        case ActKind::kQ8K:
          tk.encode_blocks(LayoutId::kQ8_K, f, cols / ActBlockElements(kind),
                           acts.blocks.data() + t * row_bytes);
          break;
        case ActKind::kQ8_0:
          tk.encode_blocks(LayoutId::kQ8_0, f, cols / ActBlockElements(kind),
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
