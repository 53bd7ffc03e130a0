// The tensor-layout entry points: argument checks against the layout
// descriptors, then one tensor operation (src/tensor) on the resolved CPU
// target. Nothing is written before every check has passed.
#include <cmath>
#include <cstring>

#include "api/errors.h"
#include "api/tensor_checks.h"
#include "api/validate.h"
#include "bitnet_quant.h"
#include "cpu/targets.h"
#include "device/device.h"
#include "formats/formats.h"
#include "formats/layouts.h"
#include "tensor/tensor_ops.h"

namespace bitnet {
namespace {

// options (NULL = defaults) -> the job, and whether absmean was asked for.
int ResolveTensorOptions(const bitnet_tensor_options* options, TensorJob* job) {
  const bitnet_tensor_options& o = options != nullptr ? *options : kDefaultTensorOptions;
  const int fields = CheckTensorOptionFields(o);
  if (fields != BITNET_OK) return fields;
  const KernelSet* kernels = nullptr;
  const int status = ResolveKernels(o.cpu_target, &kernels);
  if (status != BITNET_OK) return status;
  job->kernels = kernels;
  job->threads = o.n_threads > 1 ? o.n_threads : 1;
  job->rs_block = o.block_size != 0 ? o.block_size : static_cast<uint32_t>(DefaultBlockSize(Format::kI2S));
  job->flags = o.flags;
  job->absmean = o.ternarize == BITNET_TERNARIZE_ABSMEAN;
  job->group_size = o.group_size;
  job->threshold = o.threshold != 0.0f ? o.threshold : 0.5f;
  return BITNET_OK;
}

int CheckGroup(const TensorJob& job, const Layout* dst, const TensorShape& shape) {
  if (job.group_size > 0 && shape.cols % job.group_size != 0) {
    return Fail(BITNET_E_INVALID_SHAPE, "options->group_size %lld does not divide cols (%lld)",
                static_cast<long long>(job.group_size), static_cast<long long>(shape.cols));
  }
  if (dst != nullptr && dst->id == LayoutId::kHfBitnet && job.absmean && job.group_size != 0) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "HF_BITNET holds one weight_scale per tensor; options->group_size must be 0");
  }
  return BITNET_OK;
}

// The calls of one source tensor (ternarize, bitnet_quantize_i8s, stats):
// its type in `role`, the options, then its shape and byte size.
int ResolveSource(const char* what, bitnet_type type, Role role, const bitnet_tensor_options* options,
                  int64_t rows, int64_t cols, TensorJob* job, const Layout** layout,
                  TensorShape* shape, size_t* bytes) {
  int status;
  if ((status = ResolveType(what, type, role, layout)) != BITNET_OK ||
      (status = ResolveTensorOptions(options, job)) != BITNET_OK) {
    return status;
  }
  return TensorBytes(**layout, rows, cols, job->rs_block, shape, bytes);
}

// The CPU's side of the shared checks: every type, the options as a job.
class CpuEntry final : public TensorEntry {
 public:
  CpuEntry() : TensorEntry("src", "dst") {}
  TensorJob job{};

  int ResolveType(const char* what, bitnet_type type, Role role,
                  const Layout** layout) const override {
    return bitnet::ResolveType(what, type, role, layout);
  }
  int ResolveOptions(const bitnet_tensor_options* options, uint32_t* rs_block) override {
    const int status = ResolveTensorOptions(options, &job);
    *rs_block = job.rs_block;
    return status;
  }
  int CheckQuantizeShape(const Layout& dst, const TensorShape& shape) const override {
    return CheckGroup(job, &dst, shape);
  }
};

}  // namespace
}  // namespace bitnet

using bitnet::CheckBuffer;
using bitnet::CheckExact;
using bitnet::Fail;
using bitnet::Layout;
using bitnet::Role;
using bitnet::TensorJob;
using bitnet::TensorShape;

