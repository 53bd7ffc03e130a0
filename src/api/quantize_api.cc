// The public quantize / dequantize entry points: checks, then one kernel.
#include "api/errors.h"
#include "api/validate.h"
#include "bitnet_quant.h"
#include "formats/bitnet_rs_quantizer.h"

namespace bitnet {
namespace {

int Quantize(bitnet_format format, const bitnet_quant_options* options, const float* input,
             size_t n, uint8_t* packed, size_t packed_len, float* scales, size_t scales_len) {
  CallConfig config;
  int status = ResolveCall(format, options, &config);
  if (status != BITNET_OK) return status;
  status = CheckQuantizeBuffers(input, n, config.block, packed, packed_len, scales, scales_len);
  if (status != BITNET_OK) return status;
  if (n == 0) {
    SetLastBackend(config.device.backend);
    return BITNET_OK;
  }
  if (config.format == Format::kI2S && !HasFiniteElement(input, n)) {
    return Fail(BITNET_E_ALL_NONFINITE,
                "I2_S input of %zu elements has no finite element (BitNet-rs: MalformedData)", n);
  }
  config.kernels->quantize(config.format, input, n, config.block, packed, scales);
  SetLastBackend(config.device.backend);
  return BITNET_OK;
}

int Dequantize(bitnet_format format, const bitnet_quant_options* options, const uint8_t* packed,
               size_t packed_len, const float* scales, size_t scales_len, float* output,
               size_t n) {
  CallConfig config;
  int status = ResolveCall(format, options, &config);
  if (status != BITNET_OK) return status;
  if ((status = CheckCount("n", n, sizeof(float))) != BITNET_OK) return status;
  const size_t need_packed = PackedSize(n);
  const size_t need_scales = NumBlocks(n, config.block);
  if (packed_len != need_packed) {
    return Fail(BITNET_E_SIZE_MISMATCH, "packed_len is %zu; %zu elements have ceil(n/4) = %zu bytes",
                packed_len, n, need_packed);
  }
  if (scales_len != need_scales) {
    return Fail(BITNET_E_SIZE_MISMATCH,
                "scales_len is %zu; %zu elements in blocks of %zu have %zu scales", scales_len, n,
                config.block, need_scales);
  }
  if (n == 0) {
    SetLastBackend(config.device.backend);
    return BITNET_OK;
  }
  const Region in_packed{"packed", packed, packed_len};
  const Region in_scales{"scales", scales, scales_len * sizeof(float)};
  const Region out{"output", output, n * sizeof(float)};
  for (const Region* r : {&in_packed, &in_scales, &out}) {
    if ((status = CheckNotNull(*r)) != BITNET_OK) return status;
  }
  if ((status = CheckFloatAligned(in_scales)) != BITNET_OK) return status;
  if ((status = CheckFloatAligned(out)) != BITNET_OK) return status;
  if ((status = CheckNoOverlap(out, in_packed)) != BITNET_OK) return status;
  if ((status = CheckNoOverlap(out, in_scales)) != BITNET_OK) return status;
  config.kernels->dequantize(config.format, packed, scales, n, config.block, output);
  SetLastBackend(config.device.backend);
  return BITNET_OK;
}

}  // namespace
}  // namespace bitnet

extern "C" {

int bitnet_quant_buffer_sizes(bitnet_format format, const bitnet_quant_options* options,
                              size_t n, size_t* packed_len, size_t* scales_len) {
  bitnet::CallConfig config;
  const int status = bitnet::ResolveCall(format, options, &config);
  if (status != BITNET_OK) return status;
  if (packed_len == nullptr) return bitnet::Fail(BITNET_E_NULL_POINTER, "packed_len is NULL");
  if (scales_len == nullptr) return bitnet::Fail(BITNET_E_NULL_POINTER, "scales_len is NULL");
  *packed_len = bitnet::PackedSize(n);
  *scales_len = bitnet::NumBlocks(n, config.block);
  return BITNET_OK;
}

size_t bitnet_packed_size(size_t n) { return bitnet::PackedSize(n); }

int bitnet_quantize(bitnet_format format, const bitnet_quant_options* options, const float* input,
                    size_t n, uint8_t* packed, size_t packed_len, float* scales,
                    size_t scales_len) {
  return bitnet::Quantize(format, options, input, n, packed, packed_len, scales, scales_len);
}

int bitnet_dequantize(bitnet_format format, const bitnet_quant_options* options,
                      const uint8_t* packed, size_t packed_len, const float* scales,
                      size_t scales_len, float* output, size_t n) {
  return bitnet::Dequantize(format, options, packed, packed_len, scales, scales_len, output, n);
}

#define BITNET_FIXED_FORMAT_ENTRY_POINTS(suffix, format)                                     \
  int bitnet_quantize_##suffix(const float* input, size_t n, uint8_t* packed,                \
                               size_t packed_len, float* scales, size_t scales_len) {        \
    return bitnet::Quantize(format, nullptr, input, n, packed, packed_len, scales,           \
                            scales_len);                                                     \
  }                                                                                          \
  int bitnet_dequantize_##suffix(const uint8_t* packed, size_t packed_len,                   \
                                 const float* scales, size_t scales_len, float* output,      \
                                 size_t n) {                                                 \
    return bitnet::Dequantize(format, nullptr, packed, packed_len, scales, scales_len,       \
                              output, n);                                                    \
  }

BITNET_FIXED_FORMAT_ENTRY_POINTS(i2s, BITNET_FORMAT_I2S)
BITNET_FIXED_FORMAT_ENTRY_POINTS(tl1, BITNET_FORMAT_TL1)
BITNET_FIXED_FORMAT_ENTRY_POINTS(tl2, BITNET_FORMAT_TL2)

}  // extern "C"
