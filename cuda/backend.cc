// The CUDA backend: device discovery (CudaDeviceUsable), the host-pointer
// path of bitnet_quantize / bitnet_dequantize, and the bitnet_cuda_* entry
// points. Kernels are in kernels.cu.
//
// cudart is linked statically and loads the driver lazily, so on a machine
// without a driver cudaGetDeviceCount fails (35, insufficient driver; 100
// with a driver but no device): that means "no GPU", never a failure of the
// library.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <type_traits>
#include <vector>

#include "api/errors.h"
#include "api/validate.h"
#include "bitnet_quant.h"
#include "device_call.h"
#include "kernels.h"
#include "device/device.h"
#include "formats/formats.h"

namespace bitnet {
namespace {

// The helpers every device-pointer call shares (cuda/device_call.h).
using cuda::CurrentDevice;
using cuda::DeviceFailure;
using cuda::PendingErrorGuard;

// ---- discovery -------------------------------------------------------------------

// Devices beyond this index are reported unusable (no machine has that
// many GPUs in one process today).
constexpr int kMaxDevices = 64;

// Whether one device runs this library's kernels, decided once: that takes
// creating its context, which only a device a call asks for should pay.
struct DeviceState {
  std::once_flag once;
  bool usable = false;
  char why[400] = "";
};

struct Devices {
  std::once_flag once;
  int count = 0;
  char why_none[160] = "";         // when count == 0
  char why_out_of_range[96] = "";  // for an index >= count
  DeviceState state[kMaxDevices];
};

// No heap and nothing to destroy: a library that is loaded and unloaded
// again and again (dlopen / dlclose) leaves nothing behind, and no call on
// another thread can find it destroyed while the process exits.
Devices g_devices;
static_assert(std::is_trivially_destructible<Devices>::value, "g_devices needs no destructor");

const Devices& AllDevices() {
  std::call_once(g_devices.once, [] {
    Devices& d = g_devices;
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      count = 0;
      if (err == cudaErrorInsufficientDriver) {
        std::snprintf(d.why_none, sizeof(d.why_none),
                      "no usable CUDA driver (cudaGetDeviceCount: cudaErrorInsufficientDriver, 35)");
      } else {
        std::snprintf(d.why_none, sizeof(d.why_none), "no CUDA device (cudaGetDeviceCount: %s, %d)",
                      cudaGetErrorName(err), static_cast<int>(err));
      }
    } else if (count == 0) {
      std::snprintf(d.why_none, sizeof(d.why_none), "no CUDA device");
    }
    std::snprintf(d.why_out_of_range, sizeof(d.why_out_of_range),
                  "no CUDA device of that index (%d present)", count);
    d.count = count;
  });
  return g_devices;
}

void Probe(int index, DeviceState* state) {
  CurrentDevice current(index);
  cudaFuncAttributes attributes;
  cudaError_t err = current.status();
  if (err == cudaSuccess) err = cudaFuncGetAttributes(&attributes, cuda::AnyKernel());
  if (err == cudaSuccess) {
    state->usable = true;
    return;
  }
  cudaDeviceProp prop;
  const bool named = cudaGetDeviceProperties(&prop, index) == cudaSuccess;
  std::snprintf(state->why, sizeof(state->why),
                "CUDA device %d (%s, compute capability %d.%d) cannot run this library's "
                "kernels: %s (%s)", index, named ? prop.name : "?", named ? prop.major : 0,
                named ? prop.minor : 0, cudaGetErrorName(err), cudaGetErrorString(err));
}

// ---- device-pointer checks --------------------------------------------------------

// format + options of a device-pointer call: AUTO or CUDA, no CPU target,
// and a usable GPU.
int ResolveDeviceCall(bitnet_format format, const bitnet_quant_options* options,
                      CallConfig* config) {
  bitnet_quant_options fields = BITNET_QUANT_OPTIONS_INIT;
  const int status = ResolveOptions(format, options, config, &fields);
  if (status != BITNET_OK) return status;
  if (config->device.device == BITNET_DEVICE_CPU) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->device is CPU; device-pointer calls run on CUDA (AUTO or CUDA)");
  }
  if (config->device.cpu_target_named) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->cpu_target names a CPU target; device-pointer calls run on CUDA "
                "(cpu_target AUTO)");
  }
  const char* why = nullptr;
  if (!CudaDeviceUsable(config->device.index, &why)) {
    return Fail(BITNET_E_DEVICE_UNAVAILABLE, "device-pointer call: CUDA device %d unusable: %s",
                config->device.index, why);
  }
  return BITNET_OK;
}

