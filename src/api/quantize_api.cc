// The public quantize / dequantize entry points: checks, then one kernel.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "api/errors.h"
#include "api/validate.h"
#include "bitnet_quant.h"
#include "cpu/target_list.h"
#include "formats/bitnet_rs_quantizer.h"

namespace bitnet {
namespace {

// Runs `on_cuda` when the call goes to the GPU and `on_cpu` otherwise, or
// after a device failure that AUTO may fall back from (nothing was written
// then); reports the backend that ran.
template <class OnCuda, class OnCpu>
int RunChosen(const DeviceChoice& choice, const OnCuda& on_cuda, const OnCpu& on_cpu) {
  bitnet_backend backend = choice.backend;
  if (backend == BITNET_BACKEND_CUDA) {
    const int status = on_cuda();
    if (status == BITNET_E_DEVICE_FAILURE && choice.may_fall_back) {
      // Keep what failed for bitnet_last_error(), marked as a fallback (a
      // copy: the message is rewritten in place).
      char what[400];
      std::snprintf(what, sizeof(what), "%s", LastError() != nullptr ? LastError() : "");
      Note("device AUTO ran on the CPU after a failure of CUDA device %d: %s",
           choice.device_index, what);
      backend = BITNET_BACKEND_CPU_FALLBACK;
    } else if (status != BITNET_OK) {
      return status;
    }
  }
  if (backend != BITNET_BACKEND_CUDA) {
    on_cpu();  // the kernel reports its CPU target
  } else {
    ReportCpuTarget(kNoCpuKernel);
  }
  SetLastBackend(backend);
  return BITNET_OK;
}

int Quantize(bitnet_format format, const bitnet_quant_options* options, const float* input,
             size_t n, uint8_t* packed, size_t packed_len, float* scales, size_t scales_len) {
  CallConfig config;
  int status = ResolveCall(format, options, &config);
  if (status != BITNET_OK) return status;
  status = CheckQuantizeBuffers(input, n, config.block, packed, packed_len, scales, scales_len);
  if (status != BITNET_OK) return status;
  DeviceChoice choice;
  if ((status = ChooseDevice(config.device, n, &choice)) != BITNET_OK) return status;
  if (n == 0) {
    SetLastBackend(choice.backend);
    ReportCpuTarget(kNoCpuKernel);
    return BITNET_OK;
  }
  if (config.format == Format::kI2S && !HasFiniteElement(input, n)) {
    return Fail(BITNET_E_ALL_NONFINITE,
                "I2_S input of %zu elements has no finite element (BitNet-rs: MalformedData)", n);
  }
  return RunChosen(
      choice,
      [&] {
        return CudaQuantizeHost(choice.device_index, config.format, input, n, config.block,
                                packed, scales);
      },
      [&] { config.kernels->quantize(config.format, input, n, config.block, packed, scales); });
}

int Dequantize(bitnet_format format, const bitnet_quant_options* options, const uint8_t* packed,
               size_t packed_len, const float* scales, size_t scales_len, float* output,
               size_t n) {
  CallConfig config;
  int status = ResolveCall(format, options, &config);
  if (status != BITNET_OK) return status;
  status = CheckDequantizeBuffers(packed, packed_len, scales, scales_len, output, n, config.block);
  if (status != BITNET_OK) return status;
  DeviceChoice choice;
  if ((status = ChooseDevice(config.device, n, &choice)) != BITNET_OK) return status;
  if (n == 0) {
    SetLastBackend(choice.backend);
    ReportCpuTarget(kNoCpuKernel);
    return BITNET_OK;
  }
  return RunChosen(
      choice,
      [&] {
        return CudaDequantizeHost(choice.device_index, config.format, packed, scales, n,
                                  config.block, output);
      },
      [&] { config.kernels->dequantize(config.format, packed, scales, n, config.block, output); });
}

}  // namespace
}  // namespace bitnet

extern "C" {

int bitnet_quant_options_init(bitnet_quant_options* options, size_t struct_size) {
  if (options == nullptr) return bitnet::Fail(BITNET_E_NULL_POINTER, "options is NULL");
  const int status = bitnet::CheckOptionsSize(struct_size);
  if (status != BITNET_OK) return status;
  // The defaults, as much of them as the caller's layout holds.
  bitnet_quant_options defaults = BITNET_QUANT_OPTIONS_INIT;
  defaults.struct_size = static_cast<uint32_t>(struct_size);
  std::memcpy(options, &defaults, struct_size);
  return BITNET_OK;
}

int bitnet_quant_buffer_sizes(bitnet_format format, const bitnet_quant_options* options,
                              size_t n, size_t* packed_len, size_t* scales_len) {
  bitnet::FormatBlock format_block;
  bitnet_quant_options fields = BITNET_QUANT_OPTIONS_INIT;
  const int status = bitnet::ResolveFormatBlock(format, options, &format_block, &fields);
  if (status != BITNET_OK) return status;
  if (packed_len == nullptr) return bitnet::Fail(BITNET_E_NULL_POINTER, "packed_len is NULL");
  if (scales_len == nullptr) return bitnet::Fail(BITNET_E_NULL_POINTER, "scales_len is NULL");
  // No call can take more elements than this; say so here already.
  const int count_status = bitnet::CheckCount("n", n, sizeof(float));
  if (count_status != BITNET_OK) return count_status;
  *packed_len = bitnet::PackedSize(n);
  *scales_len = bitnet::NumBlocks(n, format_block.block);
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
