/* The device-pointer tensor-layout calls and the GPU products against the
 * CPU, bit for bit: every layout the GPU encodes, decodes and transcodes
 * (the CPU's scalar reference, BITNET_CPU_REFERENCE, on the same inputs:
 * random and adversarial values with NaN payloads, +-Inf, ties, subnormals,
 * arbitrary bytes, every kind of scale), sub-ranges at odd offsets with
 * nothing written outside, several streams at once, and capture into a
 * CUDA graph; the products against a reference written here from the
 * engines' definitions (bitnet.cpp's I2_S dot and ggml v0.5.0's generic
 * TQ1_0/TQ2_0/Q2_0 dots, on the CPU's own activation quantizers:
 * bitnet_quantize_i8s, Q8_K and Q8_0 through bitnet_tensor_quantize).
 * usage: test_cuda_tensor encode | decode | transcode | offsets | gemm | multi |
 *        graph | streams | bad_input | sanitize
 * (bad_input: the rows that need a GPU; test_cuda_bad_input has the others.)
 * Exits 77 (ctest's SKIP_RETURN_CODE) with the reason when no GPU is usable. */
#define BITNET_QUANT_EXPERIMENTAL
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "test_cuda_util.h"
#include "test_util.h"

static bitnet_tensor_options reference_options(uint32_t flags) {
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.cpu_target = BITNET_CPU_REFERENCE;
  o.flags = flags;
  return o;
}

static size_t tensor_bytes(bitnet_type type, int64_t rows, int64_t cols) {
  size_t bytes = 0;
  if (bitnet_tensor_size(type, rows, cols, &bytes) != BITNET_OK) {
    fprintf(stderr, "FATAL: bitnet_tensor_size(%s, %lld, %lld): %s\n", bitnet_type_name(type),
            (long long)rows, (long long)cols, bitnet_last_error());
    exit(2);
  }
  return bytes;
}

static size_t element_size(bitnet_type t) { return t == BITNET_TYPE_F32 ? 4 : 2; }

/* ---- a device buffer with poisoned margins ------------------------------------------ */

/* `bytes` at byte offset `offset` inside a poisoned allocation with
 * `kMargin` bytes after: what a call writes outside is seen. */
enum { kMargin = 64 };

typedef struct dbuf {
  uint8_t* base;
  size_t offset, bytes;
} dbuf;

static dbuf dbuf_new(size_t bytes, size_t offset) {
  dbuf b;
  b.bytes = bytes;
  b.offset = offset;
  b.base = (uint8_t*)device_alloc(offset + bytes + kMargin);
  CUDA_OK(cudaMemset(b.base, POISON, offset + bytes + kMargin));
  return b;
}
static dbuf dbuf_from(const void* host, size_t bytes, size_t offset) {
  dbuf b = dbuf_new(bytes, offset);
  CUDA_OK(cudaMemcpy(b.base + offset, host, bytes, cudaMemcpyHostToDevice));
  return b;
}
static void* dbuf_ptr(const dbuf* b) { return b->base + b->offset; }
/* Reads the buffer back; checks the margins are untouched. */
static uint8_t* dbuf_read(const dbuf* b, const char* where) {
  const size_t all = b->offset + b->bytes + kMargin;
  uint8_t* host = (uint8_t*)xmalloc(all);
  uint8_t* out = (uint8_t*)xmalloc(b->bytes);
  CUDA_OK(cudaMemcpy(host, b->base, all, cudaMemcpyDeviceToHost));
  check(untouched(host, b->offset) && untouched(host + b->offset + b->bytes, kMargin),
        "%s: bytes written outside the output", where);
  memcpy(out, host + b->offset, b->bytes);
  free(host);
  return out;
}
static void dbuf_free(dbuf* b) { CUDA_OK(cudaFree(b->base)); }

/* Index of the first differing byte, with the bytes, in a message. */
static void expect_bytes(const uint8_t* got, const uint8_t* want, size_t bytes, const char* where,
                         const char* what) {
  const long d = first_byte_diff(got, want, bytes);
  check(d < 0, "%s: %s byte %ld is 0x%02x, CPU 0x%02x", where, what, d, d < 0 ? 0 : got[d],
        d < 0 ? 0 : want[d]);
}

/* ---- inputs ------------------------------------------------------------------------------ */

/* n elements of an element type from a seed: F32 adversarial blocks (or
 * gaussian for kind 0), F16/BF16 a mix of every bit pattern and converted
 * adversarial values. */
static void* make_elements(bitnet_type t, size_t n, size_t block, int kind, uint64_t seed) {
  float* x = (float*)xmalloc(n * 4);
  if (kind == 0) {
    fill_random(GAUSS, x, n, block, seed);
  } else {
    fill_block_adversarial(x, n, block, seed);
  }
  if (t == BITNET_TYPE_F32) return x;
  {
    uint16_t* h = (uint16_t*)xmalloc(n * 2);
    bitnet_tensor_options o = reference_options(0);
    uint64_t s = seed ^ 0x5bd1e995u;
    check(bitnet_tensor_quantize(t, &o, BITNET_TYPE_F32, x, 1, (int64_t)n, h, n * 2) == BITNET_OK,
          "converting inputs to %s", bitnet_type_name(t));
    if (kind != 0) {
      for (size_t i = 0; i < n; ++i) {
        if (rng_next(&s) % 4 == 0) h[i] = (uint16_t)rng_next(&s);  /* any bits: NaN payloads too */
      }
    }
    free(x);
    return h;
  }
}

/* A tensor of a layout: the CPU's encoding of adversarial values, or (kind
 * 2) arbitrary bytes with every kind of scale. */
static uint8_t* make_tensor(bitnet_type type, int64_t rows, int64_t cols, int kind, uint64_t seed) {
  const size_t bytes = tensor_bytes(type, rows, cols), n = (size_t)(rows * cols);
  uint8_t* t = (uint8_t*)xmalloc(bytes);
  if (kind == 2 || type == BITNET_TYPE_IQ2_S) {
    static const uint16_t kHalves[] = {0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE55, 0x0001, 0x8000,
                                       0x0000, 0x3C00, 0x7BFF, 0x2E66, 0xB800};
    uint64_t s = seed;
    size_t i;
    bitnet_type_info info;
    for (i = 0; i < bytes; ++i) t[i] = (uint8_t)rng_next(&s);
    info.struct_size = sizeof(info);
    bitnet_type_get_info(type, &info);
    if (type == BITNET_TYPE_I2_S) {  /* the tail: a scale of any kind, then zeros */
      static const uint32_t kFloats[] = {0x3DCCCCCDu, 0x7F800000u, 0x7FC00001u, 0x00000001u,
                                         0x80000000u, 0x3F800000u, 0xBF000000u};
      memcpy(t + n / 4, &kFloats[seed % (sizeof kFloats / 4)], 4);
      memset(t + n / 4 + 4, 0, 28);
    } else if (type != BITNET_TYPE_Q8_K) {
      const size_t offset = type == BITNET_TYPE_TQ1_0 ? 52 : type == BITNET_TYPE_TQ2_0 ? 64 : 0;
      for (i = 0; i < n / (size_t)info.block_elements; i += 2) {
        memcpy(t + i * info.block_bytes + offset, &kHalves[(i / 2 + seed) % 12], 2);
      }
    }
    return t;
  }
  {
    float* x = (float*)make_elements(BITNET_TYPE_F32, n, 256, kind, seed);
    bitnet_tensor_options o = reference_options(0);
    check(bitnet_tensor_quantize(type, &o, BITNET_TYPE_F32, x, rows, cols, t, bytes) == BITNET_OK,
          "CPU quantize to %s", bitnet_type_name(type));
    free(x);
  }
  return t;
}

