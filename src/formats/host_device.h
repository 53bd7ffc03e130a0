// Marks the scalar rules that the CUDA kernels share with the CPU code, so
// that each rule is written once.
#ifndef BITNET_FORMATS_HOST_DEVICE_H_
#define BITNET_FORMATS_HOST_DEVICE_H_

#if defined(__CUDACC__)
#define BITNET_HOST_DEVICE __host__ __device__
#else
#define BITNET_HOST_DEVICE
#endif

#endif  // BITNET_FORMATS_HOST_DEVICE_H_
