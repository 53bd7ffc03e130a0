// The device-pointer tensor calls once their arguments are checked
// (src/api/cuda_tensor_api.cc): the device and buffer checks, then the
// kernels of tensor_kernels.cu on the caller's stream. Quantize and
// dequantize only enqueue; transcode checks the source on the device and
// synchronizes once before it writes.
#include <cuda_runtime_api.h>

#include <array>
#include <cmath>
#include <cstdint>

#include "api/errors.h"
#include "device/cuda_tensor.h"
#include "device_call.h"
#include "formats/half.h"
#include "tensor_kernels.h"

namespace bitnet {
namespace {

using cuda::DeviceFailure;

// The device calls take no BitNet-rs layout: any block size sizes the rest.
size_t BytesOf(const Layout& l, size_t n) { return PartsOf(l, n, 32).total; }

// Records the first failing step of a sequence of CUDA calls.
#define BITNET_CUDA_TRY(name, call)       \
  do {                                    \
    const cudaError_t e_ = (call);        \
    if (e_ != cudaSuccess) return DeviceFailure(name, e_); \
  } while (0)

// I2_S quantize in four steps on the stream, with no allocation: the
// tensor scale is reduced into the first 4-byte aligned word of the output's
// 32-byte tail (zeroed first), the codes read it from there, and a last
// one-thread kernel writes the tail as quantize_i2_s does (the scale at its
// start, then zeros).
int QuantizeI2S(const Layout& src, const void* in, size_t n, uint8_t* out, cudaStream_t stream) {
  uint8_t* tail = out + n / 4;
  const uintptr_t misalignment = reinterpret_cast<uintptr_t>(tail) % 4;
  unsigned* scale_bits = reinterpret_cast<unsigned*>(tail + (misalignment ? 4 - misalignment : 0));
  BITNET_CUDA_TRY("cudaMemsetAsync", cudaMemsetAsync(tail, 0, 32, stream));
  BITNET_CUDA_TRY("I2_S scale kernel launch", cuda::LaunchI2SScale(src.id, in, n, scale_bits, stream));
  BITNET_CUDA_TRY("I2_S encode kernel launch",
                  cuda::LaunchEncodeI2S(out, src.id, in, n, scale_bits, stream));
  return BITNET_OK;
}

// Reads `bytes` of device memory at p into host memory (synchronizes).
cudaError_t ReadBack(void* host, const void* p, size_t bytes, cudaStream_t stream) {
  const cudaError_t err = cudaMemcpyAsync(host, p, bytes, cudaMemcpyDeviceToHost, stream);
  return err != cudaSuccess ? err : cudaStreamSynchronize(stream);
}

// The transcode's error, in the order and with the statuses of the CPU
// (TensorTranscode): non-finite source scales, then per 4096-element step a
// value the target cannot hold before disagreeing scales, then a per-tensor
// target's scales, then a scale the target cannot hold exactly.
int TranscodeError(const Layout& dst, const Layout& src, const cuda::TranscodeFindings& f) {
  using cuda::kNotFound;
  if (f.bad_scale != kNotFound) {
    return Fail(BITNET_E_INVALID_DATA,
                "%s scale of element %llu is not finite: a transcode keeps values, which such a "
                "scale does not define", src.name, f.bad_scale);
  }
  constexpr unsigned long long kStep = 4096;
  if (f.bad_value != kNotFound &&
      (f.disagreement == kNotFound || f.bad_value / kStep <= f.disagreement / kStep)) {
    return Fail(BITNET_E_INVALID_DATA, "element %llu of the %s tensor is +2, which %s cannot hold "
                "(-1..+1)", f.bad_value, src.name, dst.name);
  }
  if (f.disagreement != kNotFound) {
    const unsigned long long group = static_cast<unsigned long long>(dst.block_elements);
    return Fail(BITNET_E_INVALID_DATA,
                "%s holds one scale per %llu elements, but the non-zero elements of %llu.. have "
                "different scales in the %s source", dst.name, group,
                f.disagreement / group * group, src.name);
  }
  if (f.first_nonzero != kNotFound && f.min_scale_key != f.max_scale_key) {
    return Fail(BITNET_E_INVALID_DATA,
                "%s holds one scale per tensor, but the %s source's non-zero elements have scales "
                "from %.9g to %.9g", dst.name, src.name,
                static_cast<double>(cuda::ScaleOfKey(f.min_scale_key)),
                static_cast<double>(cuda::ScaleOfKey(f.max_scale_key)));
  }
  if (f.inexact_group != kNotFound) {
    return Fail(BITNET_E_INEXACT_SCALE,
                "%s cannot hold the scale of elements %llu.. exactly; pass "
                "BITNET_TENSOR_ALLOW_SCALE_ROUNDING to round it", dst.name,
                f.inexact_group * static_cast<unsigned long long>(dst.block_elements));
  }
  return BITNET_OK;
}

// The checking pass: whether the source may be written as the target.
// Only an I2_S source into TQ2_0 / Q2_0 (which hold every I2_S value) with
// a scale f16 holds exactly, or with rounding allowed, needs none.
int CheckTranscode(const DeviceTensorCall& call, const Layout& dst, const Layout& src,
                   const void* in, size_t n, float src_scale, cudaStream_t stream,
                   unsigned long long* first_nonzero) {
  const bool check_exact =
      (call.flags & (BITNET_TENSOR_ALLOW_SCALE_ROUNDING | BITNET_TENSOR_UNIT_SCALE)) == 0;
  *first_nonzero = cuda::kNotFound;
  if (src.id == LayoutId::kI2_S && (dst.id == LayoutId::kTQ2_0 || dst.id == LayoutId::kQ2_0) &&
      (!check_exact || HalfToFloat(FloatToHalf(src_scale)) == src_scale)) {
    return BITNET_OK;
  }
  cuda::TranscodeFindings found = cuda::TranscodeFindingsInit();
  cuda::TranscodeFindings* d_found = nullptr;
  BITNET_CUDA_TRY("cudaMallocAsync", cudaMallocAsync(reinterpret_cast<void**>(&d_found),
                                                     sizeof(found), stream));
  cudaError_t err = cudaMemcpyAsync(d_found, &found, sizeof(found), cudaMemcpyHostToDevice, stream);
  const char* what = "cudaMemcpyAsync";
  if (err == cudaSuccess) {
    what = "transcode check kernel launch";
    err = cuda::LaunchTranscodeCheck(src.id, in, dst.id, n, src_scale, check_exact, d_found, stream);
  }
  if (err == cudaSuccess) {
    what = "reading the transcode check";
    err = ReadBack(&found, d_found, sizeof(found), stream);
  }
  const cudaError_t freed = cudaFreeAsync(d_found, stream);
  if (err != cudaSuccess) return DeviceFailure(what, err);
  if (freed != cudaSuccess) return DeviceFailure("cudaFreeAsync", freed);
  *first_nonzero = found.first_nonzero;
  return TranscodeError(dst, src, found);
}

}  // namespace

int CudaTensorQuantize(const DeviceTensorCall& call, const Layout& dst, void* d_dst,
                       const Layout& src, const void* d_src, const TensorShape& shape) {
  const size_t n = shape.n;
  const std::array<Region, 2> regions{Region{"d_src", d_src, BytesOf(src, n)},
                                      Region{"d_dst", d_dst, BytesOf(dst, n)}};
  return cuda::RunDeviceCall(call.device, regions, call.stream, [&](cudaStream_t s) -> int {
    uint8_t* o = static_cast<uint8_t*>(d_dst);
    if (dst.id == LayoutId::kI2_S) {
      if (n == 0) {  // only the tail, with scale 0
        BITNET_CUDA_TRY("cudaMemsetAsync", cudaMemsetAsync(o, 0, 32, s));
        return BITNET_OK;
      }
      return QuantizeI2S(src, d_src, n, o, s);
    }
    if (n == 0) return BITNET_OK;
    if (dst.element_type) {
      BITNET_CUDA_TRY("conversion kernel launch", cuda::LaunchConvert(src.id, d_src, dst.id, d_dst, n, s));
    } else {
      BITNET_CUDA_TRY("encode kernel launch", cuda::LaunchEncodeBlocks(dst.id, d_dst, src.id, d_src, n, s));
    }
    return BITNET_OK;
  });
}

int CudaTensorDequantize(const DeviceTensorCall& call, const Layout& dst, void* d_dst,
                         const Layout& src, const void* d_src, const TensorShape& shape) {
  const size_t n = shape.n;
  const std::array<Region, 2> regions{Region{"d_src", d_src, BytesOf(src, n)},
                                      Region{"d_dst", d_dst, BytesOf(dst, n)}};
  return cuda::RunDeviceCall(call.device, regions, call.stream, [&](cudaStream_t s) -> int {
    if (n == 0) return BITNET_OK;
    if (src.element_type) {
      BITNET_CUDA_TRY("conversion kernel launch", cuda::LaunchConvert(src.id, d_src, dst.id, d_dst, n, s));
    } else {
      BITNET_CUDA_TRY("decode kernel launch", cuda::LaunchDecodeBlocks(src.id, d_src, n, dst.id, d_dst, s));
    }
    return BITNET_OK;
  });
}

int CudaTensorTranscode(const DeviceTensorCall& call, const Layout& dst, void* d_dst,
                        const Layout& src, const void* d_src, const TensorShape& shape) {
  const size_t n = shape.n;
  const std::array<Region, 2> regions{Region{"d_src", d_src, BytesOf(src, n)},
                                      Region{"d_dst", d_dst, BytesOf(dst, n)}};
  return cuda::RunDeviceCall(call.device, regions, call.stream, [&](cudaStream_t s) -> int {
    int status = cuda::RefuseCapture(s, "a transcode synchronizes it (its checks run before it writes)");
    if (status != BITNET_OK) return status;
    float src_scale = 0.0f;
    if (src.id == LayoutId::kI2_S) {
      BITNET_CUDA_TRY("reading the I2_S scale",
                      ReadBack(&src_scale, static_cast<const uint8_t*>(d_src) + n / 4,
                               sizeof(src_scale), s));
      if (!std::isfinite(src_scale)) {
        return Fail(BITNET_E_INVALID_DATA,
                    "I2_S scale of element 0 is not finite (%g): a transcode keeps values, which "
                    "such a scale does not define", static_cast<double>(src_scale));
      }
    }
    if (n == 0) {
      if (dst.id == LayoutId::kI2_S) BITNET_CUDA_TRY("cudaMemsetAsync", cudaMemsetAsync(d_dst, 0, 32, s));
      return BITNET_OK;
    }
    unsigned long long first_nonzero = cuda::kNotFound;
    status = CheckTranscode(call, dst, src, d_src, n, src_scale, s, &first_nonzero);
    if (status != BITNET_OK) return status;
    BITNET_CUDA_TRY("transcode kernel launch",
                    cuda::LaunchTranscodePack(src.id, d_src, dst.id, d_dst, n, src_scale,
                                              (call.flags & BITNET_TENSOR_UNIT_SCALE) != 0,
                                              first_nonzero, s));
    return BITNET_OK;
  });
}

}  // namespace bitnet
