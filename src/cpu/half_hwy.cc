// Highway kernels of the element types: F32, F16 and BF16 <-> f32 with
// ggml's conversions (formats/half.h), in the integer steps of
// cpu/tensor-inl.h, so that no result depends on the floating-point
// environment (flush-to-zero, denormals-are-zero, the rounding mode) or on
// F16C's NaN handling; and the streaming copy of elements to large outputs.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/half_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/cache_control.h"

#include <cstdint>
#include <cstring>

#include "cpu/kernels.h"
#include "cpu/tensor-inl.h"
#include "formats/layouts.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

// `type` is F32, F16 or BF16 (the API checks).
void ToFloat(LayoutId type, const void* HWY_RESTRICT in, size_t n, float* HWY_RESTRICT y) {
  ReportThisTarget();
  ElementsToFloats(type, in, n, y);
}

void FromFloat(LayoutId type, const float* HWY_RESTRICT x, size_t n, void* HWY_RESTRICT out) {
  ReportThisTarget();
  FloatsToElements(type, x, n, out);
}

void StreamOut(const void* HWY_RESTRICT in, size_t bytes, void* HWY_RESTRICT out) {
  ReportThisTarget();
  StreamBytes(in, bytes, out);
}

void StreamFence() {
  ReportThisTarget();
  hwy::FlushStream();
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(ToFloat);
HWY_EXPORT(FromFloat);
HWY_EXPORT(StreamOut);
HWY_EXPORT(StreamFence);

void HwyHalfKernels(int64_t hwy_target, TensorKernels* k) {
  k->to_float = HwyTableEntry(HWY_DISPATCH_TABLE(ToFloat), hwy_target);
  k->from_float = HwyTableEntry(HWY_DISPATCH_TABLE(FromFloat), hwy_target);
  k->stream_out = HwyTableEntry(HWY_DISPATCH_TABLE(StreamOut), hwy_target);
  k->stream_fence = HwyTableEntry(HWY_DISPATCH_TABLE(StreamFence), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
