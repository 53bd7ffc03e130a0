// The device-pointer tensor and product entry points: every check that
// needs no GPU (types, options, shapes, lengths, NULL, alignment, overlap),
// in the order and with the messages of the CPU calls, then the CUDA
// backend (src/device/cuda_tensor.h), which checks the device, the buffers'
// memory and the stream.
#include <cstdint>
#include <cstdio>
#include <new>

#include "api/errors.h"
#include "api/tensor_checks.h"
#include "api/validate.h"
#include "bitnet_quant.h"
#include "cpu/target_list.h"
#include "device/cuda_tensor.h"
#include "formats/layouts.h"

namespace bitnet {
namespace {

// What a device call of the tensor layouts takes: a type the GPU supports
// in this role (the CPU-only layouts say so).
int ResolveDeviceType(const char* what, bitnet_type type, Role role, const Layout** layout) {
  const int status = ResolveType(what, type, role, layout);
  if (status != BITNET_OK) return status;
  const DeviceSupport support = DeviceSupportOf((*layout)->id);
  const bool ok = role == Role::kQuantizeDestination ? support.encode
                  : role == Role::kTernary           ? support.transcode
                  : role == Role::kElement           ? support.encode && support.decode
                                                     : support.decode;
  if (!ok) {
    return Fail(BITNET_E_INVALID_TYPE,
                "%s is %s, which the device-pointer calls do not take (the CPU's bitnet_tensor_* "
                "do): on the GPU, F32/F16/BF16, Q8_0, Q8_K, TQ1_0, TQ2_0, Q2_0, I2_S%s",
                what, (*layout)->name, role == Role::kTernary ? "" : " and, to decode, IQ2_S");
  }
  return BITNET_OK;
}

// The rs_block of TensorBytes: the device calls take no BITNET_RS_I2S.
constexpr uint32_t kNoRsBlock = 32;

// The device-pointer side of the shared checks: the types the GPU takes, no
// CPU-only options, a device index.
class DeviceEntry final : public TensorEntry {
 public:
  DeviceEntry(int device_index, void* stream)
      : TensorEntry("d_src", "d_dst"), call{0, stream, 0}, device_index_(device_index) {}
  DeviceTensorCall call;

  int ResolveType(const char* what, bitnet_type type, Role role,
                  const Layout** layout) const override {
    return ResolveDeviceType(what, type, role, layout);
  }
  int ResolveOptions(const bitnet_tensor_options* options, uint32_t* rs_block) override {
    const bitnet_tensor_options& o = options != nullptr ? *options : kDefaultTensorOptions;
    const int status = CheckTensorOptionFields(o);
    if (status != BITNET_OK) return status;
    if (o.ternarize != BITNET_TERNARIZE_NONE) {
      return Fail(BITNET_E_INVALID_OPTIONS,
                  "options->ternarize is %d: absmean ternarization runs on the CPU only "
                  "(bitnet_tensor_quantize, bitnet_ternarize)", o.ternarize);
    }
    if (device_index_ < 0) {
      return Fail(BITNET_E_INVALID_ARGUMENT, "device_index is %d; it must be >= 0", device_index_);
    }
    call.flags = o.flags;
    call.device = device_index_;
    *rs_block = kNoRsBlock;
    return BITNET_OK;
  }

 private:
  int device_index_;
};

// Runs a backend call whose checks have passed; a success ran no CPU
// kernel, which bitnet_last_cpu_target() then says.
template <class Op>
int Run(const Op& op) {
  try {
    const int status = op();
    if (status == BITNET_OK) ReportCpuTarget(kNoCpuKernel);
    return status;
  } catch (const std::bad_alloc&) {
    return Fail(BITNET_E_OUT_OF_MEMORY, "out of host memory");
  }
}

}  // namespace
}  // namespace bitnet

using bitnet::CheckBuffer;
using bitnet::CheckExact;
using bitnet::Fail;
using bitnet::Layout;
using bitnet::Role;
using bitnet::TensorShape;

