/* libFuzzer harness: the ternary products (bitnet_gemm, bitnet_gemm_i8s,
 * bitnet_gemm_blocks) on arbitrary weight bytes (every code, every scale bit
 * pattern), arbitrary activation floats or quantized bytes, shapes, lengths,
 * options (targets, threads, row ranges, element types) and alignment.
 * Checks: the status is documented and is BITNET_OK exactly when the
 * arguments are valid; a failure writes nothing; a success writes exactly
 * y's rows of the row range, bit for bit the scalar reference's (any NaN
 * equal to any NaN), and nothing after them. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define MAX_ROWS 40
#define MAX_BATCH 5

struct layout {
  bitnet_type type;
  int64_t cols_unit;      /* cols must be a multiple of this (I2_S: rows * cols) */
  size_t act_block;       /* 1: I8_S rows; else Q8_K / Q8_0 block elements */
  size_t act_block_bytes;
};
static const struct layout kLayouts[4] = {
    {BITNET_TYPE_I2_S, 128, 1, 1},
    {BITNET_TYPE_TQ1_0, 256, 256, 292},
    {BITNET_TYPE_TQ2_0, 256, 256, 292},
    {BITNET_TYPE_Q2_0, 64, 32, 34},
};

static size_t tensor_bytes(bitnet_type type, int64_t rows, int64_t cols) {
  size_t bytes = 0;
  return bitnet_tensor_size(type, rows, cols, &bytes) == BITNET_OK ? bytes : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_input in = {data, size};
  const uint8_t entry = take_u8(&in) % 3; /* 0 gemm, 1 i8s, 2 blocks */
  const uint8_t which = take_u8(&in);
  const uint8_t shape = take_u8(&in);
  const uint8_t opt_mode = take_u8(&in);
  /* bitnet_gemm_i8s multiplies I2_S; bitnet_gemm_blocks the others. */
  const struct layout* l = &kLayouts[entry == 1 ? 0 : entry == 2 ? 1 + which % 3 : which % 4];
  bitnet_type w_type = l->type;
  if (which >= 250) {
    /* Any type id; one that the entry multiplies makes it that layout's
     * call (a valid one when the sizes fit it). */
    w_type = (bitnet_type)take_u32(&in);
    for (int i = entry == 2 ? 1 : 0; entry != 1 && i < 4; ++i) {
      if (kLayouts[i].type == w_type) l = &kLayouts[i];
    }
  }
  int64_t rows = take_u8(&in) % (MAX_ROWS + 1);
  int64_t cols = l->cols_unit * (1 + take_u8(&in) % 6);
  int64_t batch = take_u8(&in) % (MAX_BATCH + 1);
  /* Shapes a layout cannot hold, and negative sizes, now and then. */
  if (shape & 0x01) cols += (int8_t)take_u8(&in);
  if (shape & 0x02) rows = -(int64_t)(take_u8(&in) % 3);
  if (shape & 0x04) batch = -(int64_t)(take_u8(&in) % 2);
  const int w_delta = (shape & 0x08) ? (int8_t)take_u8(&in) : 0;
  const int xq_delta = (shape & 0x10) ? (int8_t)take_u8(&in) : 0;
  const size_t y_offset = (shape & 0x20) ? 1 + take_u8(&in) % 3 : 0; /* misaligned y */
  const int overlap = (shape & 0xC0) == 0xC0;                         /* y over x */

  bitnet_gemm_options o = BITNET_GEMM_OPTIONS_INIT;
  const bitnet_gemm_options* opt = NULL;
  int options_ok = 1;
  if (opt_mode & 1) {
    opt = &o;
    o.cpu_target = (opt_mode & 2) ? take_supported_target(&in) : 0;
    const int8_t threads = (int8_t)take_u8(&in);
    o.n_threads = (opt_mode & 4) && threads < 0 ? threads : threads % 4;
    if (opt_mode & 8) o.x_type = (opt_mode & 0x10) ? BITNET_TYPE_BF16 : BITNET_TYPE_F16;
    if (opt_mode & 0x20) {
      o.flags = BITNET_GEMM_ROW_RANGE;
      o.row_begin = (int8_t)take_u8(&in);
      o.row_end = (int8_t)take_u8(&in);
    }
    if (opt_mode & 0x40) o.struct_size = take_u32(&in);
    if (opt_mode & 0x80) o.reserved = (int8_t)take_u8(&in);
    options_ok = o.struct_size == sizeof o && o.n_threads >= 0 && o.reserved == 0 &&
                 (!(o.flags & BITNET_GEMM_ROW_RANGE) ||
                  (o.row_begin >= 0 && o.row_begin <= o.row_end && o.row_end <= rows));
  }
  const int type_ok = w_type == l->type || entry == 1; /* i8s takes no type */
  /* The layout's own shape rule: I2_S's is on the element count (any cols
   * when rows is 0; other rows realigned by the product), the others' on
   * cols. */
  const int cols_ok =
      l->type == BITNET_TYPE_I2_S ? (rows * cols) % 128 == 0 : cols % l->cols_unit == 0;
  const int shape_ok = rows >= 0 && batch >= 0 && cols >= 0 && cols_ok;

  /* Weights: the input bytes, exactly as long as the call says. */
  const size_t w_need = shape_ok ? tensor_bytes(l->type, rows, cols) : 0;
  const size_t w_len = (size_t)((long)w_need + w_delta < 0 ? 0 : (long)w_need + w_delta);
  uint8_t* w = (uint8_t*)malloc(w_len + 1);
  for (size_t i = 0; i < w_len; ++i) w[i] = take_u8(&in);

  /* Activations: floats (gemm), I8_S rows (i8s) or blocks (blocks), from the
   * input; x_type F16/BF16 halves the floats' bytes. */
  const size_t nb = batch > 0 ? (size_t)batch : 0;
  const size_t kc = cols > 0 ? (size_t)cols : 0;
  const size_t x_elem = o.x_type == BITNET_TYPE_F32 ? 4 : 2;
  const size_t blocks_need =
      l->act_block > 1 && shape_ok ? nb * kc / l->act_block * l->act_block_bytes : 0;
  const size_t xq_len = (size_t)((long)blocks_need + xq_delta < 0 ? 0 : (long)blocks_need + xq_delta);
  size_t x_bytes = entry == 0 ? nb * kc * x_elem : entry == 1 ? nb * kc : xq_len;
  uint8_t* x = (uint8_t*)malloc(x_bytes + 2 * MAX_BATCH * 4 + 64);
  for (size_t i = 0; i < x_bytes; ++i) x[i] = take_u8(&in);
  float scales[MAX_BATCH];
  int32_t sums[MAX_BATCH];
  for (int b = 0; b < MAX_BATCH; ++b) {
    const uint32_t bits = take_u32(&in);
    memcpy(&scales[b], &bits, 4);
    sums[b] = (int32_t)take_u32(&in);
  }

  /* y: poisoned, rows x batch floats and a guard. */
  const size_t ny = shape_ok ? (size_t)rows * nb : 0;
  uint8_t* y_bytes = (uint8_t*)poisoned(ny * sizeof(float) + y_offset);
  float* y = (float*)(y_bytes + y_offset);
  void* y_arg = overlap && x_bytes >= 4 ? (void*)x : (void*)y;

  int status = -100;
  switch (entry) {
    case 0: status = bitnet_gemm(w_type, w, w_len, rows, cols, (const float*)x, batch, y_arg, opt); break;
    case 1:
      status = bitnet_gemm_i8s(w, w_len, rows, cols, (const int8_t*)x, scales, sums, batch, y_arg, opt);
      break;
    default:
      status = bitnet_gemm_blocks(w_type, w, w_len, rows, cols, x, xq_len, batch, y_arg, opt);
      break;
  }
  require_documented(status, "bitnet_gemm*");
  const int writes = ny > 0 && (!(o.flags & BITNET_GEMM_ROW_RANGE) || o.row_begin < o.row_end);
  const int valid = options_ok && type_ok && shape_ok && w_len == w_need &&
                    (entry != 2 || xq_len == blocks_need) && (y_offset == 0 || !writes) &&
                    (!overlap || x_bytes < 4 || !writes);
  require((status == BITNET_OK) == valid,
          "entry %d type %d %lldx%lld batch %lld w_len %zu/%zu: status %d, valid %d (%s)", entry,
          (int)w_type, (long long)rows, (long long)cols, (long long)batch, w_len, w_need, status,
          valid, status ? bitnet_last_error() : "");
  if (status != BITNET_OK) {
    require(untouched(y_bytes, ny * sizeof(float) + y_offset + FUZZ_GUARD),
            "a failed call wrote y");
  } else if (ny > 0) {
    /* The reference's outputs; only the row range's written. */
    bitnet_gemm_options ref = o;
    ref.cpu_target = BITNET_CPU_REFERENCE;
    ref.n_threads = 1;
    ref.flags = 0;
    float* want = (float*)malloc(ny * sizeof(float));
    const int rs = entry == 0   ? bitnet_gemm(w_type, w, w_len, rows, cols, (const float*)x, batch, want, &ref)
                   : entry == 1 ? bitnet_gemm_i8s(w, w_len, rows, cols, (const int8_t*)x, scales, sums,
                                                  batch, want, &ref)
                                : bitnet_gemm_blocks(w_type, w, w_len, rows, cols, x, xq_len, batch,
                                                     want, &ref);
    require(rs == BITNET_OK, "reference call failed: %d", rs);
    const int64_t b0 = (o.flags & BITNET_GEMM_ROW_RANGE) ? o.row_begin : 0;
    const int64_t e0 = (o.flags & BITNET_GEMM_ROW_RANGE) ? o.row_end : rows;
    for (size_t i = 0; i < ny; ++i) {
      const int64_t r = (int64_t)(i % (size_t)rows);
      if (r >= b0 && r < e0) {
        require(same_results(&y[i], &want[i], 1), "type %d %lldx%lld target 0x%x threads %d: y[%zu] "
                "differs from the reference", (int)w_type, (long long)rows, (long long)cols,
                (unsigned)o.cpu_target, o.n_threads, i);
      } else {
        require(untouched(&y[i], sizeof(float)), "y[%zu] outside the row range written", i);
      }
    }
    require(untouched(y + ny, FUZZ_GUARD), "bytes after y written");
    free(want);
  }
  free(w);
  free(x);
  free(y_bytes);
  return 0;
}