/* ---- shapes --------------------------------------------------------------------------------- */

typedef struct shape {
  int64_t rows, cols;
} shape;

/* Shapes a type holds (a multiple of its constraints), small to 4 M elements. */
static int shapes_of(bitnet_type type, int sanitize, shape out[16]) {
  static const shape k256[] = {{1, 256}, {3, 512}, {2, 2560}, {17, 768}, {1024, 4096}};
  static const shape k64[] = {{1, 64}, {5, 192}, {3, 2560}, {700, 6000 - 6000 % 64}};
  static const shape k32[] = {{1, 32}, {7, 96}, {3, 2560}, {1000, 4000}};
  static const shape kI2S[] = {{1, 128}, {128, 1}, {64, 6}, {3, 640}, {2, 2560}, {4096, 1024}};
  static const shape kAny[] = {{1, 1}, {3, 7}, {5, 1000}, {1, 33}, {2048, 2049}};
  const shape* list;
  int count, i;
  switch (type) {
    case BITNET_TYPE_TQ1_0: case BITNET_TYPE_TQ2_0: case BITNET_TYPE_Q8_K: case BITNET_TYPE_IQ2_S:
      list = k256; count = 5; break;
    case BITNET_TYPE_Q2_0: list = k64; count = 4; break;
    case BITNET_TYPE_Q8_0: list = k32; count = 4; break;
    case BITNET_TYPE_I2_S: list = kI2S; count = 6; break;
    default: list = kAny; count = 5; break;
  }
  if (sanitize) count = 2;
  for (i = 0; i < count; ++i) out[i] = list[i];
  return count;
}

/* The shape both layouts of a transcode hold. */
static int transcode_shapes(int sanitize, shape out[8]) {
  static const shape kList[] = {{1, 256}, {2, 512}, {3, 2560}, {64, 4096}};
  int i, count = sanitize ? 2 : 4;
  for (i = 0; i < count; ++i) out[i] = kList[i];
  return count;
}

static const bitnet_type kElementTypes[] = {BITNET_TYPE_F32, BITNET_TYPE_F16, BITNET_TYPE_BF16};
static const bitnet_type kEncodeTypes[] = {BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0, BITNET_TYPE_Q2_0,
                                           BITNET_TYPE_Q8_0,  BITNET_TYPE_Q8_K,  BITNET_TYPE_I2_S,
                                           BITNET_TYPE_F32,   BITNET_TYPE_F16,   BITNET_TYPE_BF16};
static const bitnet_type kDecodeTypes[] = {BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0, BITNET_TYPE_Q2_0,
                                           BITNET_TYPE_Q8_0,  BITNET_TYPE_Q8_K,  BITNET_TYPE_IQ2_S,
                                           BITNET_TYPE_I2_S,  BITNET_TYPE_F32,   BITNET_TYPE_F16,
                                           BITNET_TYPE_BF16};
static const bitnet_type kTernaryTypes[] = {BITNET_TYPE_I2_S, BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0,
                                            BITNET_TYPE_Q2_0};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- encode / decode / transcode: one case each --------------------------------------------- */

/* src (host) of src_type -> dst_type on the CPU and the GPU; the input at
 * element offset `off` of its buffer, the output at byte offset off * 3 + 1
 * for layouts (element offset `off` for element types). */
static void encode_case(bitnet_type dst_type, bitnet_type src_type, shape sh, const void* src,
                        size_t off, cudaStream_t stream, const char* what) {
  const size_t src_bytes = tensor_bytes(src_type, sh.rows, sh.cols);
  const size_t need = tensor_bytes(dst_type, sh.rows, sh.cols);
  const int element_dst = dst_type == BITNET_TYPE_F32 || dst_type == BITNET_TYPE_F16 || dst_type == BITNET_TYPE_BF16;
  const size_t dst_off = element_dst ? off * element_size(dst_type) : off * 3 + 1;
  bitnet_tensor_options o = reference_options(0);
  uint8_t* want = (uint8_t*)xmalloc(need);
  dbuf in = dbuf_from(src, src_bytes, off * element_size(src_type));
  dbuf out = dbuf_new(need, dst_off);
  char where[200];
  int cpu, gpu;
  snprintf(where, sizeof where, "encode %s -> %s %lldx%lld %s offset %zu", bitnet_type_name(src_type),
           bitnet_type_name(dst_type), (long long)sh.rows, (long long)sh.cols, what, off);
  cpu = bitnet_tensor_quantize(dst_type, &o, src_type, src, sh.rows, sh.cols, want, need);
  gpu = bitnet_cuda_tensor_quantize(dst_type, NULL, src_type, dbuf_ptr(&in), sh.rows, sh.cols,
                                    dbuf_ptr(&out), need, 0, stream);
  if (check(cpu == BITNET_OK && gpu == BITNET_OK, "%s: CPU %d, GPU %d (%s)", where, cpu, gpu,
            bitnet_last_error() ? bitnet_last_error() : "")) {
    uint8_t* got;
    CUDA_OK(cudaStreamSynchronize(stream));
    got = dbuf_read(&out, where);
    expect_bytes(got, want, need, where, "output");
    free(got);
  }
  free(want);
  dbuf_free(&in);
  dbuf_free(&out);
}

static void decode_case(bitnet_type src_type, bitnet_type dst_type, shape sh, const uint8_t* src,
                        size_t off, cudaStream_t stream, const char* what) {
  const size_t have = tensor_bytes(src_type, sh.rows, sh.cols);
  const size_t need = tensor_bytes(dst_type, sh.rows, sh.cols);
  const int element_src = src_type == BITNET_TYPE_F32 || src_type == BITNET_TYPE_F16 || src_type == BITNET_TYPE_BF16;
  bitnet_tensor_options o = reference_options(0);
  uint8_t* want = (uint8_t*)xmalloc(need);
  dbuf in = dbuf_from(src, have, element_src ? off * element_size(src_type) : off * 5 + 3);
  dbuf out = dbuf_new(need, off * element_size(dst_type));
  char where[200];
  int cpu, gpu;
  snprintf(where, sizeof where, "decode %s -> %s %lldx%lld %s offset %zu", bitnet_type_name(src_type),
           bitnet_type_name(dst_type), (long long)sh.rows, (long long)sh.cols, what, off);
  cpu = bitnet_tensor_dequantize(src_type, &o, src, have, sh.rows, sh.cols, dst_type, want, need);
  gpu = bitnet_cuda_tensor_dequantize(src_type, NULL, dbuf_ptr(&in), have, sh.rows, sh.cols,
                                      dst_type, dbuf_ptr(&out), need, 0, stream);
  if (check(cpu == BITNET_OK && gpu == BITNET_OK, "%s: CPU %d, GPU %d (%s)", where, cpu, gpu,
            bitnet_last_error() ? bitnet_last_error() : "")) {
    uint8_t* got;
    CUDA_OK(cudaStreamSynchronize(stream));
    got = dbuf_read(&out, where);
    expect_bytes(got, want, need, where, "output");  /* NaN bits included */
    free(got);
  }
  free(want);
  dbuf_free(&in);
  dbuf_free(&out);
}