// A per-thread int in mapped pinned host memory, which kernels of any device
// write and the host reads once the stream has synchronized: I2_S quantize's
// deferral flag, then its finite-element probe's result. Allocated once per
// thread (a per-call allocation would cost more than the kernel at small
// sizes); a call sets it before enqueuing its writers and reads it after
// synchronizing with them, so calls of one thread never share it in flight.
class MappedFlag {
 public:
  MappedFlag() = default;
  MappedFlag(const MappedFlag&) = delete;
  MappedFlag& operator=(const MappedFlag&) = delete;
  ~MappedFlag() {
    if (flag_ != nullptr) cudaFreeHost(const_cast<int*>(flag_));
  }
  cudaError_t Reset() {
    if (flag_ == nullptr) {
      void* p = nullptr;
      const cudaError_t err =
          cudaHostAlloc(&p, sizeof(int), cudaHostAllocMapped | cudaHostAllocPortable);
      if (err != cudaSuccess) return err;
      flag_ = static_cast<volatile int*>(p);
    }
    *flag_ = 0;
    return cudaSuccess;
  }
  int* device_pointer() const { return const_cast<int*>(flag_); }
  bool raised() const { return *flag_ != 0; }

 private:
  volatile int* flag_ = nullptr;
};

// Records the name of the step that fails; `what` is the caller's.
#define BITNET_CUDA_STEP(name, call) \
  do {                               \
    *what = name;                    \
    const cudaError_t e_ = (call);   \
    if (e_ != cudaSuccess) return e_; \
  } while (0)

// Device-pointer I2_S quantize, which must fail without writing anything when
// the input holds no finite element. The kernel runs with a deferral (see
// cuda::Deferral): every warp whose share holds a finite element writes it,
// and one synchronization of `stream` tells whether any warp held back. Only
// then (runs of 128 or more non-finite elements) is the whole input probed,
// and, when it holds a finite element after all, quantized again with no
// deferral; a last synchronization keeps the outputs complete on return.
// *finite: whether the input holds a finite element.
cudaError_t QuantizeI2SSteps(const float* input, size_t n, size_t block, uint8_t* packed,
                             float* scales, cudaStream_t stream, bool* finite,
                             const char** what) {
  static thread_local MappedFlag flag;
  BITNET_CUDA_STEP("cudaHostAlloc", flag.Reset());
  BITNET_CUDA_STEP("quantize kernel launch",
                   cuda::LaunchQuantize(cuda::Family::kQuantizer, Format::kI2S, input, n, block,
                                        packed, scales, cuda::Deferral{flag.device_pointer()},
                                        stream));
  BITNET_CUDA_STEP("cudaStreamSynchronize", cudaStreamSynchronize(stream));
  *finite = true;
  if (!flag.raised()) return cudaSuccess;
  BITNET_CUDA_STEP("cudaHostAlloc", flag.Reset());
  BITNET_CUDA_STEP("finite-element probe",
                   cuda::LaunchFindFinite(input, n, flag.device_pointer(), stream));
  BITNET_CUDA_STEP("cudaStreamSynchronize", cudaStreamSynchronize(stream));
  *finite = flag.raised();
  if (!*finite) return cudaSuccess;
  BITNET_CUDA_STEP("quantize kernel launch",
                   cuda::LaunchQuantize(cuda::Family::kQuantizer, Format::kI2S, input, n, block,
                                        packed, scales, cuda::Deferral{}, stream));
  BITNET_CUDA_STEP("cudaStreamSynchronize", cudaStreamSynchronize(stream));
  return cudaSuccess;
}

int QuantizeI2SOnDevice(const float* input, size_t n, size_t block, uint8_t* packed,
                        float* scales, cudaStream_t stream) {
  const char* what = "";
  bool finite = true;
  const cudaError_t err = QuantizeI2SSteps(input, n, block, packed, scales, stream, &finite, &what);
  if (err != cudaSuccess) return DeviceFailure(what, err);
  if (!finite) {
    return Fail(BITNET_E_ALL_NONFINITE,
                "I2_S input of %zu elements has no finite element (BitNet-rs: MalformedData)", n);
  }
  return BITNET_OK;
}

