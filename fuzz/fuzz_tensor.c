/* libFuzzer harness: the tensor entry points (quantize, dequantize,
 * transcode, ternarize, i8s) with arbitrary types, shapes, lengths,
 * alignments, options and data bytes. Checks: the status is documented; a
 * failure writes nothing; a clean call (known types in their roles, a shape
 * the layouts hold, exact lengths, default options) fails only for its data;
 * a success writes no byte past its outputs and equals, byte for byte, the
 * same call forced onto the scalar reference. The device-pointer variants
 * (bitnet_cuda_tensor_*, host buffers here, in a build without CUDA) take
 * the same arguments: they must fail, write nothing, and where the CPU call
 * fails an argument check that the device shares, fail it alike. */
#define BITNET_QUANT_EXPERIMENTAL
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static const bitnet_type kTypes[] = {
    BITNET_TYPE_F32,   BITNET_TYPE_F16,   BITNET_TYPE_BF16,  BITNET_TYPE_Q8_0,
    BITNET_TYPE_Q8_K,  BITNET_TYPE_IQ2_S, BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0,
    BITNET_TYPE_I2_S,  BITNET_TYPE_Q2_0,  BITNET_TYPE_HF_BITNET, BITNET_TYPE_BITNET_RS_I2S};
#define NUM_TYPES (sizeof kTypes / sizeof kTypes[0])

static bitnet_type take_type(fuzz_input* in) {
  const uint8_t b = take_u8(in);
  return b < 250 ? kTypes[b % NUM_TYPES] : (bitnet_type)take_u32(in);
}

static int is_element(bitnet_type t) {
  return t == BITNET_TYPE_F32 || t == BITNET_TYPE_F16 || t == BITNET_TYPE_BF16;
}

static size_t tensor_bytes(bitnet_type t, int64_t rows, int64_t cols) {
  size_t bytes = 0;
  return bitnet_tensor_size(t, rows, cols, &bytes) == BITNET_OK ? bytes : 0;
}

enum { QUANT, DEQUANT, TRANSCODE, TERNARIZE, I8S };

/* One call of `entry`; out/aux/aux2 are outputs. */
static int call(int entry, const bitnet_tensor_options* o, bitnet_type dst_type, bitnet_type src_type,
                const void* src, size_t src_len, int64_t rows, int64_t cols, void* out,
                size_t out_len, void* aux, size_t aux_len, void* aux2, size_t aux2_len) {
  switch (entry) {
    case QUANT: return bitnet_tensor_quantize(dst_type, o, src_type, src, rows, cols, out, out_len);
    case DEQUANT:
      return bitnet_tensor_dequantize(src_type, o, src, src_len, rows, cols, dst_type, out, out_len);
    case TRANSCODE:
      return bitnet_tensor_transcode(dst_type, o, src_type, src, src_len, rows, cols, out, out_len);
    case TERNARIZE:
      return bitnet_ternarize(o, src_type, src, rows, cols, out, out_len, aux, aux_len);
    default:
      return bitnet_quantize_i8s(o, src_type, src, rows, cols, out, out_len, aux, aux_len, aux2, aux2_len);
  }
}

/* Whether the device-pointer calls take the types of this call. */
static int device_takes(int entry, bitnet_type dst_type, bitnet_type src_type) {
  const int ternary_dev = dst_type == BITNET_TYPE_I2_S || dst_type == BITNET_TYPE_TQ1_0 ||
                          dst_type == BITNET_TYPE_TQ2_0 || dst_type == BITNET_TYPE_Q2_0;
  const int ternary_src = src_type == BITNET_TYPE_I2_S || src_type == BITNET_TYPE_TQ1_0 ||
                          src_type == BITNET_TYPE_TQ2_0 || src_type == BITNET_TYPE_Q2_0;
  switch (entry) {
    case QUANT:
      return is_element(src_type) && (is_element(dst_type) || ternary_dev || dst_type == BITNET_TYPE_Q8_0 ||
                                      dst_type == BITNET_TYPE_Q8_K);
    case DEQUANT:
      return is_element(dst_type) && (is_element(src_type) || ternary_src || src_type == BITNET_TYPE_Q8_0 ||
                                       src_type == BITNET_TYPE_Q8_K || src_type == BITNET_TYPE_IQ2_S);
    case TRANSCODE: return ternary_dev && ternary_src;
    default: return 0;
  }
}