static void transcode_case(bitnet_type dst_type, bitnet_type src_type, uint32_t flags, shape sh,
                           const uint8_t* src, size_t off, const char* what) {
  const size_t have = tensor_bytes(src_type, sh.rows, sh.cols);
  const size_t need = tensor_bytes(dst_type, sh.rows, sh.cols);
  bitnet_tensor_options o = reference_options(flags);
  uint8_t* want = (uint8_t*)xmalloc(need);
  dbuf in = dbuf_from(src, have, off);
  dbuf out = dbuf_new(need, off * 7 % 13);
  char where[200];
  int cpu, gpu;
  uint8_t* got;
  snprintf(where, sizeof where, "transcode %s -> %s flags %u %lldx%lld %s", bitnet_type_name(src_type),
           bitnet_type_name(dst_type), flags, (long long)sh.rows, (long long)sh.cols, what);
  cpu = bitnet_tensor_transcode(dst_type, &o, src_type, src, have, sh.rows, sh.cols, want, need);
  gpu = bitnet_cuda_tensor_transcode(dst_type, &o, src_type, dbuf_ptr(&in), have, sh.rows, sh.cols,
                                     dbuf_ptr(&out), need, 0, NULL);
  check(cpu == gpu, "%s: status CPU %d, GPU %d (%s)", where, cpu, gpu,
        bitnet_last_error() ? bitnet_last_error() : "");
  CUDA_OK(cudaDeviceSynchronize());
  got = dbuf_read(&out, where);
  if (gpu == BITNET_OK && cpu == BITNET_OK) {
    expect_bytes(got, want, need, where, "output");
  } else if (gpu != BITNET_OK) {
    check(untouched(got, need), "%s: output written on error %d", where, gpu);
  }
  free(got);
  free(want);
  dbuf_free(&in);
  dbuf_free(&out);
}

/* ---- parts ------------------------------------------------------------------------------------- */

static void run_encode(int sanitize) {
  size_t d, s, c;
  int kind;
  uint64_t seed = 11;
  for (d = 0; d < COUNT(kEncodeTypes); ++d) {
    shape shapes[16];
    const int count = shapes_of(kEncodeTypes[d], sanitize, shapes);
    for (s = 0; s < (sanitize ? 2 : COUNT(kElementTypes)); ++s) {
      for (c = 0; c < (size_t)count; ++c) {
        for (kind = sanitize; kind < 2; ++kind) {
          const size_t n = (size_t)(shapes[c].rows * shapes[c].cols);
          void* x = make_elements(kElementTypes[s], n, 256, kind, ++seed);
          encode_case(kEncodeTypes[d], kElementTypes[s], shapes[c], x, (c + (size_t)kind) % 3, NULL,
                      kind ? "adversarial" : "gaussian");
          free(x);
        }
      }
    }
  }
}

static void run_decode(int sanitize) {
  size_t t, e, c;
  int kind;
  uint64_t seed = 1000;
  for (t = 0; t < COUNT(kDecodeTypes); ++t) {
    const bitnet_type src = kDecodeTypes[t];
    const int element_src = src == BITNET_TYPE_F32 || src == BITNET_TYPE_F16 || src == BITNET_TYPE_BF16;
    shape shapes[16];
    const int count = shapes_of(src, sanitize, shapes);
    for (c = 0; c < (size_t)count; ++c) {
      for (kind = sanitize ? 2 : 1; kind < 3; ++kind) {
        uint8_t* tensor = element_src ? (uint8_t*)make_elements(src, (size_t)(shapes[c].rows * shapes[c].cols), 256, 1, ++seed)
                                      : make_tensor(src, shapes[c].rows, shapes[c].cols, kind, ++seed);
        for (e = 0; e < (sanitize ? 2 : COUNT(kElementTypes)); ++e) {
          decode_case(src, kElementTypes[e], shapes[c], tensor, (c + e) % 3, NULL,
                      kind == 2 ? "arbitrary bytes" : "encoded");
        }
        free(tensor);
      }
    }
  }
}

/* Sources whose codes and scales the transcode checks: encoded values
 * (per-tensor ternary, so that the blocks share a scale, or adversarial),
 * arbitrary bytes (NaN/Inf scales, code 3, disagreeing scales), and the
 * I2_S scales f16 holds, rounds, or that are zero. */
static void run_transcode(int sanitize) {
  static const uint32_t kFlags[] = {0, BITNET_TENSOR_ALLOW_SCALE_ROUNDING, BITNET_TENSOR_UNIT_SCALE};
  shape shapes[8];
  const int count = transcode_shapes(sanitize, shapes);
  size_t s, d, f;
  int c, kind;
  uint64_t seed = 5000;
  for (s = 0; s < COUNT(kTernaryTypes); ++s) {
    for (c = 0; c < (sanitize ? 1 : count); ++c) {
      const size_t n = (size_t)(shapes[c].rows * shapes[c].cols);
      for (kind = 0; kind < 4; kind += sanitize ? 2 : 1) {
        uint8_t* src;
        const char* what;
        if (kind == 0) {  /* one alpha for the tensor, some all-zero blocks */
          float* x = (float*)xmalloc(n * 4);
          const float alpha = (c % 2) ? 0.5f : 0.0673f;  /* f16 holds 0.5 exactly, not 0.0673 */
          uint64_t r = ++seed;
          size_t i;
          bitnet_tensor_options o = reference_options(0);
          for (i = 0; i < n; ++i) {
            const unsigned v = (unsigned)(rng_next(&r) % 3);
            x[i] = (i / 512) % 3 == 1 ? 0.0f : v == 0 ? -alpha : v == 1 ? 0.0f : alpha;
          }
          src = (uint8_t*)xmalloc(tensor_bytes(kTernaryTypes[s], shapes[c].rows, shapes[c].cols));
          check(bitnet_tensor_quantize(kTernaryTypes[s], &o, BITNET_TYPE_F32, x, shapes[c].rows, shapes[c].cols,
                                       src, tensor_bytes(kTernaryTypes[s], shapes[c].rows, shapes[c].cols)) == BITNET_OK,
                "transcode source");
          free(x);
          what = "per-tensor ternary";
        } else if (kind == 3) {  /* all zero */
          const size_t bytes = tensor_bytes(kTernaryTypes[s], shapes[c].rows, shapes[c].cols);
          float* x = (float*)xmalloc(n * 4);
          bitnet_tensor_options o = reference_options(0);
          memset(x, 0, n * 4);
          src = (uint8_t*)xmalloc(bytes);
          check(bitnet_tensor_quantize(kTernaryTypes[s], &o, BITNET_TYPE_F32, x, shapes[c].rows, shapes[c].cols, src, bytes) == BITNET_OK,
                "transcode source");
          free(x);
          what = "all zero";
        } else {
          src = make_tensor(kTernaryTypes[s], shapes[c].rows, shapes[c].cols, kind, ++seed);
          what = kind == 1 ? "adversarial" : "arbitrary bytes";
        }
        for (d = 0; d < COUNT(kTernaryTypes); ++d) {
          for (f = 0; f < (sanitize ? 2 : COUNT(kFlags)); ++f) {
            transcode_case(kTernaryTypes[d], kTernaryTypes[s], kFlags[f], shapes[c], src,
                           (size_t)(c + kind), what);
          }
        }
        free(src);
      }
    }
  }
}

