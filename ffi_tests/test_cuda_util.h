/* What the C tests of the CUDA backend share (test_cuda, test_cuda_tensor):
 * fatal CUDA errors, device buffers, and ctest's skip code for a machine
 * without a usable GPU. Built only with the CUDA backend. */
#ifndef BITNET_FFI_TESTS_TEST_CUDA_UTIL_H
#define BITNET_FFI_TESTS_TEST_CUDA_UTIL_H

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

/* ctest's SKIP_RETURN_CODE: no usable GPU. */
#define SKIP_RETURN_CODE 77

/* A failed CUDA runtime call ends the test (exit 2) naming the call. */
#define CUDA_OK(call)                                                                 \
  do {                                                                                \
    const cudaError_t e_ = (call);                                                    \
    if (e_ != cudaSuccess) {                                                          \
      fprintf(stderr, "FATAL: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,            \
              cudaGetErrorString(e_));                                                \
      exit(2);                                                                        \
    }                                                                                 \
  } while (0)

/* cudaMalloc that ends the test on failure; 0 bytes give a valid pointer. */
static inline void* device_alloc(size_t bytes) {
  void* p = NULL;
  CUDA_OK(cudaMalloc(&p, bytes ? bytes : 1));
  return p;
}

#endif /* BITNET_FFI_TESTS_TEST_CUDA_UTIL_H */