// The device-pointer quantize of either family, once the block size is
// resolved: checks, then the launch (I2_S of the quantizer family through
// its deferral, see QuantizeI2SOnDevice).
int QuantizeDevicePointers(cuda::Family family, const CallConfig& config, const float* d_input,
                           size_t n, uint8_t* d_packed, size_t packed_len, float* d_scales,
                           size_t scales_len, void* stream) {
  const int status = CheckQuantizeBuffers(d_input, n, config.block, d_packed, packed_len,
                                          d_scales, scales_len);
  if (status != BITNET_OK) return status;
  if (n == 0) {
    SetLastBackend(BITNET_BACKEND_CUDA);
    return BITNET_OK;
  }
  const std::array<Region, 3> regions{
      Region{"d_input", d_input, n * sizeof(float)}, Region{"d_packed", d_packed, PackedSize(n)},
      Region{"d_scales", d_scales, NumBlocks(n, config.block) * sizeof(float)}};
  return cuda::RunDeviceCall(
      config.device.index, regions, stream, [&](cudaStream_t s) {
        if (family == cuda::Family::kQuantizer && config.format == Format::kI2S) {
          const int refused = cuda::RefuseCapture(s, "I2_S quantize synchronizes it (it must write "
                                                     "nothing for an input with no finite element)");
          if (refused != BITNET_OK) return refused;
          return QuantizeI2SOnDevice(d_input, n, config.block, d_packed, d_scales, s);
        }
        const cudaError_t err = cuda::LaunchQuantize(family, config.format, d_input, n,
                                                     config.block, d_packed, d_scales,
                                                     cuda::Deferral{}, s);
        return err == cudaSuccess ? BITNET_OK : DeviceFailure("quantize kernel launch", err);
      });
}

// ---- host-pointer path -------------------------------------------------------------

// Quantize stages its input on the device this many floats at a time (64
// MiB), which bounds the memory a call takes beside its outputs. Outputs are
// staged whole and copied back once, after every kernel ran, so that a
// failure leaves the caller's buffers unwritten (dequantize thus needs its
// whole output on the device).
constexpr size_t kChunkElements = size_t{1} << 24;

size_t ChunkFor(size_t block) { return std::max<size_t>(1, kChunkElements / block) * block; }

// Device buffers of one host-pointer call, freed in stream order.
class DeviceBuffers {
 public:
  explicit DeviceBuffers(cudaStream_t stream) : stream_(stream) {}
  ~DeviceBuffers() {
    for (void* p : buffers_) cudaFreeAsync(p, stream_);
  }
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;
  template <class T>
  cudaError_t Allocate(size_t count, T** out) {
    void* p = nullptr;
    const cudaError_t err = cudaMallocAsync(&p, std::max<size_t>(count, 1) * sizeof(T), stream_);
    if (err == cudaSuccess) buffers_.push_back(p);
    *out = static_cast<T*>(p);
    return err;
  }

 private:
  cudaStream_t stream_;
  std::vector<void*> buffers_;
};

// Runs `body` (which records what failed in *what) and finishes the stream.
template <class Body>
int RunOnDevice(int device, const Body& body) {
  CurrentDevice current(device);
  if (current.status() != cudaSuccess) return DeviceFailure("cudaSetDevice", current.status());
  cudaStream_t stream = cudaStreamPerThread;
  const char* what = "";
  cudaError_t err;
  {
    DeviceBuffers buffers(stream);
    err = body(stream, buffers, &what);
  }
  const cudaError_t sync = cudaStreamSynchronize(stream);
  if (err != cudaSuccess) return DeviceFailure(what, err);
  if (sync != cudaSuccess) return DeviceFailure("cudaStreamSynchronize", sync);
  return BITNET_OK;
}

}  // namespace

bool CudaDeviceUsable(int index, const char** why) {
  const PendingErrorGuard guard;
  const Devices& devices = AllDevices();
  if (devices.count == 0) {
    *why = devices.why_none;
    return false;
  }
  if (index >= devices.count) {
    *why = devices.why_out_of_range;
    return false;
  }
  if (index >= kMaxDevices) {
    *why = "this library uses only the first 64 CUDA devices";
    return false;
  }
  DeviceState& state = g_devices.state[index];
  std::call_once(state.once, Probe, index, &state);
  *why = state.why;
  return state.usable;
}