/* Every offset of the inputs and outputs for a few cases. */
static void run_offsets(void) {
  static const size_t kOffsets[] = {0, 1, 2, 3, 5, 17};
  const shape sh = {3, 768};
  size_t o, t;
  for (o = 0; o < COUNT(kOffsets); ++o) {
    for (t = 0; t < COUNT(kEncodeTypes); ++t) {
      void* x = make_elements(BITNET_TYPE_F32, (size_t)(sh.rows * sh.cols), 256, 1, 77 + o);
      encode_case(kEncodeTypes[t], BITNET_TYPE_F32, sh, x, kOffsets[o], NULL, "offsets");
      free(x);
    }
    for (t = 0; t < COUNT(kDecodeTypes); ++t) {
      uint8_t* tensor = make_tensor(kDecodeTypes[t] == BITNET_TYPE_F32 || kDecodeTypes[t] == BITNET_TYPE_F16 ||
                                            kDecodeTypes[t] == BITNET_TYPE_BF16
                                        ? BITNET_TYPE_TQ2_0 : kDecodeTypes[t], sh.rows, sh.cols, 2, 99 + o);
      if (kDecodeTypes[t] == BITNET_TYPE_F32 || kDecodeTypes[t] == BITNET_TYPE_F16 || kDecodeTypes[t] == BITNET_TYPE_BF16) {
        free(tensor);
        tensor = (uint8_t*)make_elements(kDecodeTypes[t], (size_t)(sh.rows * sh.cols), 256, 1, 99 + o);
      }
      decode_case(kDecodeTypes[t], BITNET_TYPE_F16, sh, tensor, kOffsets[o], NULL, "offsets");
      free(tensor);
    }
  }
}

/* ---- the products' reference ---------------------------------------------------------------------- */

/* The stored code (value + 1) of element e of a tensor, from the layouts'
 * definitions (bitnet.cpp's I2_S: 128-blocks of 32 bytes, element j in
 * byte j % 32 at bits 6 - 2 (j / 32); ggml's TQ2_0: byte (j / 128) * 32 +
 * j % 32 at bits 2 ((j / 32) % 4); TQ1_0: base-3 digits, 32 + 16 bytes of
 * five and 4 of four; Q2_0: 2 + j / 4 at bits 2 (j % 4)). */
static unsigned code_at(bitnet_type type, const uint8_t* w, size_t e) {
  switch (type) {
    case BITNET_TYPE_I2_S: {
      const size_t j = e % 128;
      return (w[e / 128 * 32 + j % 32] >> (6 - 2 * (j / 32))) & 3u;
    }
    case BITNET_TYPE_TQ2_0: {
      const size_t j = e % 256;
      return (w[e / 256 * 66 + (j / 128) * 32 + j % 32] >> (2 * ((j / 32) % 4))) & 3u;
    }
    case BITNET_TYPE_Q2_0: {
      const size_t j = e % 64;
      return (w[e / 64 * 18 + 2 + j / 4] >> (2 * (j % 4))) & 3u;
    }
    default: { /* TQ1_0 */
      const uint8_t* b = w + e / 256 * 54;
      size_t j = e % 256, byte, digit;
      uint8_t q;
      if (j < 160) {
        byte = j % 32; digit = j / 32;
      } else if (j < 240) {
        j -= 160; byte = 32 + j % 16; digit = j / 16;
      } else {
        j -= 240; byte = 48 + j % 4; digit = j / 4;
      }
      q = b[byte];
      while (digit-- > 0) q = (uint8_t)(q * 3);
      return ((unsigned)q * 3u) >> 8;
    }
  }
}

/* The f16 at each of `count` places `stride` bytes apart, as floats. */
static float* halves_at(const uint8_t* p, size_t count, size_t stride) {
  uint16_t* h = (uint16_t*)xmalloc(count * 2);
  float* f = (float*)xmalloc(count * 4);
  size_t i;
  for (i = 0; i < count; ++i) memcpy(&h[i], p + i * stride, 2);
  check(bitnet_tensor_dequantize(BITNET_TYPE_F16, NULL, h, count * 2, 1, (int64_t)count, BITNET_TYPE_F32,
                                 f, count * 4) == BITNET_OK, "f16 -> f32");
  free(h);
  return f;
}

/* y[b * rows + r] as bitnet.cpp (I2_S) and ggml v0.5.0's generic dots
 * (every float operation on its own, in their order) compute it. */
static float* reference_gemm(bitnet_type w_type, const uint8_t* w, int64_t rows, int64_t cols,
                             bitnet_type x_type, const void* x, int64_t batch) {
  float* y = (float*)xmalloc((size_t)(batch * rows) * 4);
  bitnet_tensor_options o = reference_options(0);
  const size_t n = (size_t)(rows * cols);
  uint8_t* codes = (uint8_t*)xmalloc(n);
  int64_t b, r;
  size_t e;
  for (e = 0; e < n; ++e) codes[e] = (uint8_t)code_at(w_type, w, e);
  if (w_type == BITNET_TYPE_I2_S) {
    int8_t* q = (int8_t*)xmalloc((size_t)(batch * cols));
    float* scales = (float*)xmalloc((size_t)batch * 4);
    int32_t* sums = (int32_t*)xmalloc((size_t)batch * 4);
    float w_scale;
    memcpy(&w_scale, w + n / 4, 4);
    check(bitnet_quantize_i8s(&o, x_type, x, batch, cols, q, (size_t)(batch * cols), scales,
                              (size_t)batch, sums, (size_t)batch) == BITNET_OK, "quantize_i8s");
    for (b = 0; b < batch; ++b) {
      for (r = 0; r < rows; ++r) {
        int64_t s = 0;
        for (int64_t k = 0; k < cols; ++k) s += (int64_t)codes[r * cols + k] * q[b * cols + k];
        y[b * rows + r] = ((float)(int32_t)s - (float)sums[b]) / scales[b] * w_scale;
      }
    }
    free(q);
    free(scales);
    free(sums);
  } else {
    const int q8k = w_type != BITNET_TYPE_Q2_0;
    const bitnet_type act = q8k ? BITNET_TYPE_Q8_K : BITNET_TYPE_Q8_0;
    const size_t act_block = q8k ? 256 : 32, act_bytes = q8k ? 292 : 34, act_qs = q8k ? 4 : 2;
    const size_t w_block = q8k ? 256 : 64;
    const size_t w_bytes = w_type == BITNET_TYPE_TQ1_0 ? 54 : w_type == BITNET_TYPE_TQ2_0 ? 66 : 18;
    const size_t w_scale_at = w_type == BITNET_TYPE_TQ1_0 ? 52 : w_type == BITNET_TYPE_TQ2_0 ? 64 : 0;
    const size_t xq_len = tensor_bytes(act, batch, cols);
    const size_t act_blocks = (size_t)(batch * cols) / act_block;
    uint8_t* xq = (uint8_t*)xmalloc(xq_len);
    float* dx = halves_at(w + w_scale_at, n / w_block, w_bytes);
    float* dy;
    check(bitnet_tensor_quantize(act, &o, x_type, x, batch, cols, xq, xq_len) == BITNET_OK,
          "quantize activations");
    if (q8k) {
      dy = (float*)xmalloc(act_blocks * 4);
      for (e = 0; e < act_blocks; ++e) memcpy(&dy[e], xq + e * act_bytes, 4);
    } else {
      dy = halves_at(xq, act_blocks, act_bytes);
    }
    for (b = 0; b < batch; ++b) {
      const size_t first_act = (size_t)(b * cols) / act_block;
      for (r = 0; r < rows; ++r) {
        float sumf = 0.0f;
        size_t blk;
        for (blk = 0; blk < (size_t)cols / w_block; ++blk) {
          const size_t first = (size_t)(r * cols) + blk * w_block;
          const float d_x = dx[first / w_block];
          if (q8k) {
            const size_t a = first_act + blk;
            const uint8_t* yq = xq + a * act_bytes + act_qs;
            int32_t sumi = 0;
            size_t j;
            for (j = 0; j < 256; ++j) sumi += ((int)codes[first + j] - 1) * (int8_t)yq[j];
            /* TQ2_0's dot multiplies y.d * x.d, TQ1_0's x.d * y.d: one product (only
             * a NaN's payload could tell them apart, which the check leaves open). */
            sumf = sumf + (float)sumi * (dy[a] * d_x);
          } else {
            float sumb = 0.0f;
            size_t h;
            for (h = 0; h < 2; ++h) {
              const size_t a = first_act + 2 * blk + h;
              const uint8_t* yq = xq + a * act_bytes + act_qs;
              int32_t sumi = 0;
              size_t j;
              for (j = 0; j < 32; ++j) sumi += ((int)codes[first + 32 * h + j] - 1) * (int8_t)yq[j];
              sumb = sumb + (float)sumi * dy[a];
            }
            sumf = sumf + sumb * d_x;
          }
        }
        y[b * rows + r] = sumf;
      }
    }
    free(xq);
    free(dx);
    free(dy);
  }
  free(codes);
  return y;
}

