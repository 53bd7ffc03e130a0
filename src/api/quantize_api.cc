// The public quantize / dequantize entry points: checks, then one kernel.
#include "api/errors.h"
#include "api/validate.h"
#include "bitnet_quant.h"
#include "cpu/target_list.h"
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
    ReportCpuTarget(kNoCpuKernel);
    return BITNET_OK;
  }
  if (config.format == Format::kI2S && !HasFiniteElement(input, n)) {
    return Fail(BITNET_E_ALL_NONFINITE,
                "I2_S input of %zu elements has no finite element (BitNet-rs: MalformedData)", n);
  }
  if (config.device.backend == BITNET_BACKEND_CUDA) {
    status = CudaQuantizeHost(config.device.device_index, config.format, input, n, config.block,
                              packed, scales);
    if (status != BITNET_OK) return status;
    ReportCpuTarget(kNoCpuKernel);
  } else {
    config.kernels->quantize(config.format, input, n, config.block, packed, scales);  // reports
  }
  SetLastBackend(config.device.backend);
  return BITNET_OK;
}

int Dequantize(bitnet_format format, const bitnet_quant_options* options, const uint8_t* packed,
               size_t packed_len, const float* scales, size_t scales_len, float* output,
               size_t n) {
  CallConfig config;
  int status = ResolveCall(format, options, &config);
  if (status != BITNET_OK) return status;
  status = CheckDequantizeBuffers(packed, packed_len, scales, scales_len, output, n, config.block);
  if (status != BITNET_OK) return status;
  if (n == 0) {
    SetLastBackend(config.device.backend);
    ReportCpuTarget(kNoCpuKernel);
    return BITNET_OK;
  }
  if (config.device.backend == BITNET_BACKEND_CUDA) {
    status = CudaDequantizeHost(config.device.device_index, config.format, packed, scales, n,
                                config.block, output);
    if (status != BITNET_OK) return status;
    ReportCpuTarget(kNoCpuKernel);
  } else {
    config.kernels->dequantize(config.format, packed, scales, n, config.block, output);  // reports
  }
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
  // No call can take more elements than this; say so here already.
  const int count_status = bitnet::CheckCount("n", n, sizeof(float));
  if (count_status != BITNET_OK) return count_status;
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
