#include "api/validate.h"

#include <cstdint>
#include <cstring>

#include "api/errors.h"
#include "cpu/targets.h"

namespace bitnet {

int CheckOptionsHead(const OptionsHead& head, uint32_t struct_size, uint32_t flags, int32_t n_threads) {
  constexpr int32_t kMaxThreads = 1024;
  if (struct_size != head.known_size) {
    return Fail(BITNET_E_INVALID_OPTIONS, "options->struct_size is %u; this library knows %zu (initialise with %s)",
                struct_size, head.known_size, head.init);
  }
  if ((flags & ~head.known_flags) != 0) {
    return Fail(BITNET_E_INVALID_OPTIONS, "options->flags is 0x%x; known flags are 0x%x", flags, head.known_flags);
  }
  if (n_threads < 0 || n_threads > kMaxThreads) {
    return Fail(BITNET_E_INVALID_OPTIONS, "options->n_threads is %d; it must be in [0, %d]", n_threads,
                kMaxThreads);
  }
  return BITNET_OK;
}

int CheckOptionsSize(size_t struct_size) {
  // The struct sizes of every released header, oldest first.
  static constexpr size_t kLayoutSizes[] = {kOptionsSizeV1};
  static_assert(kLayoutSizes[sizeof(kLayoutSizes) / sizeof(kLayoutSizes[0]) - 1] ==
                    sizeof(bitnet_quant_options),
                "the newest layout is this header's");
  for (const size_t layout : kLayoutSizes) {
    if (struct_size == layout) return BITNET_OK;
  }
  if (struct_size > sizeof(bitnet_quant_options)) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->struct_size is %zu, more than the %zu bytes this library (version %s) "
                "knows: the caller was built against a newer header",
                struct_size, sizeof(bitnet_quant_options), BITNET_QUANT_VERSION_STRING);
  }
  return Fail(BITNET_E_INVALID_OPTIONS,
              "options->struct_size is %zu; a released layout has %zu (version 0.1) to %zu bytes "
              "(initialise with BITNET_QUANT_OPTIONS_INIT or bitnet_quant_options_init)",
              struct_size, kOptionsSizeV1, sizeof(bitnet_quant_options));
}

int ReadOptions(const bitnet_quant_options* options, bitnet_quant_options* out) {
  static constexpr bitnet_quant_options kDefaults = BITNET_QUANT_OPTIONS_INIT;
  *out = kDefaults;
  if (options == nullptr) return BITNET_OK;
  const int status = CheckOptionsSize(options->struct_size);
  if (status != BITNET_OK) return status;
  std::memcpy(out, options, options->struct_size);
  out->struct_size = sizeof(bitnet_quant_options);
  return BITNET_OK;
}

int ResolveFormatBlock(bitnet_format format, const bitnet_quant_options* options,
                       FormatBlock* out, bitnet_quant_options* fields) {
  if (!IsValidFormat(format)) {
    return Fail(BITNET_E_INVALID_FORMAT,
                "format is %d; expected BITNET_FORMAT_I2S (0), TL1 (1) or TL2 (2)",
                static_cast<int>(format));
  }
  const int status = ReadOptions(options, fields);
  if (status != BITNET_OK) return status;
  out->format = static_cast<Format>(format);
  out->block = DefaultBlockSize(out->format);
  if (fields->block_size != 0) {
    if (!IsValidBlockSize(fields->block_size)) {
      return Fail(BITNET_E_INVALID_BLOCK_SIZE,
                  "options->block_size is %u; it must be a multiple of 4 in [%zu, %zu]",
                  fields->block_size, kMinBlockSize, kMaxBlockSize);
    }
    out->block = fields->block_size;
  }
  return BITNET_OK;
}

int ResolveOptions(bitnet_format format, const bitnet_quant_options* options, CallConfig* config,
                   bitnet_quant_options* fields) {
  FormatBlock format_block;
  int status = ResolveFormatBlock(format, options, &format_block, fields);
  if (status != BITNET_OK) return status;
  config->format = format_block.format;
  config->block = format_block.block;
  config->kernels = nullptr;
  return ReadDeviceRequest(*fields, &config->device);
}

int ResolveCall(bitnet_format format, const bitnet_quant_options* options, CallConfig* config) {
  bitnet_quant_options fields = BITNET_QUANT_OPTIONS_INIT;
  const int status = ResolveOptions(format, options, config, &fields);
  if (status != BITNET_OK) return status;
  if (config->device.device == BITNET_DEVICE_CUDA) return BITNET_OK;
  return ResolveKernels(fields.cpu_target, &config->kernels);
}

