// The matrix-product entry points: argument checks against the layout
// descriptors, then one product (src/gemm) on the resolved CPU target.
// Nothing is written before every check has passed.
#include <cstring>

#include "api/errors.h"
#include "api/validate.h"
#include "bitnet_quant.h"
#include "cpu/targets.h"
#include "device/device.h"
#include "formats/dot_rules.h"
#include "formats/layouts.h"
#include "gemm/gemm_ops.h"

namespace bitnet {
namespace {

constexpr uint32_t kKnownFlags = BITNET_GEMM_ROW_RANGE;

const bitnet_gemm_options kDefaultOptions = BITNET_GEMM_OPTIONS_INIT;

// What the checks found: the job, the layouts, the problem without its
// activations.
struct GemmCall {
  GemmJob job;
  const Layout* w;
  const Layout* x;  // element type of bitnet_gemm's x
  GemmProblem p;
  bool ranged;                 // BITNET_GEMM_ROW_RANGE
  int64_t row_begin, row_end;  // checked against the shape with it
};

long long LL(int64_t v) { return static_cast<long long>(v); }

// The element type of x: F32, F16 or BF16, else nullptr.
const Layout* XLayout(bitnet_type type) {
  switch (type) {
    case BITNET_TYPE_F32: return &GetLayout(LayoutId::kF32);
    case BITNET_TYPE_F16: return &GetLayout(LayoutId::kF16);
    case BITNET_TYPE_BF16: return &GetLayout(LayoutId::kBF16);
    default: return nullptr;
  }
}

int ResolveGemmOptions(const bitnet_gemm_options* options, GemmCall* call) {
  const bitnet_gemm_options& o = options != nullptr ? *options : kDefaultOptions;
  static constexpr OptionsHead kHead = {"BITNET_GEMM_OPTIONS_INIT or bitnet_gemm_options_init",
                                        sizeof(bitnet_gemm_options), kKnownFlags};
  if (const int status = CheckOptionsHead(kHead, o.struct_size, o.flags, o.n_threads); status != BITNET_OK) {
    return status;
  }
  call->x = XLayout(o.x_type);
  if (call->x == nullptr) {
    Fail(BITNET_E_INVALID_OPTIONS, "options->x_type is %d (%s); x must be F32 (0), F16 (1) or BF16 (30)",
         static_cast<int>(o.x_type), LayoutName(o.x_type));
    return BITNET_E_INVALID_OPTIONS;
  }
  if (o.reserved != 0) {
    return Fail(BITNET_E_INVALID_OPTIONS, "options->reserved is %d; it must be 0", o.reserved);
  }
  const KernelSet* kernels = nullptr;
  const int status = ResolveKernels(o.cpu_target, &kernels);
  if (status != BITNET_OK) return status;
  call->job.kernels = kernels;
  call->job.threads = o.n_threads > 1 ? o.n_threads : 1;
  // The row range is checked against the shape later; keep it for then.
  call->ranged = (o.flags & BITNET_GEMM_ROW_RANGE) != 0;
  call->row_begin = o.row_begin;
  call->row_end = o.row_end;
  if (call->ranged && (o.row_begin < 0 || o.row_end < o.row_begin)) {
    return Fail(BITNET_E_INVALID_ARGUMENT,
                "options->row_begin/row_end are %lld/%lld; the range must satisfy 0 <= row_begin "
                "<= row_end <= rows",
                LL(o.row_begin), LL(o.row_end));
  }
  return BITNET_OK;
}

int ResolveWeights(bitnet_type w_type, GemmCall* call) {
  const Layout* l = FindLayout(w_type);
  ActKind kind;
  if (l == nullptr || !GemmActKind(l->id, &kind)) {
    // The status spelled out: call->w stays unset only on this path.
    Fail(BITNET_E_INVALID_TYPE,
         "w_type is %d (%s); the products take I2_S (36), TQ1_0 (34), TQ2_0 (35) or Q2_0 (42) "
         "weights",
         static_cast<int>(w_type), LayoutName(w_type));
    return BITNET_E_INVALID_TYPE;
  }
  call->w = l;
  return BITNET_OK;
}

bool MulOverflows(uint64_t a, uint64_t b, uint64_t limit) { return b != 0 && a > limit / b; }

// Shapes, the weight tensor and y; fills call->p but for the activations.
int CheckShapeAndWeights(const void* w, size_t w_len, int64_t rows, int64_t cols, int64_t batch,
                         const float* y, GemmCall* call) {
  const Layout& l = *call->w;
  if (batch < 0) {
    return Fail(BITNET_E_INVALID_SHAPE, "batch is %lld; it must be >= 0", LL(batch));
  }
  size_t need = 0;
  int status = bitnet_tensor_size(l.type, rows, cols, &need);
  if (status != BITNET_OK) return status;  // negative or unholdable shapes, with the reason
  if (l.id == LayoutId::kI2_S && cols > kMaxI2SCols) {
    return Fail(BITNET_E_INVALID_SHAPE,
                "I2_S rows of %lld columns: the int32 sums of bitnet.cpp's product are exact up "
                "to %lld columns",
                LL(cols), LL(kMaxI2SCols));
  }
  if (w_len != need) {
    return Fail(BITNET_E_SIZE_MISMATCH, "w_len is %zu; a %lld x %lld %s tensor is %zu bytes", w_len,
                LL(rows), LL(cols), l.name, need);
  }
  if (w == nullptr) return Fail(BITNET_E_NULL_POINTER, "w is NULL");
  // Sizes in 64 bits until they are known to fit size_t (32-bit targets).
  const uint64_t limit = static_cast<uint64_t>(PTRDIFF_MAX) / sizeof(float);
  const uint64_t m64 = static_cast<uint64_t>(rows), k64 = static_cast<uint64_t>(cols),
                 n64 = static_cast<uint64_t>(batch);
  if (n64 > limit || m64 > limit || k64 > limit || MulOverflows(n64, m64, limit) ||
      MulOverflows(n64, k64, limit)) {
    return Fail(BITNET_E_SIZE_OVERFLOW, "batch %lld of %lld x %lld is too large to address",
                LL(batch), LL(rows), LL(cols));
  }
  if (call->ranged && call->row_end > rows) {
    return Fail(BITNET_E_INVALID_ARGUMENT,
                "options->row_end is %lld; the weights have %lld rows", LL(call->row_end), LL(rows));
  }
  const size_t m = static_cast<size_t>(rows), k = static_cast<size_t>(cols),
               n = static_cast<size_t>(batch);
  GemmJob& job = call->job;
  job.row_begin = call->ranged ? static_cast<size_t>(call->row_begin) : 0;
  job.row_end = call->ranged ? static_cast<size_t>(call->row_end) : m;
  if (n * m != 0 && job.row_begin < job.row_end) {
    if (y == nullptr) return Fail(BITNET_E_NULL_POINTER, "y is NULL");
    if (reinterpret_cast<uintptr_t>(y) % alignof(float) != 0) {
      return Fail(BITNET_E_MISALIGNED, "y (%p) is not aligned to float", static_cast<const void*>(y));
    }
  }
  GemmProblem& p = call->p;
  p = GemmProblem{};
  p.layout = l.id;
  p.weights = static_cast<const uint8_t*>(w);
  p.rows = m;
  p.cols = k;
  p.w_scale = l.id == LayoutId::kI2_S ? I2SWeightScale(p.weights, m, k) : 0.0f;
  p.batch = n;
  p.y = const_cast<float*>(y);
  p.y_stride = m;
  return BITNET_OK;
}

// The bytes of y the call writes span (row range included).
Region YRegion(const GemmCall& c) {
  const GemmJob& j = c.job;
  if (c.p.batch == 0 || j.row_begin >= j.row_end) return {"y", c.p.y, 0};
  const size_t first = j.row_begin, last = (c.p.batch - 1) * c.p.rows + j.row_end;
  return {"y", c.p.y + first, (last - first) * sizeof(float)};
}

int CheckInputBuffer(const Region& in) {
  if (in.bytes != 0 && in.ptr == nullptr) return Fail(BITNET_E_NULL_POINTER, "%s is NULL", in.name);
  return BITNET_OK;
}

int CheckAligned(const Region& r, size_t alignment) {
  if (r.bytes != 0 && reinterpret_cast<uintptr_t>(r.ptr) % alignment != 0) {
    return Fail(BITNET_E_MISALIGNED, "%s (%p) is not aligned to %zu bytes", r.name, r.ptr,
                alignment);
  }
  return BITNET_OK;
}

// y must not share a byte with any input.
int CheckOutputApart(const GemmCall& c, std::initializer_list<Region> inputs) {
  const Region y = YRegion(c);
  for (const Region& in : inputs) {
    const int status = CheckNoOverlap(y, in);
    if (status != BITNET_OK) return status;
  }
  return BITNET_OK;
}

}  // namespace
}  // namespace bitnet

