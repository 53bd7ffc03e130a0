/* The argument checks of the device-pointer tensor calls and the GPU
 * products that need no GPU, on any machine and in builds with or without
 * CUDA: each bad argument fails before a device is touched, with the
 * status the CPU calls give, writing nothing; with valid arguments and
 * host buffers a machine without a GPU reports BITNET_E_DEVICE_UNAVAILABLE,
 * one with a GPU BITNET_E_INVALID_ARGUMENT (host memory is not the GPU's).
 * test_cuda_tensor bad_input has the rows that need prepared weights. */
#define BITNET_QUANT_EXPERIMENTAL
#include <string.h>

#include "bitnet_quant.h"
#include "test_util.h"

static void run_bad_input(int have_gpu) {
  float x[1024];
  uint8_t out[1024];
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  bitnet_cuda_gemm_weights* weights = (bitnet_cuda_gemm_weights*)0x1;
  bitnet_cuda_gemm_job job;
  const int no_device = have_gpu ? BITNET_E_INVALID_ARGUMENT : BITNET_E_DEVICE_UNAVAILABLE;
  memset(x, 0, sizeof x);
  memset(out, POISON, sizeof out);
  /* quantize */
  expect_status(bitnet_cuda_tensor_quantize(999, NULL, BITNET_TYPE_F32, x, 1, 256, out, 66, 0, NULL),
                BITNET_E_INVALID_TYPE, "quantize: unknown dst_type");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_HF_BITNET, NULL, BITNET_TYPE_F32, x, 4, 4, out, 8, 0, NULL),
                BITNET_E_INVALID_TYPE, "quantize: HF_BITNET is CPU-only");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_BITNET_RS_I2S, NULL, BITNET_TYPE_F32, x, 1, 32, out, 12, 0, NULL),
                BITNET_E_INVALID_TYPE, "quantize: BITNET_RS_I2S is CPU-only");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_IQ2_S, NULL, BITNET_TYPE_F32, x, 1, 256, out, 82, 0, NULL),
                BITNET_E_INVALID_TYPE, "quantize: IQ2_S decodes only");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_TQ1_0, x, 1, 256, out, 66, 0, NULL),
                BITNET_E_INVALID_TYPE, "quantize: src not an element type");
  o.struct_size = 4;
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_F32, x, 1, 256, out, 66, 0, NULL),
                BITNET_E_INVALID_OPTIONS, "quantize: options struct_size");
  o = (bitnet_tensor_options)BITNET_TENSOR_OPTIONS_INIT;
  o.ternarize = BITNET_TERNARIZE_ABSMEAN;
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_F32, x, 1, 256, out, 66, 0, NULL),
                BITNET_E_INVALID_OPTIONS, "quantize: absmean is CPU-only");
  o = (bitnet_tensor_options)BITNET_TENSOR_OPTIONS_INIT;
  o.flags = 0x80;
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_F32, x, 1, 256, out, 66, 0, NULL),
                BITNET_E_INVALID_OPTIONS, "quantize: unknown flag");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, x, 1, 100, out, 66, 0, NULL),
                BITNET_E_INVALID_SHAPE, "quantize: TQ2_0 cols 100");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_I2_S, NULL, BITNET_TYPE_F32, x, 1, 100, out, 64, 0, NULL),
                BITNET_E_INVALID_SHAPE, "quantize: I2_S of 100 elements");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, x, -1, 256, out, 66, 0, NULL),
                BITNET_E_INVALID_SHAPE, "quantize: rows -1");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, NULL, 1, 256, out, 66, 0, NULL),
                BITNET_E_NULL_POINTER, "quantize: NULL d_src");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, x, 1, 256, NULL, 66, 0, NULL),
                BITNET_E_NULL_POINTER, "quantize: NULL d_dst");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, (const char*)x + 2, 1, 256, out,
                                            66, 0, NULL),
                BITNET_E_MISALIGNED, "quantize: misaligned F32 source");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, x, 1, 256, out, 65, 0, NULL),
                BITNET_E_BUFFER_TOO_SMALL, "quantize: dst_len 65");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, x, 1, 256, (uint8_t*)x + 100, 66,
                                            0, NULL),
                BITNET_E_OVERLAP, "quantize: dst overlaps src");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, x, 1, 256, out, 66, -1, NULL),
                BITNET_E_INVALID_ARGUMENT, "quantize: device_index -1");
  expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, x, 1, 256, out, 66, 0, NULL),
                no_device, "quantize: host buffers");
  /* dequantize */
  expect_status(bitnet_cuda_tensor_dequantize(BITNET_TYPE_TQ2_0, NULL, out, 65, 1, 256, BITNET_TYPE_F32, x, 1024, 0, NULL),
                BITNET_E_SIZE_MISMATCH, "dequantize: src_len 65");
  expect_status(bitnet_cuda_tensor_dequantize(BITNET_TYPE_TQ2_0, NULL, out, 66, 1, 256, BITNET_TYPE_Q8_0, x, 1024, 0, NULL),
                BITNET_E_INVALID_TYPE, "dequantize: dst Q8_0");
  expect_status(bitnet_cuda_tensor_dequantize(BITNET_TYPE_HF_BITNET, NULL, out, 8, 4, 4, BITNET_TYPE_F32, x, 64, 0, NULL),
                BITNET_E_INVALID_TYPE, "dequantize: HF_BITNET is CPU-only");
  expect_status(bitnet_cuda_tensor_dequantize(BITNET_TYPE_TQ2_0, NULL, out, 66, 1, 256, BITNET_TYPE_F32, x, 1023, 0, NULL),
                BITNET_E_BUFFER_TOO_SMALL, "dequantize: dst_len 1023");
  expect_status(bitnet_cuda_tensor_dequantize(BITNET_TYPE_TQ2_0, NULL, out, 66, 1, 256, BITNET_TYPE_F32, x, 1024, 0, NULL),
                no_device, "dequantize: host buffers");
  /* transcode */
  expect_status(bitnet_cuda_tensor_transcode(BITNET_TYPE_Q8_0, NULL, BITNET_TYPE_TQ2_0, out, 66, 1, 256, x, 1024, 0, NULL),
                BITNET_E_INVALID_TYPE, "transcode: Q8_0 is not ternary");
  expect_status(bitnet_cuda_tensor_transcode(BITNET_TYPE_HF_BITNET, NULL, BITNET_TYPE_TQ2_0, out, 66, 4, 64, x, 1024, 0, NULL),
                BITNET_E_INVALID_TYPE, "transcode: HF_BITNET is CPU-only");
  expect_status(bitnet_cuda_tensor_transcode(BITNET_TYPE_TQ1_0, NULL, BITNET_TYPE_TQ2_0, out, 66, 1, 256, x, 53, 0, NULL),
                BITNET_E_BUFFER_TOO_SMALL, "transcode: dst_len 53");
  expect_status(bitnet_cuda_tensor_transcode(BITNET_TYPE_TQ1_0, NULL, BITNET_TYPE_TQ2_0, out, 66, 1, 256, x, 54, 0, NULL),
                no_device, "transcode: host buffers");
  check(untouched(out, sizeof out), "bad input: output written");
  /* products */
  expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_Q8_0, out, 34, 1, 32, 0, &weights), BITNET_E_INVALID_TYPE,
                "prepare: Q8_0 weights");
  expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_TQ2_0, out, 66, 1, 256, 0, NULL), BITNET_E_NULL_POINTER,
                "prepare: NULL handle pointer");
  expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_TQ2_0, out, 66, 1, 100, 0, &weights), BITNET_E_INVALID_SHAPE,
                "prepare: TQ2_0 cols 100");
  expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_TQ2_0, out, 66, 0, 256, 0, &weights), BITNET_E_INVALID_SHAPE,
                "prepare: 0 rows");
  expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_I2_S, out, 5592448 / 4 + 32, 1, 5592448, 0, &weights),
                BITNET_E_INVALID_SHAPE, "prepare: I2_S rows too long for exact int32 sums");
  expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_TQ2_0, out, 65, 1, 256, 0, &weights), BITNET_E_SIZE_MISMATCH,
                "prepare: w_len 65");
  expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_TQ2_0, NULL, 66, 1, 256, 0, &weights), BITNET_E_NULL_POINTER,
                "prepare: NULL w");
  expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_TQ2_0, out, 66, 1, 256, -1, &weights), BITNET_E_INVALID_ARGUMENT,
                "prepare: device_index -1");
  check(weights == (bitnet_cuda_gemm_weights*)0x1, "prepare: handle written on error");
  if (!have_gpu) {
    expect_status(bitnet_cuda_gemm_prepare(BITNET_TYPE_TQ2_0, out, 66, 1, 256, 0, &weights),
                  BITNET_E_DEVICE_UNAVAILABLE, "prepare: no GPU");
  }
  expect_status(bitnet_cuda_gemm(NULL, BITNET_TYPE_F32, x, 1, x, NULL), BITNET_E_NULL_POINTER, "gemm: NULL weights");
  expect_status(bitnet_cuda_gemm_multi(NULL, 1, BITNET_TYPE_F32, 1, NULL), BITNET_E_NULL_POINTER, "multi: NULL jobs");
  job.weights = NULL;
  job.d_x = x;
  job.d_y = x;
  expect_status(bitnet_cuda_gemm_multi(&job, 0, BITNET_TYPE_F32, 1, NULL), BITNET_E_INVALID_ARGUMENT, "multi: count 0");
  expect_status(bitnet_cuda_gemm_multi(&job, 65, BITNET_TYPE_F32, 1, NULL), BITNET_E_INVALID_ARGUMENT, "multi: count 65");
  expect_status(bitnet_cuda_gemm_multi(&job, 1, BITNET_TYPE_TQ2_0, 1, NULL), BITNET_E_INVALID_TYPE, "multi: x_type TQ2_0");
  expect_status(bitnet_cuda_gemm_multi(&job, 1, BITNET_TYPE_F32, 1, NULL), BITNET_E_NULL_POINTER, "multi: NULL weights");
  bitnet_cuda_gemm_free(NULL);
}

int main(void) {
  bitnet_cuda_device_info info;
  memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  run_bad_input(bitnet_cuda_device_count() > 0 && bitnet_cuda_get_device_info(0, &info) == BITNET_OK &&
                info.usable);
  return finish("cuda_bad_input");
}
