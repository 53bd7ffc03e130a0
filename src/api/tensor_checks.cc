#include "api/tensor_checks.h"

#include <cmath>
#include <cstdint>

#include "api/errors.h"
#include "api/validate.h"
#include "formats/formats.h"

namespace bitnet {
namespace {

static_assert(sizeof(bitnet_tensor_options) == BITNET_TENSOR_OPTIONS_SIZE_V1,
              "a new field needs a new BITNET_TENSOR_OPTIONS_SIZE and the older size accepted");
constexpr uint32_t kKnownFlags =
    BITNET_TENSOR_ALLOW_SCALE_ROUNDING | BITNET_TENSOR_UNIT_SCALE | BITNET_TENSOR_CACHED_OUTPUT;

bool Allowed(const Layout& l, Role role) {
  switch (role) {
    case Role::kElement: return l.element_type;
    case Role::kQuantizeDestination: return l.element_type || l.can_quantize;
    case Role::kDecodable: return true;
    case Role::kTernary: return l.ternary;
  }
  return false;
}

const char* RoleText(Role role) {
  switch (role) {
    case Role::kElement: return "F32, F16 or BF16";
    case Role::kQuantizeDestination: return "a type this library can write (see bitnet_type_info.can_quantize)";
    case Role::kDecodable: return "a known bitnet_type";
    case Role::kTernary: return "a ternary layout (I2_S, TQ1_0, TQ2_0, Q2_0, HF_BITNET, BITNET_RS_I2S)";
  }
  return "";
}

bool MulOverflows(uint64_t a, uint64_t b, uint64_t* out) {
  if (b != 0 && a > UINT64_MAX / b) return true;
  *out = a * b;
  return false;
}

// The checks once the sizes are known: the buffers, the destination's
// capacity, and that the destination overlaps no input.
int CheckTensorBuffers(const TensorEntry& entry, const TensorCall& call, const void* src,
                       size_t src_bytes, const void* dst, size_t dst_bytes, size_t dst_len) {
  int status;
  if ((status = CheckBuffer(entry.src_name, src, src_bytes, AlignmentOf(*call.src))) != BITNET_OK ||
      (status = CheckBuffer(entry.dst_name, dst, dst_bytes, AlignmentOf(*call.dst))) != BITNET_OK ||
      (status = CheckCapacity("dst_len", dst_len, dst_bytes, *call.dst, call.shape)) != BITNET_OK) {
    return status;
  }
  return CheckNoOverlap({entry.dst_name, dst, dst_bytes}, {entry.src_name, src, src_bytes});
}

// Dequantize and transcode, once the types are known: an encoded source of
// exactly src_len bytes.
int CheckEncodedSourceCall(TensorEntry& entry, const bitnet_tensor_options* options,
                           const void* src, size_t src_len, int64_t rows, int64_t cols,
                           const void* dst, size_t dst_len, TensorCall* call) {
  uint32_t rs_block = 0;
  int status = entry.ResolveOptions(options, &rs_block);
  if (status != BITNET_OK) return status;
  TensorShape dst_shape;
  size_t have = 0, need = 0;
  if ((status = TensorBytes(*call->src, rows, cols, rs_block, &call->shape, &have)) != BITNET_OK ||
      (status = TensorBytes(*call->dst, rows, cols, rs_block, &dst_shape, &need)) != BITNET_OK ||
      (status = CheckExact("src_len", src_len, have, *call->src, call->shape)) != BITNET_OK) {
    return status;
  }
  return CheckTensorBuffers(entry, *call, src, have, dst, need, dst_len);
}

}  // namespace

const bitnet_tensor_options kDefaultTensorOptions = BITNET_TENSOR_OPTIONS_INIT;

int CheckTensorOptionFields(const bitnet_tensor_options& o) {
  static constexpr OptionsHead kHead = {"BITNET_TENSOR_OPTIONS_INIT or bitnet_tensor_options_init",
                                        sizeof(bitnet_tensor_options), kKnownFlags};
  if (const int status = CheckOptionsHead(kHead, o.struct_size, o.flags, o.n_threads); status != BITNET_OK) {
    return status;
  }
  if (o.ternarize != BITNET_TERNARIZE_NONE && o.ternarize != BITNET_TERNARIZE_ABSMEAN) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->ternarize is %d; expected BITNET_TERNARIZE_NONE (0) or _ABSMEAN (1)",
                o.ternarize);
  }
  if (o.block_size != 0 && !IsValidBlockSize(o.block_size)) {
    return Fail(BITNET_E_INVALID_BLOCK_SIZE,
                "options->block_size is %u; it must be a multiple of 4 in [%zu, %zu]",
                o.block_size, kMinBlockSize, kMaxBlockSize);
  }
  if (o.group_size < -1) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->group_size is %lld; expected 0 (tensor), -1 (row) or a group width > 0",
                static_cast<long long>(o.group_size));
  }
  if (!(o.threshold == 0.0f || (std::isfinite(o.threshold) && o.threshold > 0.0f))) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->threshold is %g; it must be 0 (the default 0.5) or a finite value > 0",
                static_cast<double>(o.threshold));
  }
  if (o.reserved != 0) {
    return Fail(BITNET_E_INVALID_OPTIONS, "options->reserved is %u; it must be 0", o.reserved);
  }
  return BITNET_OK;
}

