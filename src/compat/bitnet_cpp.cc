// BitNet-rs's FFI contract (crates/bitnet-kernels/src/ffi/bridge.rs): int
// lengths, 0 = success, the message of a failure from
// bitnet_cpp_get_last_error() on the same thread.
#include "api/errors.h"
#include "api/validate.h"
#include "bitnet_quant.h"
#include "cpu/target_list.h"
#include "cpu/targets.h"
#include "device/device.h"

namespace {

int CheckLength(const char* name, int value) {
  if (value < 0) return bitnet::Fail(BITNET_E_INVALID_ARGUMENT, "%s is negative (%d)", name, value);
  return BITNET_OK;
}

// a * b in size_t, failing on overflow.
int CheckedProduct(const char* what, size_t a, size_t b, size_t* out) {
  if (b != 0 && a > SIZE_MAX / b) {
    return bitnet::Fail(BITNET_E_SIZE_OVERFLOW, "%s = %zu * %zu overflows", what, a, b);
  }
  *out = a * b;
  return BITNET_OK;
}

}  // namespace

extern "C" {

// The library holds no state that needs setting up or releasing: init only
// checks that the CPU kernels the other calls would use are runnable (a bad
// BITNET_CPU_TARGET fails here, as BitNet-rs's init fails when its kernels
// are not), and cleanup has nothing to do.
int bitnet_cpp_init(void) {
  const bitnet::KernelSet* kernels = nullptr;
  return bitnet::ResolveKernels(BITNET_CPU_AUTO, &kernels);
}

void bitnet_cpp_cleanup(void) {}

int bitnet_cpp_is_available(void) { return 1; }

const char* bitnet_cpp_get_last_error(void) { return bitnet::LastError(); }

int bitnet_cpp_quantize(const float* input, int input_len, uint8_t* output, int output_len,
                        float* scales, int scales_len, int qtype) {
  if (!bitnet::IsValidFormat(qtype)) {
    return bitnet::Fail(BITNET_E_INVALID_FORMAT,
                        "qtype is %d; expected 0 (I2S), 1 (TL1) or 2 (TL2)", qtype);
  }
  // The FFI contract is a CPU kernel library: always the CPU.
  bitnet_quant_options options = BITNET_QUANT_OPTIONS_INIT;
  options.device = BITNET_DEVICE_CPU;
  bitnet::CallConfig config;
  int status = bitnet::ResolveCall(qtype, &options, &config);
  if (status != BITNET_OK) return status;
  if ((status = CheckLength("input_len", input_len)) != BITNET_OK) return status;
  if ((status = CheckLength("output_len", output_len)) != BITNET_OK) return status;
  if ((status = CheckLength("scales_len", scales_len)) != BITNET_OK) return status;
  const size_t n = static_cast<size_t>(input_len);
  status = bitnet::CheckQuantizeBuffers(input, n, config.block, output,
                                        static_cast<size_t>(output_len), scales,
                                        static_cast<size_t>(scales_len));
  if (status != BITNET_OK) return status;
  if (n > 0) {
    config.kernels->kernel_quantize(config.format, input, n, output, scales);  // reports
  } else {
    bitnet::ReportCpuTarget(bitnet::kNoCpuKernel);
  }
  bitnet::SetLastBackend(BITNET_BACKEND_CPU);
  return BITNET_OK;
}

int bitnet_cpp_matmul_i2s(const int8_t* a, const uint8_t* b, float* c, int m, int n, int k) {
  int status = BITNET_OK;
  if ((status = CheckLength("m", m)) != BITNET_OK) return status;
  if ((status = CheckLength("n", n)) != BITNET_OK) return status;
  if ((status = CheckLength("k", k)) != BITNET_OK) return status;
  size_t a_len = 0, b_len = 0, c_len = 0;
  if ((status = CheckedProduct("m*k", m, k, &a_len)) != BITNET_OK) return status;
  if ((status = CheckedProduct("k*n", k, n, &b_len)) != BITNET_OK) return status;
  if ((status = CheckedProduct("m*n", m, n, &c_len)) != BITNET_OK) return status;
  if ((status = bitnet::CheckCount("m*n", c_len, sizeof(float))) != BITNET_OK) return status;
  const bitnet::Region ra{"a", a, a_len}, rb{"b", b, b_len}, rc{"c", c, c_len * sizeof(float)};
  if (c_len == 0) {  // nothing to write
    bitnet::SetLastBackend(BITNET_BACKEND_CPU);
    bitnet::ReportCpuTarget(bitnet::kNoCpuKernel);
    return BITNET_OK;
  }
  for (const bitnet::Region* r : {&ra, &rb, &rc}) {
    if (r->bytes != 0 && (status = bitnet::CheckNotNull(*r)) != BITNET_OK) return status;
  }
  if ((status = bitnet::CheckFloatAligned(rc)) != BITNET_OK) return status;
  if ((status = bitnet::CheckNoOverlap(rc, ra)) != BITNET_OK) return status;
  if ((status = bitnet::CheckNoOverlap(rc, rb)) != BITNET_OK) return status;
  const bitnet::KernelSet* kernels = nullptr;
  if ((status = bitnet::ResolveKernels(BITNET_CPU_AUTO, &kernels)) != BITNET_OK) return status;
  kernels->matmul_i2s(a, b, c, static_cast<size_t>(m), static_cast<size_t>(n),
                      static_cast<size_t>(k));
  bitnet::SetLastBackend(BITNET_BACKEND_CPU);
  return BITNET_OK;
}

}  // extern "C"