static int device_call(int entry, const bitnet_tensor_options* o, bitnet_type dst_type,
                       bitnet_type src_type, const void* src, size_t src_len, int64_t rows,
                       int64_t cols, void* out, size_t out_len) {
  switch (entry) {
    case QUANT:
      return bitnet_cuda_tensor_quantize(dst_type, o, src_type, src, rows, cols, out, out_len, 0, NULL);
    case DEQUANT:
      return bitnet_cuda_tensor_dequantize(src_type, o, src, src_len, rows, cols, dst_type, out,
                                           out_len, 0, NULL);
    default:
      return bitnet_cuda_tensor_transcode(dst_type, o, src_type, src, src_len, rows, cols, out,
                                          out_len, 0, NULL);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_input in = {data, size};
  const int entry = take_u8(&in) % 5;
  const bitnet_type dst_type = take_type(&in);
  const bitnet_type src_type = take_type(&in);
  const uint8_t shape = take_u8(&in);
  const uint8_t mode = take_u8(&in);
  int64_t rows = shape & 7, cols = 0;
  switch ((shape >> 3) & 7) {
    case 0: cols = 256; break;
    case 1: cols = 512; break;
    case 2: cols = 64; break;
    case 3: cols = 128; break;
    case 4: cols = 32 * (1 + take_u8(&in) % 24); break;
    case 5: cols = take_u8(&in); break;
    case 6: cols = -(int64_t)take_u8(&in); break;
    default: rows = (int64_t)take_u32(&in) << 24; cols = take_u32(&in); break;
  }
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  const int clean_options = (mode & 3) == 0;
  if (!clean_options) {
    o.n_threads = take_u8(&in) % 4;
    o.ternarize = take_u8(&in) % 3 == 0;
    o.group_size = (mode & 4) ? -1 : (mode & 8) ? 64 : 0;
    o.flags = take_u8(&in) & 3;
    o.cpu_target = take_supported_target(&in);
    if ((mode & 3) == 3) { /* anything */
      o.threshold = (float)take_u8(&in) / 100.0f;
      o.block_size = take_u32(&in) % 300;
      o.struct_size = take_u8(&in) < 250 ? o.struct_size : take_u32(&in);
    }
  }
  const size_t out_offset = (mode & 0x10) ? 1 : 0, src_offset = (mode & 0x20) ? 2 : 0;
  const long len_delta = (mode & 0x40) ? (long)(int8_t)take_u8(&in) : 0;

  /* Source: for element types rows*cols elements, else the layout's bytes;
   * filled from the input, the rest zero. */
  const size_t n = rows > 0 && cols > 0 && rows <= FUZZ_MAX_N && cols <= FUZZ_MAX_N &&
                           rows * cols <= FUZZ_MAX_N ? (size_t)(rows * cols) : 0;
  /* Rows usable for sizing per-row outputs (huge shapes fail on their own). */
  const size_t small_rows = rows > 0 && rows <= FUZZ_MAX_N ? (size_t)rows : 0;
  const size_t src_need = tensor_bytes(src_type, rows, cols);
  if (src_need > (size_t)FUZZ_MAX_N * 4) return 0;
  const size_t src_len = (size_t)((long)src_need + len_delta < 0 ? 0 : (long)src_need + len_delta);
  /* Calls with an element source read all of it whatever src_len says;
   * the others read exactly src_len. */
  const size_t src_alloc = src_len > src_need ? src_len : src_need;
  uint8_t* src_buf = (uint8_t*)malloc(src_alloc + src_offset + 1);
  memset(src_buf, 0, src_alloc + src_offset + 1);
  memcpy(src_buf + src_offset, in.data, in.size < src_alloc ? in.size : src_alloc);
  const void* src = src_buf + src_offset;

  size_t out_need = 0, aux_need = 0, aux2_need = 0;
  if (entry == TERNARIZE) {
    out_need = n;
    aux_need = 4 * (o.group_size == 0 ? 1 : o.group_size < 0 ? small_rows : n / 64 + 1);
  } else if (entry == I8S) {
    out_need = n;
    aux_need = aux2_need = 4 * small_rows;
  } else {
    out_need = tensor_bytes(dst_type, rows, cols);
    if (out_need > (size_t)FUZZ_MAX_N * 4) out_need = 0;
  }
  const size_t out_len = out_need;
  uint8_t* out_buf = (uint8_t*)poisoned(out_len + out_offset);
  uint8_t* aux = (uint8_t*)poisoned(aux_need);
  uint8_t* aux2 = (uint8_t*)poisoned(aux2_need);
  void* out = out_buf + out_offset;
  const size_t aux_len = aux_need / 4, aux2_len = aux2_need / 4;

  const int status = call(entry, &o, dst_type, src_type, src, src_len, rows, cols, out, out_len, aux,
                          aux_len, aux2, aux2_len);
  require_documented(status, "tensor entry point");
  if (entry == QUANT || entry == DEQUANT || entry == TRANSCODE) {
    uint8_t* dev_buf = (uint8_t*)poisoned(out_len + out_offset);
    const int dev = device_call(entry, &o, dst_type, src_type, src, src_len, rows, cols,
                                dev_buf + out_offset, out_len);
    require_documented(dev, "device tensor entry point");
    require(dev != BITNET_OK && untouched(dev_buf, out_len + out_offset + FUZZ_GUARD),
            "device entry %d returned %d or wrote output without a GPU", entry, dev);
    /* The argument checks both make, in the same order. */
    if (device_takes(entry, dst_type, src_type) && o.ternarize == BITNET_TERNARIZE_NONE && o.group_size <= 0 &&
        status != BITNET_OK && status != BITNET_E_INVALID_DATA && status != BITNET_E_ALL_NONFINITE &&
        status != BITNET_E_INEXACT_SCALE && status != BITNET_E_UNSUPPORTED_TARGET &&
        status != BITNET_E_OUT_OF_MEMORY) {
      require(dev == status, "device entry %d (%s <- %s, %lldx%lld): %d where the CPU call gives %d",
              entry, bitnet_type_name(dst_type), bitnet_type_name(src_type), (long long)rows,
              (long long)cols, dev, status);
    }
    free(dev_buf);
  }
  if (status != BITNET_OK) {
    require(untouched(out_buf, out_len + out_offset + FUZZ_GUARD) && untouched(aux, aux_need + FUZZ_GUARD) &&
                untouched(aux2, aux2_need + FUZZ_GUARD),
            "entry %d failed with %d but wrote output", entry, status);
    /* A clean call fails only for what its data holds. */
    const int roles_ok =
        (entry == QUANT && is_element(src_type) && (is_element(dst_type) || (dst_type != BITNET_TYPE_IQ2_S && tensor_bytes(dst_type, 1, 256)))) ||
        (entry == DEQUANT && is_element(dst_type) && tensor_bytes(src_type, 1, 256)) ||
        ((entry == TERNARIZE || entry == I8S) && is_element(src_type));
    const int clean = clean_options && roles_ok && len_delta == 0 && out_offset == 0 &&
                      src_offset == 0 && n > 0 && src_need > 0 && out_need > 0;
    require(!clean || status == BITNET_E_INVALID_DATA || status == BITNET_E_ALL_NONFINITE ||
                status == BITNET_E_INEXACT_SCALE,
            "a clean call (entry %d, %s <- %s, %lldx%lld) failed with %d: %s", entry,
            bitnet_type_name(dst_type), bitnet_type_name(src_type), (long long)rows, (long long)cols,
            status, bitnet_last_error());
  } else {
    require(untouched(out_buf + out_offset + out_len, FUZZ_GUARD) && untouched(aux + aux_need, FUZZ_GUARD) &&
                untouched(aux2 + aux2_need, FUZZ_GUARD),
            "entry %d wrote past its outputs", entry);
    /* The scalar reference gives the same bytes. */
    bitnet_tensor_options r = o;
    r.cpu_target = BITNET_CPU_REFERENCE;
    r.n_threads = 1;
    uint8_t* ref_out = (uint8_t*)poisoned(out_len);
    uint8_t* ref_aux = (uint8_t*)poisoned(aux_need);
    uint8_t* ref_aux2 = (uint8_t*)poisoned(aux2_need);
    const int ref_status = call(entry, &r, dst_type, src_type, src, src_len, rows, cols, ref_out,
                                out_len, ref_aux, aux_len, ref_aux2, aux2_len);
    require(ref_status == BITNET_OK, "the reference failed (%d) where target 0x%x passed", ref_status,
            o.cpu_target);
    require(memcmp(ref_out, out, out_len) == 0 && memcmp(ref_aux, aux, aux_need) == 0 &&
                memcmp(ref_aux2, aux2, aux2_need) == 0,
            "entry %d (%s <- %s) on target 0x%x with %d threads differs from the reference", entry,
            bitnet_type_name(dst_type), bitnet_type_name(src_type), o.cpu_target, o.n_threads);
    free(ref_out);
    free(ref_aux);
    free(ref_aux2);
  }
  free(src_buf);
  free(out_buf);
  free(aux);
  free(aux2);
  return 0;
}