extern "C" {

int bitnet_type_get_info(bitnet_type type, bitnet_type_info* info) {
  if (info == nullptr) return Fail(BITNET_E_NULL_POINTER, "info is NULL");
  const Layout* l = bitnet::FindLayout(type);
  if (l == nullptr) return Fail(BITNET_E_INVALID_TYPE, "type %d is not a bitnet_type", static_cast<int>(type));
  if (info->struct_size != sizeof(bitnet_type_info)) {
    return Fail(BITNET_E_INVALID_OPTIONS, "info->struct_size is %u; this library knows %zu",
                info->struct_size, sizeof(bitnet_type_info));
  }
  const int64_t block = l->block_elements != 0 ? l->block_elements : 32;
  const uint64_t block_bytes = l->block_elements != 0 ? l->block_bytes : 8 + 4;  // family A at block 32
  info->name = l->name;
  info->defined_by = l->defined_by;
  info->block_elements = block;
  info->block_bytes = block_bytes;
  info->tail_bytes = l->tail_bytes;
  info->cols_multiple = l->cols_multiple;
  info->rows_multiple = l->rows_multiple;
  info->elements_multiple = l->elements_multiple;
  info->ternary = l->ternary;
  info->can_quantize = l->can_quantize || l->element_type;
  info->bits_per_weight = static_cast<double>(block_bytes) * 8.0 / static_cast<double>(block);
  return BITNET_OK;
}

const char* bitnet_type_name(bitnet_type type) { return bitnet::LayoutName(type); }

int bitnet_type_from_name(const char* name, bitnet_type* type) {
  if (name == nullptr) return Fail(BITNET_E_NULL_POINTER, "name is NULL");
  if (type == nullptr) return Fail(BITNET_E_NULL_POINTER, "type is NULL");
  if (bitnet::LayoutFromName(name, type) != BITNET_OK) {
    return Fail(BITNET_E_INVALID_TYPE, "\"%s\" is not a type name", name);
  }
  return BITNET_OK;
}

int bitnet_tensor_options_init(bitnet_tensor_options* options, size_t struct_size) {
  if (options == nullptr) return Fail(BITNET_E_NULL_POINTER, "options is NULL");
  if (struct_size != sizeof(bitnet_tensor_options)) {
    return Fail(BITNET_E_INVALID_OPTIONS, "struct_size is %zu; this library knows %zu", struct_size,
                sizeof(bitnet_tensor_options));
  }
  *options = bitnet::kDefaultTensorOptions;
  return BITNET_OK;
}

int bitnet_tensor_size(bitnet_type type, int64_t rows, int64_t cols, size_t* bytes) {
  const Layout* l = nullptr;
  int status = bitnet::ResolveType("type", type, Role::kDecodable, &l);
  if (status != BITNET_OK) return status;
  if (bytes == nullptr) return Fail(BITNET_E_NULL_POINTER, "bytes is NULL");
  TensorShape shape;
  const uint32_t rs_block = static_cast<uint32_t>(bitnet::DefaultBlockSize(bitnet::Format::kI2S));
  return bitnet::TensorBytes(*l, rows, cols, rs_block, &shape, bytes);
}

int bitnet_tensor_quantize(bitnet_type dst_type, const bitnet_tensor_options* options,
                           bitnet_type src_type, const void* src, int64_t rows, int64_t cols,
                           void* dst, size_t dst_len) {
  bitnet::CpuEntry cpu;
  bitnet::TensorCall c;
  const int status = bitnet::CheckQuantizeCall(cpu, dst_type, options, src_type, src, rows, cols,
                                               dst, dst_len, &c);
  if (status != BITNET_OK) return status;
  return bitnet::RunOnCpu([&] { return bitnet::TensorQuantize(cpu.job, *c.dst, dst, *c.src, src, c.shape); });
}

int bitnet_tensor_dequantize(bitnet_type src_type, const bitnet_tensor_options* options,
                             const void* src, size_t src_len, int64_t rows, int64_t cols,
                             bitnet_type dst_type, void* dst, size_t dst_len) {
  bitnet::CpuEntry cpu;
  bitnet::TensorCall c;
  const int status = bitnet::CheckDequantizeCall(cpu, src_type, options, src, src_len, rows, cols,
                                                 dst_type, dst, dst_len, &c);
  if (status != BITNET_OK) return status;
  return bitnet::RunOnCpu([&] { return bitnet::TensorDequantize(cpu.job, *c.dst, dst, *c.src, src, c.shape); });
}

int bitnet_tensor_transcode(bitnet_type dst_type, const bitnet_tensor_options* options,
                            bitnet_type src_type, const void* src, size_t src_len, int64_t rows,
                            int64_t cols, void* dst, size_t dst_len) {
  bitnet::CpuEntry cpu;
  bitnet::TensorCall c;
  const int status = bitnet::CheckTranscodeCall(cpu, dst_type, options, src_type, src, src_len,
                                                rows, cols, dst, dst_len, &c);
  if (status != BITNET_OK) return status;
  return bitnet::RunOnCpu([&] { return bitnet::TensorTranscode(cpu.job, *c.dst, dst, *c.src, src, c.shape); });
}

int bitnet_ternarize(const bitnet_tensor_options* options, bitnet_type src_type, const void* src,
                     int64_t rows, int64_t cols, int8_t* codes, size_t codes_len, float* alphas,
                     size_t alphas_len) {
  TensorJob job;
  const Layout* s = nullptr;
  TensorShape shape;
  size_t src_bytes = 0;
  int status;
  if ((status = bitnet::ResolveSource("src_type", src_type, Role::kElement, options, rows, cols, &job,
                                      &s, &shape, &src_bytes)) != BITNET_OK ||
      (status = bitnet::CheckGroup(job, nullptr, shape)) != BITNET_OK) {
    return status;
  }
  const size_t units = bitnet::AbsmeanUnits(shape, job.group_size);
  if ((status = CheckBuffer("src", src, src_bytes, bitnet::AlignmentOf(*s))) != BITNET_OK ||
      (status = CheckBuffer("codes", codes, shape.n, 1)) != BITNET_OK ||
      (status = CheckBuffer("alphas", alphas, units * sizeof(float), alignof(float))) != BITNET_OK) {
    return status;
  }
  if (codes_len < shape.n) {
    return Fail(BITNET_E_BUFFER_TOO_SMALL, "codes_len is %zu; %zu elements need %zu codes",
                codes_len, shape.n, shape.n);
  }
  if (alphas_len < units) {
    return Fail(BITNET_E_BUFFER_TOO_SMALL, "alphas_len is %zu; group_size %lld gives %zu scales",
                alphas_len, static_cast<long long>(job.group_size), units);
  }
  const bitnet::Region in{"src", src, src_bytes}, out_codes{"codes", codes, shape.n},
      out_alphas{"alphas", alphas, units * sizeof(float)};
  if ((status = bitnet::CheckNoOverlap(out_codes, in)) != BITNET_OK ||
      (status = bitnet::CheckNoOverlap(out_alphas, in)) != BITNET_OK ||
      (status = bitnet::CheckNoOverlap(out_codes, out_alphas)) != BITNET_OK) {
    return status;
  }
  return bitnet::RunOnCpu([&] { return bitnet::TensorTernarize(job, *s, src, shape, codes, alphas); });
}

int bitnet_quantize_i8s(const bitnet_tensor_options* options, bitnet_type src_type,
                        const void* src, int64_t rows, int64_t cols, int8_t* q, size_t q_len,
                        float* scales, size_t scales_len, int32_t* sums, size_t sums_len) {
  TensorJob job;
  const Layout* s = nullptr;
  TensorShape shape;
  size_t src_bytes = 0;
  int status = bitnet::ResolveSource("src_type", src_type, Role::kElement, options, rows, cols, &job,
                                     &s, &shape, &src_bytes);
  if (status != BITNET_OK) return status;
  const size_t nrows = static_cast<size_t>(rows);
  if (nrows > static_cast<size_t>(PTRDIFF_MAX) / sizeof(float)) {
    return Fail(BITNET_E_SIZE_OVERFLOW, "rows is %lld: one scale and sum per row cannot be addressed",
                static_cast<long long>(rows));
  }
  if ((status = CheckBuffer("src", src, src_bytes, bitnet::AlignmentOf(*s))) != BITNET_OK ||
      (status = CheckBuffer("q", q, shape.n, 1)) != BITNET_OK ||
      (status = CheckBuffer("scales", scales, nrows * sizeof(float), alignof(float))) != BITNET_OK ||
      (status = CheckBuffer("sums", sums, nrows * sizeof(int32_t), alignof(int32_t))) != BITNET_OK) {
    return status;
  }
  if (q_len < shape.n) {
    return Fail(BITNET_E_BUFFER_TOO_SMALL, "q_len is %zu; %zu activations need %zu", q_len,
                shape.n, shape.n);
  }
  if (scales_len < nrows || sums_len < nrows) {
    return Fail(BITNET_E_BUFFER_TOO_SMALL, "%s is %zu; %zu rows need one each",
                scales_len < nrows ? "scales_len" : "sums_len",
                scales_len < nrows ? scales_len : sums_len, nrows);
  }
  const bitnet::Region in{"src", src, src_bytes}, out_q{"q", q, shape.n},
      out_scales{"scales", scales, nrows * sizeof(float)},
      out_sums{"sums", sums, nrows * sizeof(int32_t)};
  for (const bitnet::Region* out : {&out_q, &out_scales, &out_sums}) {
    if ((status = bitnet::CheckNoOverlap(*out, in)) != BITNET_OK) return status;
  }
  if ((status = bitnet::CheckNoOverlap(out_q, out_scales)) != BITNET_OK ||
      (status = bitnet::CheckNoOverlap(out_q, out_sums)) != BITNET_OK ||
      (status = bitnet::CheckNoOverlap(out_scales, out_sums)) != BITNET_OK) {
    return status;
  }
  return bitnet::RunOnCpu([&] { return bitnet::TensorQuantizeI8S(job, *s, src, shape, q, scales, sums); });
}

}  // extern "C"

