// The products of the REFERENCE target: the scalar rules of
// formats/dot_rules, one output at a time.
#include "cpu/gemm_kernels.h"
#include "formats/dot_rules.h"

namespace bitnet {
namespace {

size_t NoWorkspace(const GemmProblem&) { return 0; }
void NoArrangement(const GemmProblem&, uint8_t*, size_t, size_t) {}

float ReferenceOutput(const GemmProblem& p, size_t r, size_t t) {
  const Layout& l = GetLayout(p.layout);
  const GemmActs& a = p.acts;
  const size_t nblocks = p.cols / static_cast<size_t>(l.block_elements);
  const uint8_t* w = p.weights + r * nblocks * l.block_bytes;  // block-local layouts
  const uint8_t* x = a.blocks + t * a.row_bytes;
  switch (p.layout) {
    case LayoutId::kI2_S: {
      const int32_t sum = I2SCodeSum(p.weights, r * p.cols, a.q + t * p.cols, p.cols);
      return I2SOutput(sum, a.sums[t], a.scales[t], p.w_scale);
    }
    case LayoutId::kTQ1_0: return DotTQ1_0(w, x, nblocks);
    case LayoutId::kTQ2_0: return DotTQ2_0(w, x, nblocks);
    case LayoutId::kQ2_0: return DotQ2_0(w, x, nblocks);
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

void ReferenceRows(const GemmProblem& p, const uint8_t*, size_t begin, size_t end) {
  for (size_t t = 0; t < p.batch; ++t) {
    for (size_t r = begin; r < end; ++r) p.y[t * p.y_stride + r] = ReferenceOutput(p, r, t);
  }
}

}  // namespace

const GemmKernels kReferenceGemmKernels = {NoWorkspace, NoArrangement, ReferenceRows, 1};

}  // namespace bitnet