int CudaQuantizeHost(int device, Format format, const float* input, size_t n, size_t block,
                     uint8_t* packed, float* scales) {
  const PendingErrorGuard guard;
  return RunOnDevice(device, [&](cudaStream_t stream, DeviceBuffers& buffers, const char** what) {
    const size_t chunk = ChunkFor(block);
    const size_t num_blocks = NumBlocks(n, block);
    float* d_input = nullptr;
    uint8_t* d_packed = nullptr;
    float* d_scales = nullptr;
    BITNET_CUDA_STEP("cudaMallocAsync", buffers.Allocate(std::min(n, chunk), &d_input));
    BITNET_CUDA_STEP("cudaMallocAsync", buffers.Allocate(PackedSize(n), &d_packed));
    BITNET_CUDA_STEP("cudaMallocAsync", buffers.Allocate(num_blocks, &d_scales));
    for (size_t start = 0; start < n; start += chunk) {
      const size_t len = std::min(chunk, n - start);
      BITNET_CUDA_STEP("cudaMemcpyAsync",
                       cudaMemcpyAsync(d_input, input + start, len * sizeof(float),
                                       cudaMemcpyHostToDevice, stream));
      BITNET_CUDA_STEP("quantize kernel launch",
                       cuda::LaunchQuantize(cuda::Family::kQuantizer, format, d_input, len, block,
                                            d_packed + start / 4, d_scales + start / block,
                                            cuda::Deferral{}, stream));
    }
    // The outputs are copied only once every chunk has run, so that a
    // failure leaves them unwritten.
    BITNET_CUDA_STEP("cudaMemcpyAsync", cudaMemcpyAsync(packed, d_packed, PackedSize(n),
                                                        cudaMemcpyDeviceToHost, stream));
    BITNET_CUDA_STEP("cudaMemcpyAsync", cudaMemcpyAsync(scales, d_scales, num_blocks * sizeof(float),
                                                        cudaMemcpyDeviceToHost, stream));
    return cudaSuccess;
  });
}

int CudaDequantizeHost(int device, Format format, const uint8_t* packed, const float* scales,
                       size_t n, size_t block, float* output) {
  const PendingErrorGuard guard;
  return RunOnDevice(device, [&](cudaStream_t stream, DeviceBuffers& buffers, const char** what) {
    const size_t num_blocks = NumBlocks(n, block);
    uint8_t* d_packed = nullptr;
    float* d_scales = nullptr;
    float* d_output = nullptr;
    BITNET_CUDA_STEP("cudaMallocAsync", buffers.Allocate(PackedSize(n), &d_packed));
    BITNET_CUDA_STEP("cudaMallocAsync", buffers.Allocate(num_blocks, &d_scales));
    BITNET_CUDA_STEP("cudaMallocAsync", buffers.Allocate(n, &d_output));
    BITNET_CUDA_STEP("cudaMemcpyAsync", cudaMemcpyAsync(d_packed, packed, PackedSize(n),
                                                        cudaMemcpyHostToDevice, stream));
    BITNET_CUDA_STEP("cudaMemcpyAsync", cudaMemcpyAsync(d_scales, scales, num_blocks * sizeof(float),
                                                        cudaMemcpyHostToDevice, stream));
    BITNET_CUDA_STEP("dequantize kernel launch",
                     cuda::LaunchDequantize(format, d_packed, d_scales, n, block, d_output, stream));
    // One copy back, after the kernel: a failure before it writes nothing.
    BITNET_CUDA_STEP("cudaMemcpyAsync", cudaMemcpyAsync(output, d_output, n * sizeof(float),
                                                        cudaMemcpyDeviceToHost, stream));
    return cudaSuccess;
  });
}

}  // namespace bitnet

// ---- the public CUDA entry points -------------------------------------------------