int CheckNotNull(const Region& r) {
  if (r.ptr == nullptr) return Fail(BITNET_E_NULL_POINTER, "%s is NULL", r.name);
  return BITNET_OK;
}

int CheckFloatAligned(const Region& r) {
  if (reinterpret_cast<uintptr_t>(r.ptr) % alignof(float) != 0) {
    return Fail(BITNET_E_MISALIGNED, "%s (%p) is not aligned to %zu bytes", r.name, r.ptr,
                alignof(float));
  }
  return BITNET_OK;
}

int CheckNoOverlap(const Region& out, const Region& other) {
  if (out.bytes == 0 || other.bytes == 0) return BITNET_OK;
  const uintptr_t a = reinterpret_cast<uintptr_t>(out.ptr);
  const uintptr_t b = reinterpret_cast<uintptr_t>(other.ptr);
  if (a < b + other.bytes && b < a + out.bytes) {
    return Fail(BITNET_E_OVERLAP, "%s [%p, +%zu bytes) overlaps %s [%p, +%zu bytes)", out.name,
                out.ptr, out.bytes, other.name, other.ptr, other.bytes);
  }
  return BITNET_OK;
}

int CheckCount(const char* name, size_t n, size_t elem_size) {
  if (n > static_cast<size_t>(PTRDIFF_MAX) / elem_size) {
    return Fail(BITNET_E_SIZE_OVERFLOW, "%s is %zu; more than %zu-byte elements can address",
                name, n, elem_size);
  }
  return BITNET_OK;
}

int CheckQuantizeBuffers(const float* input, size_t n, size_t block, const uint8_t* packed,
                         size_t packed_len, const float* scales, size_t scales_len) {
  int status = CheckCount("n", n, sizeof(float));
  if (status != BITNET_OK) return status;
  const size_t need_packed = PackedSize(n);
  const size_t need_scales = NumBlocks(n, block);
  const Region in{"input", input, n * sizeof(float)};
  const Region out_packed{"packed", packed, need_packed};
  const Region out_scales{"scales", scales, need_scales * sizeof(float)};
  if (n == 0) return BITNET_OK;
  for (const Region* r : {&in, &out_packed, &out_scales}) {
    if ((status = CheckNotNull(*r)) != BITNET_OK) return status;
  }
  if ((status = CheckFloatAligned(in)) != BITNET_OK) return status;
  if ((status = CheckFloatAligned(out_scales)) != BITNET_OK) return status;
  if (packed_len < need_packed) {
    return Fail(BITNET_E_BUFFER_TOO_SMALL,
                "packed_len is %zu; %zu elements need ceil(n/4) = %zu bytes", packed_len, n,
                need_packed);
  }
  if (scales_len < need_scales) {
    return Fail(BITNET_E_BUFFER_TOO_SMALL,
                "scales_len is %zu; %zu elements in blocks of %zu need %zu scales", scales_len,
                n, block, need_scales);
  }
  if ((status = CheckNoOverlap(out_packed, in)) != BITNET_OK) return status;
  if ((status = CheckNoOverlap(out_scales, in)) != BITNET_OK) return status;
  return CheckNoOverlap(out_packed, out_scales);
}

int CheckDequantizeBuffers(const uint8_t* packed, size_t packed_len, const float* scales,
                           size_t scales_len, const float* output, size_t n, size_t block) {
  int status = CheckCount("n", n, sizeof(float));
  if (status != BITNET_OK) return status;
  const size_t need_packed = PackedSize(n);
  const size_t need_scales = NumBlocks(n, block);
  if (packed_len != need_packed) {
    return Fail(BITNET_E_SIZE_MISMATCH, "packed_len is %zu; %zu elements have ceil(n/4) = %zu bytes",
                packed_len, n, need_packed);
  }
  if (scales_len != need_scales) {
    return Fail(BITNET_E_SIZE_MISMATCH,
                "scales_len is %zu; %zu elements in blocks of %zu have %zu scales", scales_len, n,
                block, need_scales);
  }
  if (n == 0) return BITNET_OK;
  const Region in_packed{"packed", packed, packed_len};
  const Region in_scales{"scales", scales, scales_len * sizeof(float)};
  const Region out{"output", output, n * sizeof(float)};
  for (const Region* r : {&in_packed, &in_scales, &out}) {
    if ((status = CheckNotNull(*r)) != BITNET_OK) return status;
  }
  if ((status = CheckFloatAligned(in_scales)) != BITNET_OK) return status;
  if ((status = CheckFloatAligned(out)) != BITNET_OK) return status;
  if ((status = CheckNoOverlap(out, in_packed)) != BITNET_OK) return status;
  return CheckNoOverlap(out, in_scales);
}

}  // namespace bitnet