/* ---- products --------------------------------------------------------------------------------------- */

static void expect_floats(const float* got, const float* want, size_t n, const char* where) {
  const long d = first_result_diff(got, want, n);  /* NaN == NaN: payloads may differ */
  check(d < 0, "%s: y[%ld] is %a, reference %a", where, d, d < 0 ? 0.0 : (double)got[d],
        d < 0 ? 0.0 : (double)want[d]);
}

/* Activations of one kind: gaussian, adversarial blocks, saturating
 * (every |x| the same: q = +-127), one huge outlier per row, NaN/Inf. */
static void* make_activations(bitnet_type x_type, int64_t batch, int64_t cols, int kind, uint64_t seed) {
  const size_t n = (size_t)(batch * cols);
  float* x;
  size_t i;
  if (kind < 2) return make_elements(x_type, n, 256, kind, seed);
  x = (float*)xmalloc(n * 4);
  fill_random(GAUSS, x, n, 256, seed);
  for (i = 0; i < n; ++i) {
    if (kind == 2) x[i] = (i * 7 + seed) % 3 == 0 ? -1.0f : 1.0f;
    if (kind == 3 && i % (size_t)cols == (size_t)(seed % (uint64_t)cols)) x[i] = 3e30f;
    if (kind == 4 && i % 37 == 5) x[i] = (i % 3) ? float_from_bits(0x7FC00000u | (uint32_t)(i * 2654435761u & 0x3FFFFF)) : INFINITY;
    if (kind == 4 && i % (size_t)cols == (size_t)cols - 1 && (i / (size_t)cols) % 2) x[i] = float_from_bits(0xFFC00123u);
  }
  if (x_type == BITNET_TYPE_F32) return x;
  {
    uint16_t* h = (uint16_t*)xmalloc(n * 2);
    bitnet_tensor_options o = reference_options(0);
    check(bitnet_tensor_quantize(x_type, &o, BITNET_TYPE_F32, x, 1, (int64_t)n, h, n * 2) == BITNET_OK,
          "activations to %s", bitnet_type_name(x_type));
    free(x);
    return h;
  }
}

typedef struct gemm_shape {
  bitnet_type w;
  int64_t rows, cols;
} gemm_shape;

/* One product through bitnet_cuda_gemm against the reference. */
static void gemm_case(const gemm_shape* g, const uint8_t* w, bitnet_cuda_gemm_weights* weights,
                      bitnet_type x_type, int64_t batch, int kind, uint64_t seed, cudaStream_t stream) {
  void* x = make_activations(x_type, batch, g->cols, kind, seed);
  const size_t x_bytes = (size_t)(batch * g->cols) * element_size(x_type);
  const size_t y_bytes = (size_t)(batch * g->rows) * 4;
  dbuf dx = dbuf_from(x, x_bytes, (seed % 3) * element_size(x_type));
  dbuf dy = dbuf_new(y_bytes, 4 * (seed % 2));
  float* want = reference_gemm(g->w, w, g->rows, g->cols, x_type, x, batch);
  char where[200];
  int status;
  snprintf(where, sizeof where, "gemm %s %lldx%lld x %s batch %lld kind %d", bitnet_type_name(g->w),
           (long long)g->rows, (long long)g->cols, bitnet_type_name(x_type), (long long)batch, kind);
  status = bitnet_cuda_gemm(weights, x_type, dbuf_ptr(&dx), batch, (float*)dbuf_ptr(&dy), stream);
  if (check(status == BITNET_OK, "%s: status %d (%s)", where, status, bitnet_last_error())) {
    float* got;
    CUDA_OK(cudaStreamSynchronize(stream));
    got = (float*)dbuf_read(&dy, where);
    expect_floats(got, want, (size_t)(batch * g->rows), where);
    free(got);
  }
  free(x);
  free(want);
  dbuf_free(&dx);
  dbuf_free(&dy);
}

static bitnet_cuda_gemm_weights* prepare(const gemm_shape* g, const uint8_t* w, int on_device) {
  bitnet_cuda_gemm_weights* weights = NULL;
  const size_t bytes = tensor_bytes(g->w, g->rows, g->cols);
  int status;
  if (on_device) {
    dbuf d = dbuf_from(w, bytes, 1);
    status = bitnet_cuda_gemm_prepare(g->w, dbuf_ptr(&d), bytes, g->rows, g->cols, 0, &weights);
    dbuf_free(&d);
  } else {
    status = bitnet_cuda_gemm_prepare(g->w, w, bytes, g->rows, g->cols, 0, &weights);
  }
  check(status == BITNET_OK && weights != NULL, "prepare %s %lldx%lld: status %d (%s)",
        bitnet_type_name(g->w), (long long)g->rows, (long long)g->cols, status, bitnet_last_error());
  return weights;
}

static const gemm_shape kGemmShapes[] = {
    {BITNET_TYPE_I2_S, 1, 128},   {BITNET_TYPE_I2_S, 128, 1},   {BITNET_TYPE_I2_S, 64, 6},
    {BITNET_TYPE_I2_S, 33, 384},  {BITNET_TYPE_I2_S, 17, 2560}, {BITNET_TYPE_I2_S, 256, 700},
    {BITNET_TYPE_TQ2_0, 1, 256},  {BITNET_TYPE_TQ2_0, 3, 512},  {BITNET_TYPE_TQ2_0, 33, 2560},
    {BITNET_TYPE_TQ2_0, 130, 768}, {BITNET_TYPE_TQ1_0, 1, 256}, {BITNET_TYPE_TQ1_0, 17, 1024},
    {BITNET_TYPE_TQ1_0, 40, 2560}, {BITNET_TYPE_Q2_0, 1, 64},   {BITNET_TYPE_Q2_0, 5, 192},
    {BITNET_TYPE_Q2_0, 17, 2560}, {BITNET_TYPE_Q2_0, 100, 6912},
};