extern "C" {

int bitnet_cuda_device_count(void) {
  const bitnet::PendingErrorGuard guard;
  return bitnet::AllDevices().count;
}

int bitnet_cuda_get_device_info(int device_index, bitnet_cuda_device_info* info) {
  using bitnet::Fail;
  const bitnet::PendingErrorGuard guard;
  if (info == nullptr) return Fail(BITNET_E_NULL_POINTER, "info is NULL");
  if (info->struct_size != sizeof(bitnet_cuda_device_info)) {
    return Fail(BITNET_E_INVALID_ARGUMENT,
                "info->struct_size is %u; this library knows %u", info->struct_size,
                static_cast<unsigned>(sizeof(bitnet_cuda_device_info)));
  }
  const bitnet::Devices& devices = bitnet::AllDevices();
  if (devices.count == 0) {
    return Fail(BITNET_E_DEVICE_UNAVAILABLE, "%s", devices.why_none);
  }
  if (device_index < 0 || device_index >= devices.count) {
    return Fail(BITNET_E_DEVICE_UNAVAILABLE, "device_index is %d; %d CUDA device(s) present",
                device_index, devices.count);
  }
  cudaDeviceProp prop;
  cudaError_t err = cudaGetDeviceProperties(&prop, device_index);
  if (err != cudaSuccess) return bitnet::DeviceFailure("cudaGetDeviceProperties", err);
  const char* why = nullptr;
  const bool usable = bitnet::CudaDeviceUsable(device_index, &why);
  size_t free_bytes = 0, total_bytes = prop.totalGlobalMem;
  if (usable) {
    bitnet::CurrentDevice current(device_index);
    err = current.status() != cudaSuccess ? current.status() : cudaMemGetInfo(&free_bytes, &total_bytes);
    if (err != cudaSuccess) return bitnet::DeviceFailure("cudaMemGetInfo", err);
  }
  std::snprintf(info->name, sizeof(info->name), "%s", prop.name);
  info->compute_major = prop.major;
  info->compute_minor = prop.minor;
  info->multiprocessor_count = prop.multiProcessorCount;
  info->usable = usable ? 1 : 0;
  info->total_memory = total_bytes;
  info->free_memory = free_bytes;
  const int cc = prop.major * 10 + prop.minor;
  info->supports_fp16 = cc >= 53 ? 1 : 0;
  info->supports_bf16 = cc >= 80 ? 1 : 0;
  return BITNET_OK;
}

int bitnet_cuda_quantize(bitnet_format format, const bitnet_quant_options* options,
                         const float* d_input, size_t n, uint8_t* d_packed, size_t packed_len,
                         float* d_scales, size_t scales_len, void* stream) {
  using namespace bitnet;
  const PendingErrorGuard guard;
  CallConfig config;
  const int status = ResolveDeviceCall(format, options, &config);
  if (status != BITNET_OK) return status;
  return QuantizeDevicePointers(cuda::Family::kQuantizer, config, d_input, n, d_packed,
                                packed_len, d_scales, scales_len, stream);
}

int bitnet_cuda_dequantize(bitnet_format format, const bitnet_quant_options* options,
                           const uint8_t* d_packed, size_t packed_len, const float* d_scales,
                           size_t scales_len, float* d_output, size_t n, void* stream) {
  using namespace bitnet;
  const PendingErrorGuard guard;
  CallConfig config;
  int status = ResolveDeviceCall(format, options, &config);
  if (status != BITNET_OK) return status;
  status = CheckDequantizeBuffers(d_packed, packed_len, d_scales, scales_len, d_output, n,
                                  config.block);
  if (status != BITNET_OK) return status;
  if (n == 0) {
    SetLastBackend(BITNET_BACKEND_CUDA);
    return BITNET_OK;
  }
  const std::array<Region, 3> regions{Region{"d_packed", d_packed, packed_len},
                                      Region{"d_scales", d_scales, scales_len * sizeof(float)},
                                      Region{"d_output", d_output, n * sizeof(float)}};
  return cuda::RunDeviceCall(
      config.device.index, regions, stream, [&](cudaStream_t s) {
        const cudaError_t err = cuda::LaunchDequantize(config.format, d_packed, d_scales, n,
                                                       config.block, d_output, s);
        return err == cudaSuccess ? BITNET_OK : DeviceFailure("dequantize kernel launch", err);
      });
}

int bitnet_cuda_kernel_quantize(bitnet_format format, const bitnet_quant_options* options,
                                const float* d_input, size_t n, uint8_t* d_packed,
                                size_t packed_len, float* d_scales, size_t scales_len,
                                void* stream) {
  using namespace bitnet;
  const PendingErrorGuard guard;
  CallConfig config;
  const int status = ResolveDeviceCall(format, options, &config);
  if (status != BITNET_OK) return status;
  if (config.block != DefaultBlockSize(config.format)) {
    return Fail(BITNET_E_INVALID_BLOCK_SIZE,
                "options->block_size is %zu; the kernel family's %s blocks are fixed at %zu",
                config.block, FormatName(config.format), DefaultBlockSize(config.format));
  }
  return QuantizeDevicePointers(cuda::Family::kKernel, config, d_input, n, d_packed, packed_len,
                                d_scales, scales_len, stream);
}

}  // extern "C"