int ResolveType(const char* what, bitnet_type type, Role role, const Layout** layout) {
  const Layout* l = FindLayout(type);
  if (l == nullptr) {
    return Fail(BITNET_E_INVALID_TYPE, "%s is %d, not a bitnet_type", what, static_cast<int>(type));
  }
  if (!Allowed(*l, role)) {
    return Fail(BITNET_E_INVALID_TYPE, "%s is %s; this call takes %s", what, l->name, RoleText(role));
  }
  *layout = l;
  return BITNET_OK;
}

int TensorBytes(const Layout& l, int64_t rows, int64_t cols, uint32_t rs_block, TensorShape* shape,
                size_t* bytes) {
  if (rows < 0 || cols < 0) {
    return Fail(BITNET_E_INVALID_SHAPE, "%s tensor of %lld x %lld: rows and cols must be >= 0",
                l.name, static_cast<long long>(rows), static_cast<long long>(cols));
  }
  if (cols % l.cols_multiple != 0) {
    return Fail(BITNET_E_INVALID_SHAPE,
                "%s holds rows of a multiple of %lld elements; cols is %lld", l.name,
                static_cast<long long>(l.cols_multiple), static_cast<long long>(cols));
  }
  if (rows % l.rows_multiple != 0) {
    return Fail(BITNET_E_INVALID_SHAPE, "%s needs rows to be a multiple of %lld; rows is %lld",
                l.name, static_cast<long long>(l.rows_multiple), static_cast<long long>(rows));
  }
  uint64_t n = 0;
  if (MulOverflows(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), &n) ||
      n > static_cast<uint64_t>(PTRDIFF_MAX) / sizeof(float)) {
    return Fail(BITNET_E_SIZE_OVERFLOW, "%s tensor of %lld x %lld elements is too large to address",
                l.name, static_cast<long long>(rows), static_cast<long long>(cols));
  }
  if (n % static_cast<uint64_t>(l.elements_multiple) != 0) {
    return Fail(BITNET_E_INVALID_SHAPE,
                "%s holds a multiple of %lld elements; %lld x %lld = %llu is not", l.name,
                static_cast<long long>(l.elements_multiple), static_cast<long long>(rows),
                static_cast<long long>(cols), static_cast<unsigned long long>(n));
  }
  *shape = {rows, cols, static_cast<size_t>(n)};
  *bytes = PartsOf(l, static_cast<size_t>(n), rs_block).total;
  return BITNET_OK;
}