static void run_gemm(int sanitize) {
  static const int64_t kBatches[] = {1, 2, 3, 8, 9, 16, 17, 40};
  const size_t shapes = sanitize ? 6 : COUNT(kGemmShapes);
  size_t s, b, t;
  int kind;
  uint64_t seed = 9000;
  for (s = 0; s < shapes; ++s) {
    /* sanitize: one shape per layout */
    const gemm_shape* g = &kGemmShapes[sanitize ? (s * 3) % COUNT(kGemmShapes) : s];
    for (kind = sanitize ? 2 : 1; kind < 3; ++kind) {
      uint8_t* w = make_tensor(g->w, g->rows, g->cols, kind, ++seed);
      bitnet_cuda_gemm_weights* weights = prepare(g, w, kind == 2);
      if (weights == NULL) {
        free(w);
        continue;
      }
      for (b = 0; b < (sanitize ? 3 : COUNT(kBatches)); ++b) {
        for (t = 0; t < (sanitize ? 1 : COUNT(kElementTypes)); ++t) {
          const int act_kind = (int)((b + t + (size_t)kind) % 5);
          gemm_case(g, w, weights, kElementTypes[t], kBatches[sanitize ? b * 3 : b], act_kind, ++seed, NULL);
        }
      }
      bitnet_cuda_gemm_free(weights);
      free(w);
    }
  }
  if (!sanitize) {  /* 2B-4T's shapes, and a batch of more than the workspace's 512 */
    static const gemm_shape kReal[] = {{BITNET_TYPE_I2_S, 2560, 2560}, {BITNET_TYPE_TQ2_0, 640, 2560},
                                       {BITNET_TYPE_TQ1_0, 2560, 6912}, {BITNET_TYPE_Q2_0, 6912, 2560}};
    for (s = 0; s < COUNT(kReal); ++s) {
      uint8_t* w = make_tensor(kReal[s].w, kReal[s].rows, kReal[s].cols, 0, ++seed);
      bitnet_cuda_gemm_weights* weights = prepare(&kReal[s], w, 0);
      if (weights != NULL) {
        gemm_case(&kReal[s], w, weights, BITNET_TYPE_F32, 1, 0, ++seed, NULL);
        gemm_case(&kReal[s], w, weights, BITNET_TYPE_BF16, 32, 1, ++seed, NULL);
        bitnet_cuda_gemm_free(weights);
      }
      free(w);
    }
    {
      const gemm_shape g = {BITNET_TYPE_TQ2_0, 19, 256};
      uint8_t* w = make_tensor(g.w, g.rows, g.cols, 1, ++seed);
      bitnet_cuda_gemm_weights* weights = prepare(&g, w, 0);
      if (weights != NULL) {
        gemm_case(&g, w, weights, BITNET_TYPE_F32, 1100, 1, ++seed, NULL);
        bitnet_cuda_gemm_free(weights);
      }
      free(w);
    }
  }
}

/* bitnet_cuda_gemm_multi: jobs of several shapes, some sharing x, against
 * single calls and the reference. */
static void run_multi(int sanitize) {
  static const bitnet_type kFamilies[][2] = {{BITNET_TYPE_I2_S, BITNET_TYPE_I2_S},
                                             {BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0},
                                             {BITNET_TYPE_Q2_0, BITNET_TYPE_Q2_0}};
  static const int64_t kBatches[] = {1, 5, 12};
  enum { kJobs = 7 };
  const int64_t kRows[kJobs] = {2560, 640, 640, 2560, 6912, 6912, 2560};
  const int64_t kCols[kJobs] = {2560, 2560, 2560, 2560, 2560, 2560, 6912};
  size_t f, b;
  int j;
  uint64_t seed = 31000;
  for (f = 0; f < COUNT(kFamilies); ++f) {
    for (b = 0; b < (sanitize ? 1 : COUNT(kBatches)); ++b) {
      const int64_t batch = kBatches[b];
      gemm_shape g[kJobs];
      uint8_t* w[kJobs];
      bitnet_cuda_gemm_weights* weights[kJobs];
      bitnet_cuda_gemm_job jobs[kJobs];
      void* x[2];
      dbuf dx[2], dy[kJobs];
      float* want[kJobs];
      int status;
      for (j = 0; j < 2; ++j) {
        const int64_t cols = j == 0 ? 2560 : 6912;
        x[j] = make_activations(BITNET_TYPE_F32, batch, cols, 1 + j, ++seed);
        dx[j] = dbuf_from(x[j], (size_t)(batch * cols) * 4, 0);
      }
      for (j = 0; j < kJobs; ++j) {
        g[j].w = kFamilies[f][j % 2];
        g[j].rows = sanitize ? kRows[j] / 16 : kRows[j];
        g[j].cols = kCols[j];
        w[j] = make_tensor(g[j].w, g[j].rows, g[j].cols, j % 2, ++seed);
        weights[j] = prepare(&g[j], w[j], 0);
        dy[j] = dbuf_new((size_t)(batch * g[j].rows) * 4, 0);
        jobs[j].weights = weights[j];
        jobs[j].d_x = dbuf_ptr(&dx[g[j].cols == 2560 ? 0 : 1]);
        jobs[j].d_y = (float*)dbuf_ptr(&dy[j]);
        want[j] = reference_gemm(g[j].w, w[j], g[j].rows, g[j].cols, BITNET_TYPE_F32,
                                 x[g[j].cols == 2560 ? 0 : 1], batch);
      }
      status = bitnet_cuda_gemm_multi(jobs, kJobs, BITNET_TYPE_F32, batch, NULL);
      if (check(status == BITNET_OK, "multi %s batch %lld: status %d (%s)",
                bitnet_type_name(kFamilies[f][0]), (long long)batch, status, bitnet_last_error())) {
        CUDA_OK(cudaDeviceSynchronize());
        for (j = 0; j < kJobs; ++j) {
          char where[120];
          float* got;
          snprintf(where, sizeof where, "multi %s batch %lld job %d (%lldx%lld)",
                   bitnet_type_name(g[j].w), (long long)batch, j, (long long)g[j].rows,
                   (long long)g[j].cols);
          got = (float*)dbuf_read(&dy[j], where);
          expect_floats(got, want[j], (size_t)(batch * g[j].rows), where);
          free(got);
        }
      }
      for (j = 0; j < kJobs; ++j) {
        bitnet_cuda_gemm_free(weights[j]);
        dbuf_free(&dy[j]);
        free(w[j]);
        free(want[j]);
      }
      for (j = 0; j < 2; ++j) {
        dbuf_free(&dx[j]);
        free(x[j]);
      }
    }
  }
}

/* ---- graphs and streams --------------------------------------------------------------------------- */

/* Captured on a stream: two products (the fused and the batched path), an
 * I2_S quantize (its two kernels and the tail) and a dequantize; replayed
 * twice with new inputs in the same buffers. */
