// Marks the scalar rules that the CUDA kernels share with the CPU code, so
// that each rule is written once.
#ifndef BITNET_FORMATS_HOST_DEVICE_H_
#define BITNET_FORMATS_HOST_DEVICE_H_

#if defined(__CUDACC__)
#define BITNET_HOST_DEVICE __host__ __device__
// Unrolls the next loop in device code (whose bounds are constants there),
// so that small arrays indexed by its counter stay in registers.
#define BITNET_UNROLL _Pragma("unroll")
#else
#define BITNET_HOST_DEVICE
#define BITNET_UNROLL
#endif

#endif  // BITNET_FORMATS_HOST_DEVICE_H_