int CheckBuffer(const char* name, const void* p, size_t bytes, size_t alignment) {
  if (bytes == 0) return BITNET_OK;
  if (p == nullptr) return Fail(BITNET_E_NULL_POINTER, "%s is NULL", name);
  if (reinterpret_cast<uintptr_t>(p) % alignment != 0) {
    return Fail(BITNET_E_MISALIGNED, "%s (%p) is not aligned to %zu bytes", name, p, alignment);
  }
  return BITNET_OK;
}

size_t AlignmentOf(const Layout& l) { return l.element_type ? l.block_bytes : 1; }

int CheckCapacity(const char* name, size_t have, size_t need, const Layout& l, const TensorShape& s) {
  if (have < need) {
    return Fail(BITNET_E_BUFFER_TOO_SMALL, "%s is %zu bytes; a %lld x %lld %s tensor needs %zu", name,
                have, static_cast<long long>(s.rows), static_cast<long long>(s.cols), l.name, need);
  }
  return BITNET_OK;
}

int CheckExact(const char* name, size_t have, size_t need, const Layout& l, const TensorShape& s) {
  if (have != need) {
    return Fail(BITNET_E_SIZE_MISMATCH, "%s is %zu bytes; a %lld x %lld %s tensor is %zu", name,
                have, static_cast<long long>(s.rows), static_cast<long long>(s.cols), l.name, need);
  }
  return BITNET_OK;
}

int TensorEntry::CheckQuantizeShape(const Layout& /*dst*/, const TensorShape& /*shape*/) const {
  return BITNET_OK;
}

int CheckQuantizeCall(TensorEntry& entry, bitnet_type dst_type, const bitnet_tensor_options* options,
                      bitnet_type src_type, const void* src, int64_t rows, int64_t cols,
                      const void* dst, size_t dst_len, TensorCall* call) {
  uint32_t rs_block = 0;
  int status;
  if ((status = entry.ResolveType("dst_type", dst_type, Role::kQuantizeDestination, &call->dst)) != BITNET_OK ||
      (status = entry.ResolveType("src_type", src_type, Role::kElement, &call->src)) != BITNET_OK ||
      (status = entry.ResolveOptions(options, &rs_block)) != BITNET_OK) {
    return status;
  }
  TensorShape src_shape;
  size_t need = 0, src_bytes = 0;
  if ((status = TensorBytes(*call->dst, rows, cols, rs_block, &call->shape, &need)) != BITNET_OK ||
      (status = TensorBytes(*call->src, rows, cols, rs_block, &src_shape, &src_bytes)) != BITNET_OK ||
      (status = entry.CheckQuantizeShape(*call->dst, call->shape)) != BITNET_OK) {
    return status;
  }
  return CheckTensorBuffers(entry, *call, src, src_bytes, dst, need, dst_len);
}

int CheckDequantizeCall(TensorEntry& entry, bitnet_type src_type,
                        const bitnet_tensor_options* options, const void* src, size_t src_len,
                        int64_t rows, int64_t cols, bitnet_type dst_type, const void* dst,
                        size_t dst_len, TensorCall* call) {
  int status;
  if ((status = entry.ResolveType("src_type", src_type, Role::kDecodable, &call->src)) != BITNET_OK ||
      (status = entry.ResolveType("dst_type", dst_type, Role::kElement, &call->dst)) != BITNET_OK) {
    return status;
  }
  return CheckEncodedSourceCall(entry, options, src, src_len, rows, cols, dst, dst_len, call);
}

int CheckTranscodeCall(TensorEntry& entry, bitnet_type dst_type, const bitnet_tensor_options* options,
                       bitnet_type src_type, const void* src, size_t src_len, int64_t rows,
                       int64_t cols, const void* dst, size_t dst_len, TensorCall* call) {
  int status;
  if ((status = entry.ResolveType("dst_type", dst_type, Role::kTernary, &call->dst)) != BITNET_OK ||
      (status = entry.ResolveType("src_type", src_type, Role::kTernary, &call->src)) != BITNET_OK) {
    return status;
  }
  return CheckEncodedSourceCall(entry, options, src, src_len, rows, cols, dst, dst_len, call);
}

}  // namespace bitnet