extern "C" int bitnet_tensor_stats_get(bitnet_type type, const bitnet_tensor_options* options,
                                       const void* src, size_t src_len, int64_t rows,
                                       int64_t cols, bitnet_tensor_stats* stats) {
  TensorJob job;
  const Layout* s = nullptr;
  TensorShape shape;
  size_t have = 0;
  int status;
  if ((status = bitnet::ResolveSource("type", type, Role::kTernary, options, rows, cols, &job, &s,
                                      &shape, &have)) != BITNET_OK ||
      (status = CheckExact("src_len", src_len, have, *s, shape)) != BITNET_OK ||
      (status = CheckBuffer("src", src, have, 1)) != BITNET_OK) {
    return status;
  }
  if (stats == nullptr) return Fail(BITNET_E_NULL_POINTER, "stats is NULL");
  if (stats->struct_size != sizeof(bitnet_tensor_stats)) {
    return Fail(BITNET_E_INVALID_OPTIONS, "stats->struct_size is %u; this library knows %zu",
                stats->struct_size, sizeof(bitnet_tensor_stats));
  }
  bitnet::TernaryStats out;
  status = bitnet::RunOnCpu([&] { return bitnet::TensorStats(job, *s, src, shape, &out); });
  if (status != BITNET_OK) return status;
  stats->reserved = 0;
  for (size_t v = 0; v < 5; ++v) stats->values[v] = out.values[v];
  stats->scales = out.scales;
  stats->nonfinite_scales = out.nonfinite_scales;
  stats->scale_min = out.scale_min;
  stats->scale_max = out.scale_max;
  return BITNET_OK;
}