using bitnet::Fail;
using bitnet::GemmCall;
using bitnet::Region;

extern "C" {

int bitnet_gemm_options_init(bitnet_gemm_options* options, size_t struct_size) {
  if (options == nullptr) return Fail(BITNET_E_NULL_POINTER, "options is NULL");
  if (struct_size != sizeof(bitnet_gemm_options)) {
    return Fail(BITNET_E_INVALID_OPTIONS, "struct_size is %zu; this library knows %zu", struct_size,
                sizeof(bitnet_gemm_options));
  }
  *options = bitnet::kDefaultOptions;
  return BITNET_OK;
}

int bitnet_gemm_act_type(bitnet_type w_type, bitnet_type* act_type) {
  GemmCall call{};
  const int status = bitnet::ResolveWeights(w_type, &call);
  if (status != BITNET_OK) return status;
  if (act_type == nullptr) return Fail(BITNET_E_NULL_POINTER, "act_type is NULL");
  bitnet::ActKind kind = bitnet::ActKind::kI8S;
  bitnet::GemmActKind(call.w->id, &kind);
  switch (kind) {
    case bitnet::ActKind::kI8S: *act_type = BITNET_TYPE_I8_S; break;
    case bitnet::ActKind::kQ8K: *act_type = BITNET_TYPE_Q8_K; break;
    case bitnet::ActKind::kQ8_0: *act_type = BITNET_TYPE_Q8_0; break;
  }
  return BITNET_OK;
}

int bitnet_gemm(bitnet_type w_type, const void* w, size_t w_len, int64_t rows, int64_t cols,
                const float* x, int64_t batch, float* y, const bitnet_gemm_options* options) {
  GemmCall call{};
  int status;
  if ((status = bitnet::ResolveGemmOptions(options, &call)) != BITNET_OK ||
      (status = bitnet::ResolveWeights(w_type, &call)) != BITNET_OK ||
      (status = bitnet::CheckShapeAndWeights(w, w_len, rows, cols, batch, y, &call)) != BITNET_OK) {
    return status;
  }
  const size_t x_elem = call.x->block_bytes;
  const Region in_x{"x", x, call.p.batch * call.p.cols * x_elem};
  const Region in_w{"w", w, w_len};
  if ((status = bitnet::CheckInputBuffer(in_x)) != BITNET_OK ||
      (status = bitnet::CheckAligned(in_x, x_elem)) != BITNET_OK ||
      (status = bitnet::CheckOutputApart(call, {in_w, in_x})) != BITNET_OK) {
    return status;
  }
  if (call.p.batch == 0 || call.job.row_begin >= call.job.row_end) return bitnet::RunOnCpu([] { return 0; });
  return bitnet::RunOnCpu([&] { return bitnet::GemmFromFloat(call.job, call.p, *call.x, x); });
}

int bitnet_gemm_i8s(const void* w, size_t w_len, int64_t rows, int64_t cols, const int8_t* q,
                    const float* scales, const int32_t* sums, int64_t batch, float* y,
                    const bitnet_gemm_options* options) {
  GemmCall call{};
  int status;
  if ((status = bitnet::ResolveGemmOptions(options, &call)) != BITNET_OK ||
      (status = bitnet::ResolveWeights(BITNET_TYPE_I2_S, &call)) != BITNET_OK ||
      (status = bitnet::CheckShapeAndWeights(w, w_len, rows, cols, batch, y, &call)) != BITNET_OK) {
    return status;
  }
  const size_t n = call.p.batch;
  const Region in_q{"q", q, n * call.p.cols}, in_scales{"scales", scales, n * sizeof(float)},
      in_sums{"sums", sums, n * sizeof(int32_t)}, in_w{"w", w, w_len};
  if ((status = bitnet::CheckInputBuffer(in_q)) != BITNET_OK ||
      (status = bitnet::CheckInputBuffer(in_scales)) != BITNET_OK ||
      (status = bitnet::CheckInputBuffer(in_sums)) != BITNET_OK ||
      (status = bitnet::CheckAligned(in_scales, alignof(float))) != BITNET_OK ||
      (status = bitnet::CheckAligned(in_sums, alignof(int32_t))) != BITNET_OK ||
      (status = bitnet::CheckOutputApart(call, {in_w, in_q, in_scales, in_sums})) != BITNET_OK) {
    return status;
  }
  if (n == 0 || call.job.row_begin >= call.job.row_end) return bitnet::RunOnCpu([] { return 0; });
  call.p.acts = {bitnet::ActKind::kI8S, q, scales, sums, nullptr, 0};
  return bitnet::RunOnCpu([&] { return bitnet::GemmQuantized(call.job, call.p); });
}

int bitnet_gemm_blocks(bitnet_type w_type, const void* w, size_t w_len, int64_t rows, int64_t cols,
                       const void* xq, size_t xq_len, int64_t batch, float* y,
                       const bitnet_gemm_options* options) {
  GemmCall call{};
  int status;
  if ((status = bitnet::ResolveGemmOptions(options, &call)) != BITNET_OK ||
      (status = bitnet::ResolveWeights(w_type, &call)) != BITNET_OK) {
    return status;
  }
  bitnet::ActKind kind = bitnet::ActKind::kI8S;
  bitnet::GemmActKind(call.w->id, &kind);
  if (kind == bitnet::ActKind::kI8S) {
    return Fail(BITNET_E_INVALID_TYPE,
                "w_type is I2_S, whose product takes I8_S rows: use bitnet_gemm_i8s");
  }
  if ((status = bitnet::CheckShapeAndWeights(w, w_len, rows, cols, batch, y, &call)) != BITNET_OK) {
    return status;
  }
  const size_t row_bytes =
      call.p.cols / bitnet::ActBlockElements(kind) * bitnet::ActBlockBytes(kind);
  const size_t need = call.p.batch * row_bytes;
  const char* act_name = kind == bitnet::ActKind::kQ8K ? "Q8_K" : "Q8_0";
  if (xq_len != need) {
    return Fail(BITNET_E_SIZE_MISMATCH,
                "xq_len is %zu; %lld tokens of %lld columns in %s blocks are %zu bytes", xq_len,
                static_cast<long long>(batch), static_cast<long long>(cols), act_name, need);
  }
  const Region in_x{"xq", xq, need}, in_w{"w", w, w_len};
  if ((status = bitnet::CheckInputBuffer(in_x)) != BITNET_OK ||
      (status = bitnet::CheckOutputApart(call, {in_w, in_x})) != BITNET_OK) {
    return status;
  }
  if (call.p.batch == 0 || call.job.row_begin >= call.job.row_end) return bitnet::RunOnCpu([] { return 0; });
  call.p.acts = {kind, nullptr, nullptr, nullptr, static_cast<const uint8_t*>(xq), row_bytes};
  return bitnet::RunOnCpu([&] { return bitnet::GemmQuantized(call.job, call.p); });
}

}  // extern "C"