static void run_graph(void) {
  const gemm_shape g = {BITNET_TYPE_TQ2_0, 300, 2560};
  const int64_t small = 1, large = 24;
  const shape sh = {6, 2560};
  const size_t n = (size_t)(sh.rows * sh.cols), q_bytes = tensor_bytes(BITNET_TYPE_I2_S, sh.rows, sh.cols);
  uint8_t* w = make_tensor(g.w, g.rows, g.cols, 1, 4242);
  bitnet_cuda_gemm_weights* weights = prepare(&g, w, 0);
  cudaStream_t stream;
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  dbuf x1 = dbuf_new((size_t)(small * g.cols) * 4, 0), x2 = dbuf_new((size_t)(large * g.cols) * 4, 0);
  dbuf y1 = dbuf_new((size_t)(small * g.rows) * 4, 0), y2 = dbuf_new((size_t)(large * g.rows) * 4, 0);
  dbuf t_in = dbuf_new(n * 4, 0), t_q = dbuf_new(q_bytes, 3), t_back = dbuf_new(n * 2, 0);
  int ok = 1;
  if (weights == NULL) return;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  /* The status is taken before the message is read (expect_status). */
  ok &= expect_status(bitnet_cuda_gemm(weights, BITNET_TYPE_F32, dbuf_ptr(&x1), small, (float*)dbuf_ptr(&y1), stream),
                      BITNET_OK, "graph: capture gemm batch 1");
  ok &= expect_status(bitnet_cuda_gemm(weights, BITNET_TYPE_F32, dbuf_ptr(&x2), large, (float*)dbuf_ptr(&y2), stream),
                      BITNET_OK, "graph: capture gemm batch 24");
  ok &= expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_I2_S, NULL, BITNET_TYPE_F32, dbuf_ptr(&t_in), sh.rows,
                                                  sh.cols, dbuf_ptr(&t_q), q_bytes, 0, stream),
                      BITNET_OK, "graph: capture I2_S quantize");
  ok &= expect_status(bitnet_cuda_tensor_dequantize(BITNET_TYPE_I2_S, NULL, dbuf_ptr(&t_q), q_bytes, sh.rows, sh.cols,
                                                    BITNET_TYPE_BF16, dbuf_ptr(&t_back), n * 2, 0, stream),
                      BITNET_OK, "graph: capture dequantize");
  /* Refused before anything touches the stream: the capture goes on. */
  expect_status(bitnet_cuda_tensor_transcode(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_I2_S, dbuf_ptr(&t_q), q_bytes,
                                             sh.rows, sh.cols, dbuf_ptr(&t_back), n * 2, 0, stream),
                BITNET_E_INVALID_ARGUMENT, "graph: a transcode (which synchronizes) on a capturing stream");
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  if (ok) {
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    for (int replay = 0; replay < 2; ++replay) {
      void* xa = make_activations(BITNET_TYPE_F32, small, g.cols, 1 + replay, 100 + replay);
      void* xb = make_activations(BITNET_TYPE_F32, large, g.cols, 2 - replay, 200 + replay);
      float* t = (float*)make_elements(BITNET_TYPE_F32, n, 256, replay, 300 + replay);
      float* want_a = reference_gemm(g.w, w, g.rows, g.cols, BITNET_TYPE_F32, xa, small);
      float* want_b = reference_gemm(g.w, w, g.rows, g.cols, BITNET_TYPE_F32, xb, large);
      uint8_t* want_q = (uint8_t*)xmalloc(q_bytes);
      uint8_t* want_back = (uint8_t*)xmalloc(n * 2);
      bitnet_tensor_options o = reference_options(0);
      float *got_a, *got_b;
      uint8_t *got_q, *got_back;
      char where[64];
      snprintf(where, sizeof where, "graph replay %d", replay);
      CUDA_OK(cudaMemcpy(dbuf_ptr(&x1), xa, (size_t)(small * g.cols) * 4, cudaMemcpyHostToDevice));
      CUDA_OK(cudaMemcpy(dbuf_ptr(&x2), xb, (size_t)(large * g.cols) * 4, cudaMemcpyHostToDevice));
      CUDA_OK(cudaMemcpy(dbuf_ptr(&t_in), t, n * 4, cudaMemcpyHostToDevice));
      /* A copy from pageable memory may return before its data lands; the
       * non-blocking stream would not wait for it. */
      CUDA_OK(cudaDeviceSynchronize());
      CUDA_OK(cudaGraphLaunch(exec, stream));
      CUDA_OK(cudaStreamSynchronize(stream));
      check(bitnet_tensor_quantize(BITNET_TYPE_I2_S, &o, BITNET_TYPE_F32, t, sh.rows, sh.cols, want_q, q_bytes) == BITNET_OK &&
                bitnet_tensor_dequantize(BITNET_TYPE_I2_S, &o, want_q, q_bytes, sh.rows, sh.cols, BITNET_TYPE_BF16,
                                         want_back, n * 2) == BITNET_OK,
            "graph: CPU reference");
      got_a = (float*)dbuf_read(&y1, where);
      got_b = (float*)dbuf_read(&y2, where);
      got_q = dbuf_read(&t_q, where);
      got_back = dbuf_read(&t_back, where);
      expect_floats(got_a, want_a, (size_t)(small * g.rows), where);
      expect_floats(got_b, want_b, (size_t)(large * g.rows), where);
      expect_bytes(got_q, want_q, q_bytes, where, "I2_S");
      expect_bytes(got_back, want_back, n * 2, where, "BF16");
      free(xa); free(xb); free(t); free(want_a); free(want_b); free(want_q); free(want_back);
      free(got_a); free(got_b); free(got_q); free(got_back);
    }
    CUDA_OK(cudaGraphExecDestroy(exec));
  }
  CUDA_OK(cudaGraphDestroy(graph));
  CUDA_OK(cudaStreamDestroy(stream));
  bitnet_cuda_gemm_free(weights);
  free(w);
  dbuf_free(&x1); dbuf_free(&x2); dbuf_free(&y1); dbuf_free(&y2);
  dbuf_free(&t_in); dbuf_free(&t_q); dbuf_free(&t_back);
}

/* Four streams, each an encode, a decode and a product, all enqueued
 * before any is waited for. */
static void run_streams(void) {
  enum { kStreams = 4 };
  cudaStream_t streams[kStreams];
  const shape sh = {512, 4096};
  const size_t n = (size_t)(sh.rows * sh.cols);
  const gemm_shape g = {BITNET_TYPE_I2_S, 1000, 2560};
  uint8_t* w = make_tensor(g.w, g.rows, g.cols, 1, 777);
  bitnet_cuda_gemm_weights* weights[kStreams];
  float* x[kStreams];
  void* act[kStreams];
  dbuf d_in[kStreams], d_enc[kStreams], d_dec[kStreams], d_x[kStreams], d_y[kStreams];
  int i;
  for (i = 0; i < kStreams; ++i) {
    const bitnet_type t = kEncodeTypes[i];
    const int64_t batch = i % 2 ? 3 : 20;
    CUDA_OK(cudaStreamCreateWithFlags(&streams[i], cudaStreamNonBlocking));
    x[i] = (float*)make_elements(BITNET_TYPE_F32, n, 256, 1, 50 + i);
    act[i] = make_activations(BITNET_TYPE_F32, batch, g.cols, i % 5, 60 + i);
    weights[i] = prepare(&g, w, i % 2);
    d_in[i] = dbuf_from(x[i], n * 4, 0);
    d_enc[i] = dbuf_new(tensor_bytes(t, sh.rows, sh.cols), 1);
    d_dec[i] = dbuf_new(n * 4, 0);
    d_x[i] = dbuf_from(act[i], (size_t)(batch * g.cols) * 4, 0);
    d_y[i] = dbuf_new((size_t)(batch * g.rows) * 4, 0);
  }
  /* The buffers' memsets and copies ran on the legacy default stream, which
   * the non-blocking streams do not wait for. */
  CUDA_OK(cudaDeviceSynchronize());
  for (i = 0; i < kStreams; ++i) {
    const bitnet_type t = kEncodeTypes[i];
    const int64_t batch = i % 2 ? 3 : 20;
    expect_status(bitnet_cuda_tensor_quantize(t, NULL, BITNET_TYPE_F32, dbuf_ptr(&d_in[i]), sh.rows, sh.cols,
                                              dbuf_ptr(&d_enc[i]), d_enc[i].bytes, 0, streams[i]),
                  BITNET_OK, "streams: enqueue quantize");
    expect_status(bitnet_cuda_tensor_dequantize(t, NULL, dbuf_ptr(&d_enc[i]), d_enc[i].bytes, sh.rows, sh.cols,
                                                BITNET_TYPE_F32, dbuf_ptr(&d_dec[i]), n * 4, 0, streams[i]),
                  BITNET_OK, "streams: enqueue dequantize");
    if (weights[i] != NULL) {
      expect_status(bitnet_cuda_gemm(weights[i], BITNET_TYPE_F32, dbuf_ptr(&d_x[i]), batch,
                                     (float*)dbuf_ptr(&d_y[i]), streams[i]),
                    BITNET_OK, "streams: enqueue gemm");
    }
  }
  for (i = 0; i < kStreams; ++i) {
    const bitnet_type t = kEncodeTypes[i];
    const int64_t batch = i % 2 ? 3 : 20;
    bitnet_tensor_options o = reference_options(0);
    uint8_t* want_enc = (uint8_t*)xmalloc(d_enc[i].bytes);
    float* want_dec = (float*)xmalloc(n * 4);
    float* want_y = reference_gemm(g.w, w, g.rows, g.cols, BITNET_TYPE_F32, act[i], batch);
    uint8_t *got_enc, *got_dec;
    float* got_y;
    char where[64];
    snprintf(where, sizeof where, "stream %d (%s)", i, bitnet_type_name(t));
    check(bitnet_tensor_quantize(t, &o, BITNET_TYPE_F32, x[i], sh.rows, sh.cols, want_enc, d_enc[i].bytes) == BITNET_OK &&
              bitnet_tensor_dequantize(t, &o, want_enc, d_enc[i].bytes, sh.rows, sh.cols, BITNET_TYPE_F32, want_dec,
                                       n * 4) == BITNET_OK,
          "%s: CPU reference", where);
    CUDA_OK(cudaStreamSynchronize(streams[i]));
    got_enc = dbuf_read(&d_enc[i], where);
    got_dec = dbuf_read(&d_dec[i], where);
    got_y = (float*)dbuf_read(&d_y[i], where);
    expect_bytes(got_enc, want_enc, d_enc[i].bytes, where, "encoded");
    expect_bytes(got_dec, (const uint8_t*)want_dec, n * 4, where, "decoded");
    if (weights[i] != NULL) expect_floats(got_y, want_y, (size_t)(batch * g.rows), where);
    free(want_enc); free(want_dec); free(want_y); free(got_enc); free(got_dec); free(got_y);
    free(x[i]); free(act[i]);
    bitnet_cuda_gemm_free(weights[i]);
    dbuf_free(&d_in[i]); dbuf_free(&d_enc[i]); dbuf_free(&d_dec[i]); dbuf_free(&d_x[i]); dbuf_free(&d_y[i]);
    CUDA_OK(cudaStreamDestroy(streams[i]));
  }
  free(w);
}

