// The products of the REFERENCE target: the scalar rules of
// formats/dot_rules, one output at a time.
#include "cpu/gemm_kernels.h"
#include "cpu/target_list.h"
#include "formats/dot_rules.h"

namespace bitnet {
namespace {

size_t NoMemory(const GemmProblem&) { return 0; }
void NoArrangement(const GemmProblem&, uint8_t*, size_t, size_t) {}

// Row r of block-local weights against token t's activation blocks.
template <class Dot>
float BlockDot(const GemmProblem& p, size_t r, size_t t, Dot dot) {
  const Layout& l = GetLayout(p.layout);
  const size_t nblocks = p.cols / static_cast<size_t>(l.block_elements);
  return dot(p.weights + r * nblocks * l.block_bytes, p.acts.blocks + t * p.acts.row_bytes, nblocks);
}

float ReferenceOutput(const GemmProblem& p, size_t r, size_t t) {
  const GemmActs& a = p.acts;
  switch (p.layout) {
    case LayoutId::kI2_S: {
      const int32_t sum = I2SCodeSum(p.weights, r * p.cols, a.q + t * p.cols, p.cols);
      return I2SOutput(sum, a.sums[t], a.scales[t], p.w_scale);
    }
    case LayoutId::kTQ1_0: return BlockDot(p, r, t, DotTQ1_0);
    case LayoutId::kTQ2_0: return BlockDot(p, r, t, DotTQ2_0);
    case LayoutId::kQ2_0: return BlockDot(p, r, t, DotQ2_0);
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S: break;  // not a product's weights (src/api rejects them)
  }
  return 0.0f;
}

void ReferenceRows(const GemmProblem& p, const uint8_t*, uint8_t*, size_t begin, size_t end) {
  for (size_t t = 0; t < p.batch; ++t) {
    for (size_t r = begin; r < end; ++r) p.y[t * p.y_stride + r] = ReferenceOutput(p, r, t);
  }
}

}  // namespace

// The kernels report REFERENCE as they run (cpu/target_list.h); the size
// query runs none.
const GemmKernels kReferenceGemmKernels = {NoMemory, ReportingReference<NoArrangement>::Run,
                                           NoMemory, ReportingReference<ReferenceRows>::Run, 1};

}  // namespace bitnet