extern "C" {

int bitnet_cuda_tensor_quantize(bitnet_type dst_type, const bitnet_tensor_options* options,
                                bitnet_type src_type, const void* d_src, int64_t rows,
                                int64_t cols, void* d_dst, size_t dst_len, int device_index,
                                void* stream) {
  bitnet::DeviceEntry device(device_index, stream);
  bitnet::TensorCall c;
  const int status = bitnet::CheckQuantizeCall(device, dst_type, options, src_type, d_src, rows,
                                               cols, d_dst, dst_len, &c);
  if (status != BITNET_OK) return status;
  return bitnet::Run([&] { return bitnet::CudaTensorQuantize(device.call, *c.dst, d_dst, *c.src, d_src, c.shape); });
}

int bitnet_cuda_tensor_dequantize(bitnet_type src_type, const bitnet_tensor_options* options,
                                  const void* d_src, size_t src_len, int64_t rows, int64_t cols,
                                  bitnet_type dst_type, void* d_dst, size_t dst_len,
                                  int device_index, void* stream) {
  bitnet::DeviceEntry device(device_index, stream);
  bitnet::TensorCall c;
  const int status = bitnet::CheckDequantizeCall(device, src_type, options, d_src, src_len, rows,
                                                 cols, dst_type, d_dst, dst_len, &c);
  if (status != BITNET_OK) return status;
  return bitnet::Run([&] { return bitnet::CudaTensorDequantize(device.call, *c.dst, d_dst, *c.src, d_src, c.shape); });
}

int bitnet_cuda_tensor_transcode(bitnet_type dst_type, const bitnet_tensor_options* options,
                                 bitnet_type src_type, const void* d_src, size_t src_len,
                                 int64_t rows, int64_t cols, void* d_dst, size_t dst_len,
                                 int device_index, void* stream) {
  bitnet::DeviceEntry device(device_index, stream);
  bitnet::TensorCall c;
  const int status = bitnet::CheckTranscodeCall(device, dst_type, options, src_type, d_src,
                                                src_len, rows, cols, d_dst, dst_len, &c);
  if (status != BITNET_OK) return status;
  return bitnet::Run([&] { return bitnet::CudaTensorTranscode(device.call, *c.dst, d_dst, *c.src, d_src, c.shape); });
}

int bitnet_cuda_gemm_prepare(bitnet_type w_type, const void* w, size_t w_len, int64_t rows,
                             int64_t cols, int device_index, bitnet_cuda_gemm_weights** weights) {
  const Layout* l = bitnet::FindLayout(w_type);
  bitnet::GemmAct act;
  if (l == nullptr || !bitnet::GemmActOf(l->id, &act)) {
    return Fail(BITNET_E_INVALID_TYPE, "w_type is %d (%s); the GPU products take I2_S, TQ1_0, "
                "TQ2_0 or Q2_0", static_cast<int>(w_type), bitnet::LayoutName(w_type));
  }
  if (weights == nullptr) return Fail(BITNET_E_NULL_POINTER, "weights is NULL");
  TensorShape shape;
  size_t have = 0;
  int status;
  if ((status = bitnet::TensorBytes(*l, rows, cols, bitnet::kNoRsBlock, &shape, &have)) != BITNET_OK) {
    return status;
  }
  if (l->id == bitnet::LayoutId::kI2_S && cols > bitnet::kMaxI2SGemmCols) {
    return Fail(BITNET_E_INVALID_SHAPE,
                "I2_S rows of %lld elements: the exact int32 sums of a product hold at most %lld",
                static_cast<long long>(cols), static_cast<long long>(bitnet::kMaxI2SGemmCols));
  }
  if (rows == 0 || cols == 0) {
    return Fail(BITNET_E_INVALID_SHAPE, "a %lld x %lld weight tensor has nothing to multiply",
                static_cast<long long>(rows), static_cast<long long>(cols));
  }
  if ((status = CheckExact("w_len", w_len, have, *l, shape)) != BITNET_OK ||
      (status = CheckBuffer("w", w, have, 1)) != BITNET_OK) {
    return status;
  }
  if (device_index < 0) {
    return Fail(BITNET_E_INVALID_ARGUMENT, "device_index is %d; it must be >= 0", device_index);
  }
  return bitnet::Run([&] { return bitnet::CudaGemmPrepare(*l, w, shape, device_index, weights); });
}

void bitnet_cuda_gemm_free(bitnet_cuda_gemm_weights* weights) {
  if (weights != nullptr) bitnet::CudaGemmFree(weights);
}

int bitnet_cuda_gemm_multi(const bitnet_cuda_gemm_job* jobs, int count, bitnet_type x_type,
                           int64_t batch, void* stream) {
  const Layout* x = nullptr;
  int status = bitnet::ResolveType("x_type", x_type, Role::kElement, &x);
  if (status != BITNET_OK) return status;
  if (jobs == nullptr) return Fail(BITNET_E_NULL_POINTER, "jobs is NULL");
  if (count < 1 || count > bitnet::kMaxGemmJobs) {
    return Fail(BITNET_E_INVALID_ARGUMENT, "count is %d; it must be in [1, %d]", count,
                bitnet::kMaxGemmJobs);
  }
  if (batch < 0) {
    return Fail(BITNET_E_INVALID_ARGUMENT, "batch is %lld; it must be >= 0",
                static_cast<long long>(batch));
  }
  bitnet::GemmAct first_act = bitnet::GemmAct::kI8S;
  int device = -1;
  for (int i = 0; i < count; ++i) {
    const bitnet_cuda_gemm_job& j = jobs[i];
    if (j.weights == nullptr) return Fail(BITNET_E_NULL_POINTER, "jobs[%d].weights is NULL", i);
    const bitnet::GemmShape g = bitnet::CudaGemmShapeOf(j.weights);
    bitnet::GemmAct act = bitnet::GemmAct::kI8S;
    bitnet::GemmActOf(g.w, &act);
    if (i == 0) {
      first_act = act;
      device = g.device;
    } else if (act != first_act || g.device != device) {
      return Fail(BITNET_E_INVALID_ARGUMENT,
                  "jobs[%d].weights (%s on CUDA device %d) does not go with jobs[0] (%s on device "
                  "%d): one call takes weights of one activation rule on one GPU", i,
                  bitnet::GetLayout(g.w).name, g.device, bitnet::GetLayout(bitnet::CudaGemmShapeOf(jobs[0].weights).w).name,
                  device);
    }
  }
  if (batch == 0) return BITNET_OK;
  // Then the buffers, once every job's weights are known to go together.
  for (int i = 0; i < count; ++i) {
    const bitnet_cuda_gemm_job& j = jobs[i];
    const bitnet::GemmShape g = bitnet::CudaGemmShapeOf(j.weights);
    // Sizes in bytes cannot overflow: rows, cols <= PTRDIFF_MAX / 4 and
    // batch * either is checked here.
    if (static_cast<uint64_t>(batch) > static_cast<uint64_t>(PTRDIFF_MAX) / 4 /
                                           static_cast<uint64_t>(g.rows > g.cols ? g.rows : g.cols)) {
      return Fail(BITNET_E_SIZE_OVERFLOW, "jobs[%d]: batch %lld of %lld x %lld is too large to address",
                  i, static_cast<long long>(batch), static_cast<long long>(g.rows),
                  static_cast<long long>(g.cols));
    }
    const size_t x_bytes = static_cast<size_t>(batch) * static_cast<size_t>(g.cols) * x->block_bytes;
    const size_t y_bytes = static_cast<size_t>(batch) * static_cast<size_t>(g.rows) * sizeof(float);
    char x_name[32], y_name[32];
    std::snprintf(x_name, sizeof(x_name), "jobs[%d].d_x", i);
    std::snprintf(y_name, sizeof(y_name), "jobs[%d].d_y", i);
    if ((status = CheckBuffer(x_name, j.d_x, x_bytes, bitnet::AlignmentOf(*x))) != BITNET_OK ||
        (status = CheckBuffer(y_name, j.d_y, y_bytes, sizeof(float))) != BITNET_OK) {
      return status;
    }
    // No output may overlap an input or another output.
    for (int k = 0; k < count; ++k) {
      const bitnet::GemmShape o = bitnet::CudaGemmShapeOf(jobs[k].weights);
      const size_t ox = static_cast<size_t>(batch) * static_cast<size_t>(o.cols) * x->block_bytes;
      const size_t oy = static_cast<size_t>(batch) * static_cast<size_t>(o.rows) * sizeof(float);
      if ((status = bitnet::CheckNoOverlap({y_name, j.d_y, y_bytes}, {"an input d_x", jobs[k].d_x, ox})) != BITNET_OK ||
          (k != i && (status = bitnet::CheckNoOverlap({y_name, j.d_y, y_bytes}, {"another output d_y", jobs[k].d_y, oy})) != BITNET_OK)) {
        return status;
      }
    }
  }
  return bitnet::Run([&] { return bitnet::CudaGemmRun(jobs, count, *x, batch, stream); });
}

// d_y is the kernels' output (readability-non-const-parameter cannot see it).
int bitnet_cuda_gemm(bitnet_cuda_gemm_weights* weights, bitnet_type x_type, const void* d_x,
                     int64_t batch, float* d_y,  // NOLINT(readability-non-const-parameter)
                     void* stream) {
  if (weights == nullptr) return Fail(BITNET_E_NULL_POINTER, "weights is NULL");
  const bitnet_cuda_gemm_job job{weights, d_x, d_y};
  return bitnet_cuda_gemm_multi(&job, 1, x_type, batch, stream);
}

}  // extern "C"