/* ---- bad input ------------------------------------------------------------------------------------------ */

/* The rows that need prepared weights (a GPU). */
static void run_bad_input_gpu(void) {
  const gemm_shape g = {BITNET_TYPE_TQ2_0, 32, 256};
  uint8_t* w = make_tensor(g.w, g.rows, g.cols, 1, 1);
  const gemm_shape gi = {BITNET_TYPE_I2_S, 32, 256};
  uint8_t* wi = make_tensor(gi.w, gi.rows, gi.cols, 1, 2);
  bitnet_cuda_gemm_weights* weights = prepare(&g, w, 0);
  bitnet_cuda_gemm_weights* other = prepare(&gi, wi, 1);
  dbuf dx = dbuf_new(4 * 256 * 4, 0), dy = dbuf_new(4 * 32 * 4, 0);
  float host[4 * 256];
  bitnet_cuda_gemm_job jobs[2];
  if (weights == NULL || other == NULL) return;
  memset(host, 0, sizeof host);
  expect_status(bitnet_cuda_gemm(weights, BITNET_TYPE_F32, dbuf_ptr(&dx), -1, (float*)dbuf_ptr(&dy), NULL),
                BITNET_E_INVALID_ARGUMENT, "gemm: batch -1");
  expect_status(bitnet_cuda_gemm(weights, BITNET_TYPE_F32, dbuf_ptr(&dx), 0, (float*)dbuf_ptr(&dy), NULL), BITNET_OK,
                "gemm: batch 0");
  expect_status(bitnet_cuda_gemm(weights, BITNET_TYPE_F32, host, 4, (float*)dbuf_ptr(&dy), NULL),
                BITNET_E_INVALID_ARGUMENT, "gemm: x in host memory");
  expect_status(bitnet_cuda_gemm(weights, BITNET_TYPE_F32, dbuf_ptr(&dx), 4, (float*)dbuf_ptr(&dx) + 100, NULL),
                BITNET_E_OVERLAP, "gemm: y overlaps x");
  expect_status(bitnet_cuda_gemm(weights, BITNET_TYPE_F16, (const char*)dbuf_ptr(&dx) + 1, 4, (float*)dbuf_ptr(&dy), NULL),
                BITNET_E_MISALIGNED, "gemm: misaligned F16 x");
  expect_status(bitnet_cuda_gemm(weights, BITNET_TYPE_F32, NULL, 4, (float*)dbuf_ptr(&dy), NULL), BITNET_E_NULL_POINTER,
                "gemm: NULL x");
  jobs[0].weights = weights;
  jobs[0].d_x = dbuf_ptr(&dx);
  jobs[0].d_y = (float*)dbuf_ptr(&dy);
  jobs[1] = jobs[0];
  jobs[1].weights = other;
  expect_status(bitnet_cuda_gemm_multi(jobs, 2, BITNET_TYPE_F32, 1, NULL), BITNET_E_INVALID_ARGUMENT,
                "multi: TQ2_0 with I2_S weights");
  jobs[1].weights = weights;
  expect_status(bitnet_cuda_gemm_multi(jobs, 2, BITNET_TYPE_F32, 1, NULL), BITNET_E_OVERLAP,
                "multi: two jobs writing one y");
  {
    uint8_t q[66];
    dbuf dq = dbuf_new(66, 0);
    memset(q, POISON, sizeof q);
    expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, host, 1, 256, dbuf_ptr(&dq), 66, 0,
                                              NULL),
                  BITNET_E_INVALID_ARGUMENT, "quantize: host source");
    expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, dbuf_ptr(&dx), 1, 256, q, 66, 0,
                                              NULL),
                  BITNET_E_INVALID_ARGUMENT, "quantize: host destination");
    expect_status(bitnet_cuda_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, dbuf_ptr(&dx), 1, 256,
                                              dbuf_ptr(&dq), 66, bitnet_cuda_device_count(), NULL),
                  BITNET_E_DEVICE_UNAVAILABLE, "quantize: no such device");
    check(untouched(q, sizeof q), "bad input (GPU): host output written");
    dbuf_free(&dq);
  }
  bitnet_cuda_gemm_free(weights);
  bitnet_cuda_gemm_free(other);
  dbuf_free(&dx);
  dbuf_free(&dy);
  free(w);
  free(wi);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  bitnet_cuda_device_info info;
  int have_gpu;
  memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  have_gpu = bitnet_cuda_device_count() > 0 && bitnet_cuda_get_device_info(0, &info) == BITNET_OK && info.usable;
  if (!have_gpu) {
    printf("SKIPPED: no usable CUDA GPU: %s\n", bitnet_last_error() ? bitnet_last_error() : "?");
    return SKIP_RETURN_CODE;
  }
  printf("GPU: %s (compute %d.%d)\n", info.name, info.compute_major, info.compute_minor);
  if (strcmp(mode, "encode") == 0) {
    run_encode(0);
  } else if (strcmp(mode, "decode") == 0) {
    run_decode(0);
  } else if (strcmp(mode, "transcode") == 0) {
    run_transcode(0);
  } else if (strcmp(mode, "offsets") == 0) {
    run_offsets();
  } else if (strcmp(mode, "gemm") == 0) {
    run_gemm(0);
  } else if (strcmp(mode, "multi") == 0) {
    run_multi(0);
  } else if (strcmp(mode, "graph") == 0) {
    run_graph();
  } else if (strcmp(mode, "streams") == 0) {
    run_streams();
  } else if (strcmp(mode, "bad_input") == 0) {
    run_bad_input_gpu();
  } else if (strcmp(mode, "sanitize") == 0) {
    run_encode(1);
    run_decode(1);
    run_transcode(1);
    run_gemm(1);
    run_multi(1);
    run_graph();
    run_bad_input_gpu();
  } else {
    fprintf(stderr, "usage: %s encode | decode | transcode | offsets | gemm | multi | graph | streams | "
            "bad_input | sanitize\n", argv[0]);
    return 2;
  }
  return finish(mode);
}
