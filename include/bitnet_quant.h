/*
 * bitnet_quant.h - the public C interface of libbitnet_quant.
 *
 * BitNet b1.58 ternary quantization behind a stable C ABI. The I2_S, TL1
 * and TL2 of this library (bitnet_quantize_i2s/_tl1/_tl2, BITNET_FORMAT_*)
 * are BitNet-rs's block layouts ("family A": its I2SQuantizer, TL1Quantizer
 * and TL2Quantizer, scalar path), bit for bit: 2-bit codes, one float scale
 * per block. They are not the tensor types of bitnet.cpp or GGUF that carry
 * the same names (other packings, other scales); docs/formats.md specifies
 * the layouts and where each rule comes from.
 *
 * Conventions
 *  - Every function that can fail returns an int status: 0 (BITNET_OK) on
 *    success, a negative BITNET_E_* code on failure. bitnet_last_error()
 *    then describes what was wrong on the calling thread.
 *  - On failure no output buffer is written. (The one exception, a GPU fault
 *    during the final device-to-host copy of a host-pointer call that runs
 *    on CUDA, is stated at the device section below.)
 *  - Buffer lengths are counts of elements of the pointed-to type
 *    (bytes for uint8_t*, floats for float*).
 *  - All functions are thread-safe and reentrant.
 *  - Environment variables (BITNET_CPU_TARGET, BITNET_STRICT_MODE,
 *    BITNET_CUDA_MIN_ELEMENTS) are each read once per process, by the first
 *    call that consults it; setting or changing one later has no effect.
 *  - The declarations under BITNET_QUANT_EXPERIMENTAL at the end (the CUDA
 *    device queries and device-pointer calls) are not frozen: they may
 *    change in any release and are not part of the ABI promise.
 */
#ifndef BITNET_QUANT_H
#define BITNET_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* ---- version ------------------------------------------------------------ */
#define BITNET_QUANT_VERSION_MAJOR 0
#define BITNET_QUANT_VERSION_MINOR 2
#define BITNET_QUANT_VERSION_PATCH 0
#define BITNET_QUANT_VERSION_NUMBER                                     \
  (BITNET_QUANT_VERSION_MAJOR * 10000 + BITNET_QUANT_VERSION_MINOR * 100 + \
   BITNET_QUANT_VERSION_PATCH)
#define BITNET_QUANT_VERSION_STRING "0.2.0"

/* ---- visibility --------------------------------------------------------- */
#ifndef BITNET_API
#if defined(_WIN32) && defined(BITNET_QUANT_BUILDING)
#define BITNET_API __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define BITNET_API __attribute__((visibility("default")))
#else
#define BITNET_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------- */
enum bitnet_status {
  BITNET_OK = 0,
  BITNET_E_NULL_POINTER = -1,        /* a required pointer is NULL */
  BITNET_E_BUFFER_TOO_SMALL = -2,    /* an output buffer cannot hold the result */
  BITNET_E_SIZE_MISMATCH = -3,       /* input lengths disagree with each other */
  BITNET_E_SIZE_OVERFLOW = -4,       /* a length is too large to address */
  BITNET_E_INVALID_BLOCK_SIZE = -5,  /* block size not a multiple of 4 in [4, 2^20] */
  BITNET_E_INVALID_FORMAT = -6,      /* format value is not a bitnet_format */
  BITNET_E_INVALID_OPTIONS = -7,     /* options struct_size or a field is invalid */
  BITNET_E_ALL_NONFINITE = -8,       /* I2_S input has no finite element */
  BITNET_E_OVERLAP = -9,             /* an output buffer overlaps another buffer */
  BITNET_E_MISALIGNED = -10,         /* a float pointer is not aligned to float */
  BITNET_E_UNSUPPORTED_TARGET = -11, /* CPU target not compiled in or not runnable */
  BITNET_E_INVALID_ARGUMENT = -12,   /* any other invalid argument */
  BITNET_E_DEVICE_UNAVAILABLE = -13, /* the requested device cannot run the call */
  BITNET_E_DEVICE_FAILURE = -14,     /* the device reported an error */
  BITNET_E_INVALID_TYPE = -15,       /* not a bitnet_type, or not one this call takes */
  BITNET_E_INVALID_SHAPE = -16,      /* rows/cols a layout cannot hold */
  BITNET_E_INEXACT_SCALE = -17,      /* a scale the target cannot hold exactly */
  BITNET_E_INVALID_DATA = -18,       /* input values the operation cannot represent */
  BITNET_E_OUT_OF_MEMORY = -19       /* a working buffer could not be allocated */
};

/* Static English name and description of a status code, never NULL. */
BITNET_API const char* bitnet_status_string(int status);

/* Message describing the most recent failing call on this thread (which
 * argument, which size), or why the most recent call that fell back to the
 * CPU (BITNET_BACKEND_CPU_FALLBACK) did not run on the GPU, whichever came
 * last; NULL if neither happened on this thread yet. Valid until the next
 * such call on the same thread. */
BITNET_API const char* bitnet_last_error(void);

/* ---- version at run time ------------------------------------------------ */
/* BITNET_QUANT_VERSION_NUMBER / _STRING of the library actually loaded. */
BITNET_API unsigned bitnet_version_number(void);
BITNET_API const char* bitnet_version_string(void);

/* ---- formats ------------------------------------------------------------ */
/* BitNet-rs's family-A block layouts (not bitnet.cpp's or GGUF's types of
 * the same names), numbered as BitNet-rs numbers them
 * (bitnet_quantization_type_t). */
typedef int32_t bitnet_format;
enum {
  BITNET_FORMAT_I2S = 0,
  BITNET_FORMAT_TL1 = 1,
  BITNET_FORMAT_TL2 = 2
};

/* Elements per scale of each format's fixed-format functions and of
 * options.block_size == 0; also the fixed blocks of bitnet_cpp_quantize. */
#define BITNET_I2S_DEFAULT_BLOCK_SIZE 32u
#define BITNET_TL1_DEFAULT_BLOCK_SIZE 64u
#define BITNET_TL2_DEFAULT_BLOCK_SIZE 128u
/* options.block_size: a multiple of 4 in [BITNET_MIN_BLOCK_SIZE,
 * BITNET_MAX_BLOCK_SIZE] (or 0 for the default). */
#define BITNET_MIN_BLOCK_SIZE 4u
#define BITNET_MAX_BLOCK_SIZE 1048576u

/* ---- CPU targets -------------------------------------------------------- */
/* One bit per CPU code path. REFERENCE is the portable scalar reference;
 * the others are Highway targets. */
typedef uint32_t bitnet_cpu_target;
enum {
  BITNET_CPU_AUTO = 0, /* best supported target (or BITNET_CPU_TARGET env) */
  BITNET_CPU_REFERENCE = 1u << 0,
  BITNET_CPU_SCALAR = 1u << 1, /* Highway HWY_SCALAR */
  BITNET_CPU_EMU128 = 1u << 2,
  BITNET_CPU_SSSE3 = 1u << 3,
  BITNET_CPU_SSE4 = 1u << 4,
  BITNET_CPU_AVX2 = 1u << 5,
  BITNET_CPU_AVX3 = 1u << 6,    /* AVX-512 F/BW/DQ/VL */
  BITNET_CPU_AVX3_DL = 1u << 7, /* AVX-512 + VNNI/VBMI2/BITALG (Ice Lake, Zen 4) */
  BITNET_CPU_NEON = 1u << 8,
  BITNET_CPU_SVE = 1u << 9,
  BITNET_CPU_SVE2 = 1u << 10
};

/* Bit mask of the targets compiled into this library. */
BITNET_API bitnet_cpu_target bitnet_cpu_targets_compiled(void);
/* Bit mask of the compiled targets this CPU can run (always has REFERENCE). */
BITNET_API bitnet_cpu_target bitnet_cpu_targets_supported(void);
/* Name of one target bit ("AVX3_DL", "REFERENCE", ...); "UNKNOWN" otherwise. */
BITNET_API const char* bitnet_cpu_target_name(bitnet_cpu_target target);
/* Parses a target name (case-insensitive; "AUTO" gives BITNET_CPU_AUTO).
 * Returns BITNET_E_INVALID_ARGUMENT for an unknown name. */
BITNET_API int bitnet_cpu_target_from_name(const char* name, bitnet_cpu_target* target);
/* Sets the process-wide target used by calls that do not name one in their
 * options. BITNET_CPU_AUTO restores the default: the BITNET_CPU_TARGET
 * environment variable if set, else the best supported target. */
BITNET_API int bitnet_cpu_set_target(bitnet_cpu_target target);
/* The target a call without an explicit target runs on now. Returns 0 and
 * sets the error message if BITNET_CPU_TARGET names an unusable target. */
BITNET_API bitnet_cpu_target bitnet_cpu_get_target(void);

/* ---- devices and backends ------------------------------------------------ */
/* Where a host-pointer call (bitnet_quantize, bitnet_dequantize and the
 * fixed-format functions) runs:
 *  - BITNET_DEVICE_CPU: the CPU.
 *  - BITNET_DEVICE_CUDA: GPU options.device_index, always (never the CPU);
 *    BITNET_E_DEVICE_UNAVAILABLE when that GPU cannot run the call, even for
 *    n == 0. options.cpu_target must then be BITNET_CPU_AUTO.
 *  - BITNET_DEVICE_AUTO (also NULL options and the fixed-format functions):
 *    the CPU, unless the GPU is likely to be faster. AUTO wants the GPU only
 *    when options.cpu_target is BITNET_CPU_AUTO (a named target means the
 *    CPU) and n >= BITNET_CUDA_MIN_ELEMENTS (default 16777216 = 2^24; the
 *    environment variable of that name, a decimal element count, overrides
 *    it, 0 meaning every call; any other value makes the calls that consult
 *    it fail with BITNET_E_INVALID_ARGUMENT). Below that no CUDA call is
 *    made at all (no driver load, no context). The default comes from
 *    host-pointer runs on H100 machines (README, "CUDA"): copies from
 *    pageable memory included, the GPU quantized 1.7-2.2 Gelem/s at 2^28
 *    elements against 1.1-1.4 for those hosts' CPU on one thread, a saving
 *    of at least 0.13 ns per element, which passes 20 times a call's fixed
 *    GPU cost (allocation, three copies, a synchronization: about 100 us,
 *    an estimate; bench_cuda measures the crossover) from about 2^24
 *    elements on; the first GPU call also creates the CUDA context. On a CPU
 *    whose one thread outruns the PCIe copies, the GPU never pays: set the
 *    variable higher or use BITNET_DEVICE_CPU.
 *    When AUTO wants the GPU and none is usable, or the GPU fails during the
 *    call (BITNET_E_DEVICE_FAILURE, before any output byte is written), the
 *    call runs on the CPU instead and reports BITNET_BACKEND_CPU_FALLBACK,
 *    with the reason in bitnet_last_error(). Strict mode (BITNET_FLAG_STRICT,
 *    or BITNET_STRICT_MODE set to 1 or true, trimmed and case-insensitive,
 *    unless BITNET_FLAG_NOT_STRICT) fails instead: BITNET_E_DEVICE_UNAVAILABLE
 *    or BITNET_E_DEVICE_FAILURE. Strict mode never affects a call that AUTO
 *    gives to the CPU in the first place.
 * A call on CUDA copies the inputs to the GPU, runs the kernels and copies
 * the outputs back once all of them ran, returning when done. It needs GPU
 * memory for the whole call (dequantize: n * 4.25 bytes and the scales;
 * quantize: the outputs and 64 MiB of input at a time); when that cannot be
 * allocated it fails with BITNET_E_DEVICE_FAILURE, writing nothing. Only a
 * GPU fault during those final copies themselves can leave an output
 * partly written (reported as BITNET_E_DEVICE_FAILURE). */
typedef int32_t bitnet_device;
enum {
  BITNET_DEVICE_AUTO = 0, /* the CPU, or the GPU where it pays (above) */
  BITNET_DEVICE_CPU = 1,
  BITNET_DEVICE_CUDA = 2
};

/* What ran the most recent successful call on this thread. */
typedef int32_t bitnet_backend;
enum {
  BITNET_BACKEND_NONE = 0, /* no call has succeeded on this thread yet */
  BITNET_BACKEND_CPU = 1,
  BITNET_BACKEND_CUDA = 2,
  BITNET_BACKEND_CPU_FALLBACK = 3 /* AUTO wanted the GPU; it was unusable or failed */
};
BITNET_API bitnet_backend bitnet_last_backend(void);
/* The CPU code path that ran the most recent successful call on this thread:
 * one BITNET_CPU_* bit, reported by the kernel itself as it runs (the
 * reference reports REFERENCE, a Highway kernel the target it was compiled
 * for), so it shows what ran, not what was asked for: a forced target, the
 * process default or AUTO's choice (the ternary products forced to SCALAR
 * or SVE report REFERENCE, which runs them there). Kernels a call runs on
 * worker threads report to the calling thread. 0 when that call ran no CPU
 * kernel (n == 0, an empty matmul, tensor or product, or the GPU ran it) or
 * none has succeeded on this thread yet. Failing calls leave it unchanged. */
BITNET_API bitnet_cpu_target bitnet_last_cpu_target(void);

/* options.flags */
#define BITNET_FLAG_STRICT 0x1u     /* AUTO never falls back to the CPU: it fails */
#define BITNET_FLAG_NOT_STRICT 0x2u /* AUTO falls back whatever BITNET_STRICT_MODE says */

/* ---- options for the general entry points ------------------------------- */
/* Later versions only append fields. struct_size says which layout the
 * caller compiled: the library reads that many bytes and gives every field
 * past them its default, so a caller built against an older header keeps
 * working. Accepted: the size of any released layout, from
 * BITNET_QUANT_OPTIONS_SIZE_V1 (version 0.1: the six fields below) up to
 * this header's sizeof(bitnet_quant_options). A larger struct_size (a caller
 * built against a newer header, whose extra fields this library cannot
 * honour) or any other value fails with BITNET_E_INVALID_OPTIONS. */
typedef struct bitnet_quant_options {
  uint32_t struct_size;
  /* Elements per scale: a multiple of 4 in [BITNET_MIN_BLOCK_SIZE,
   * BITNET_MAX_BLOCK_SIZE]; 0 = the format's default block size. */
  uint32_t block_size;
  /* One BITNET_CPU_* bit, or BITNET_CPU_AUTO for the process default. A
   * named target keeps device AUTO on the CPU. */
  bitnet_cpu_target cpu_target;
  /* Where the call runs (see "devices and backends"); device_index picks
   * the GPU. */
  bitnet_device device;
  int32_t device_index;
  /* BITNET_FLAG_*; without either strict flag, strict mode comes from
   * BITNET_STRICT_MODE. */
  uint32_t flags;
} bitnet_quant_options;

#define BITNET_QUANT_OPTIONS_SIZE_V1 24u

/* The defaults: block_size 0, cpu_target AUTO, device AUTO, index 0, no
 * flags. */
#define BITNET_QUANT_OPTIONS_INIT \
  { (uint32_t)sizeof(bitnet_quant_options), 0u, 0u, 0, 0, 0u }

/* BITNET_QUANT_OPTIONS_INIT for languages without C macros: writes the
 * defaults into the first struct_size bytes of *options, struct_size
 * included (pass the size of the struct as the caller declares it).
 * BITNET_E_NULL_POINTER, or BITNET_E_INVALID_OPTIONS for a size the calls
 * would not accept (nothing written). */
BITNET_API int bitnet_quant_options_init(bitnet_quant_options* options, size_t struct_size);

/* Sizes a call needs for n elements: packed bytes ceil(n/4) and scales
 * ceil(n/block_size). options may be NULL for the defaults. Depends on
 * format, options->block_size and n only: of options it checks struct_size
 * and block_size and reads no other field, and it consults no device, CPU
 * target or environment variable.
 * BITNET_E_SIZE_OVERFLOW when n floats cannot be addressed. */
BITNET_API int bitnet_quant_buffer_sizes(bitnet_format format,
                                         const bitnet_quant_options* options,
                                         size_t n, size_t* packed_len,
                                         size_t* scales_len);
/* ceil(n/4): packed bytes for n elements of any format. */
BITNET_API size_t bitnet_packed_size(size_t n);

/* General quantizer: n floats -> ceil(n/4) packed bytes and ceil(n/B)
 * scales. packed_len and scales_len are capacities; entries past the
 * required counts are not written. n == 0 succeeds and writes nothing.
 * I2_S fails with BITNET_E_ALL_NONFINITE when n > 0 and no element is
 * finite (as BitNet-rs does). */
BITNET_API int bitnet_quantize(bitnet_format format,
                               const bitnet_quant_options* options,
                               const float* input, size_t n, uint8_t* packed,
                               size_t packed_len, float* scales,
                               size_t scales_len);

/* General dequantizer: packed_len must be exactly ceil(n/4) and scales_len
 * exactly ceil(n/B); output receives n floats. */
BITNET_API int bitnet_dequantize(bitnet_format format,
                                 const bitnet_quant_options* options,
                                 const uint8_t* packed, size_t packed_len,
                                 const float* scales, size_t scales_len,
                                 float* output, size_t n);

/* ---- fixed-format entry points (default block sizes) -------------------- */
/* BitNet-rs's family-A layouts with BITNET_*_DEFAULT_BLOCK_SIZE elements
 * per scale and NULL options: device AUTO, the process's CPU target. */
BITNET_API int bitnet_quantize_i2s(const float* input, size_t n, uint8_t* packed,
                                   size_t packed_len, float* scales,
                                   size_t scales_len);
BITNET_API int bitnet_quantize_tl1(const float* input, size_t n, uint8_t* packed,
                                   size_t packed_len, float* scales,
                                   size_t scales_len);
BITNET_API int bitnet_quantize_tl2(const float* input, size_t n, uint8_t* packed,
                                   size_t packed_len, float* scales,
                                   size_t scales_len);
BITNET_API int bitnet_dequantize_i2s(const uint8_t* packed, size_t packed_len,
                                     const float* scales, size_t scales_len,
                                     float* output, size_t n);
BITNET_API int bitnet_dequantize_tl1(const uint8_t* packed, size_t packed_len,
                                     const float* scales, size_t scales_len,
                                     float* output, size_t n);
BITNET_API int bitnet_dequantize_tl2(const uint8_t* packed, size_t packed_len,
                                     const float* scales, size_t scales_len,
                                     float* output, size_t n);

/* ---- BitNet-rs FFI contract (crates/bitnet-kernels/src/ffi/bridge.rs) ---- */
/* The library keeps no state to set up or release; every function works
 * without init. bitnet_cpp_init checks that the CPU kernels the other calls
 * use can run: BITNET_E_UNSUPPORTED_TARGET when BITNET_CPU_TARGET names a
 * target this CPU cannot run, else 0. bitnet_cpp_cleanup does nothing. Both
 * may be called any number of times, from any thread, in any order. */
BITNET_API int bitnet_cpp_init(void);
BITNET_API void bitnet_cpp_cleanup(void);
BITNET_API int bitnet_cpp_is_available(void); /* 1: always available */
/* C[m x n] = A[m x k] (int8) * B[k x n] (uint8, unpacked), row-major f32,
 * summed in order of k in f32 as BitNet-rs's fallback does. */
BITNET_API int bitnet_cpp_matmul_i2s(const int8_t* a, const uint8_t* b,
                                     float* c, int m, int n, int k);
/* BitNet-rs's KernelProvider::quantize (family B: fixed blocks
 * BITNET_*_DEFAULT_BLOCK_SIZE for qtype 0/1/2, scale absmax/1.5), on the
 * CPU. Writes ceil(input_len/4) bytes and ceil(input_len/block) scales;
 * output_len and scales_len are capacities. A qtype other than 0, 1 or 2
 * fails with BITNET_E_INVALID_FORMAT. */
BITNET_API int bitnet_cpp_quantize(const float* input, int input_len,
                                   uint8_t* output, int output_len,
                                   float* scales, int scales_len, int qtype);
/* Message of the last failure on this thread, NULL if none. */
BITNET_API const char* bitnet_cpp_get_last_error(void);

/* ==== tensor layouts: the formats of real model files ======================
 * Whole 2-D tensors (rows x cols, row-major) in the layouts that model files
 * use, each bit-exact with the code that defines it. Conventions as above,
 * except that lengths of void* buffers are in bytes. Element buffers (F32,
 * F16, BF16) must be aligned to their element size; layout buffers may have
 * any alignment. Byte layouts, rules and sources: docs/formats.md. */

/* GGUF ggml_type ids where the layout has one; ids from 0x10000 name layouts
 * that have none, so they can never collide with a GGUF id. */
typedef int32_t bitnet_type;
enum {
  BITNET_TYPE_F32 = 0,
  BITNET_TYPE_F16 = 1,
  BITNET_TYPE_Q8_0 = 8,   /* ggml: 32-blocks, f16 d + 32 int8 (34 B) */
  BITNET_TYPE_Q8_K = 15,  /* ggml: 256-blocks, f32 d + 256 int8 + 16 int16 sums (292 B) */
  BITNET_TYPE_IQ2_S = 22, /* ggml: 256-blocks of 82 B; decode only */
  BITNET_TYPE_BF16 = 30,
  BITNET_TYPE_TQ1_0 = 34, /* ggml: 256-blocks, base-3 codes then f16 d (54 B) */
  BITNET_TYPE_TQ2_0 = 35, /* ggml: 256-blocks, 2-bit codes then f16 d (66 B) */
  BITNET_TYPE_I2_S = 36,  /* bitnet.cpp: 128-blocks of 32 B, then a 32-B tail
                             whose first 4 B are the tensor's f32 scale */
  BITNET_TYPE_I8_S = 37,  /* bitnet.cpp's activation type (bitnet_quantize_i8s) */
  BITNET_TYPE_Q2_0 = 42,  /* ggml: 64-blocks, f16 d then 2-bit codes (18 B) */
  /* transformers' offline BitNet layout: uint8 [rows/4][cols], byte (r, c)
   * holding rows r + k*rows/4 (k = 0..3) at bits 2k (code = q + 1), then the
   * f32 weight_scale (4 B); value = q / weight_scale. */
  BITNET_TYPE_HF_BITNET = 0x10001,
  /* BitNet-rs family A I2_S (bitnet_quantize_i2s's layout): ceil(n/4) code
   * bytes, then ceil(n/B) f32 block scales; B = options->block_size (0: 32). */
  BITNET_TYPE_BITNET_RS_I2S = 0x10002
};

/* What a type is, for sizing and inspecting files. */
typedef struct bitnet_type_info {
  uint32_t struct_size;       /* sizeof(bitnet_type_info) as the caller compiled it */
  const char* name;           /* "TQ2_0", ... (static) */
  const char* defined_by;     /* "ggml", "bitnet.cpp", "transformers", "BitNet-rs", "IEEE" */
  int64_t block_elements;     /* elements per block (1 for F32/F16/BF16) */
  uint64_t block_bytes;       /* bytes per block, codes and in-block scales */
  uint64_t tail_bytes;        /* bytes after the blocks (I2_S 32, HF_BITNET 4) */
  int64_t cols_multiple;      /* cols must be a multiple of this */
  int64_t rows_multiple;      /* rows must be a multiple of this */
  int64_t elements_multiple;  /* rows*cols must be a multiple of this */
  int32_t ternary;            /* 1: holds ternary codes (a transcode end) */
  int32_t can_quantize;       /* 1: bitnet_tensor_quantize can write it */
  double bits_per_weight;     /* block_bytes*8/block_elements, tail excluded */
} bitnet_type_info;

/* Fills *info (info->struct_size must be set). BITNET_E_INVALID_TYPE for an
 * unknown type. */
BITNET_API int bitnet_type_get_info(bitnet_type type, bitnet_type_info* info);
/* Name of a type ("TQ2_0"), "unknown" for others; never NULL. */
BITNET_API const char* bitnet_type_name(bitnet_type type);
/* Parses a name (case-insensitive); BITNET_E_INVALID_TYPE if unknown. */
BITNET_API int bitnet_type_from_name(const char* name, bitnet_type* type);

/* options.flags */
#define BITNET_TENSOR_ALLOW_SCALE_ROUNDING 0x1u /* transcode may round a scale
                                                   the target cannot hold */
#define BITNET_TENSOR_UNIT_SCALE 0x2u /* transcode to per-block scales writes
                                         d = 1 (0 in all-zero blocks): the
                                         caller keeps the tensor's scale */
#define BITNET_TENSOR_CACHED_OUTPUT 0x4u /* dequantize (an output of 8 MiB
                                            or more) and transcode between
                                            I2_S and TQ2_0 (4 MiB or more)
                                            write with ordinary stores, not
                                            past the caches */
/* options.ternarize */
#define BITNET_TERNARIZE_NONE 0    /* the destination layout's own rule */
#define BITNET_TERNARIZE_ABSMEAN 1 /* BitNet b1.58's absmean first (see bitnet_ternarize) */

typedef struct bitnet_tensor_options {
  uint32_t struct_size;         /* sizeof(bitnet_tensor_options) as the caller compiled it */
  uint32_t flags;               /* BITNET_TENSOR_* */
  bitnet_cpu_target cpu_target; /* one BITNET_CPU_* bit, or AUTO */
  int32_t n_threads;            /* threads to split the work over; 0 or 1: the caller's only */
  int32_t ternarize;            /* BITNET_TERNARIZE_* (quantize) */
  uint32_t block_size;          /* BITNET_TYPE_BITNET_RS_I2S block; 0 = 32 */
  int64_t group_size;           /* absmean scale per: 0 tensor, -1 row, G > 0 G columns */
  float threshold;              /* absmean: |x * s| > threshold is +-1; 0 = 0.5 (the paper) */
  uint32_t reserved;            /* 0 */
} bitnet_tensor_options;

/* The size of the first released layout (version 0.2); later versions
 * accept it, the fields past it taking their defaults. */
#define BITNET_TENSOR_OPTIONS_SIZE_V1 40u

#define BITNET_TENSOR_OPTIONS_INIT \
  { (uint32_t)sizeof(bitnet_tensor_options), 0u, 0u, 0, 0, 0u, 0, 0.0f, 0u }
/* The same defaults for languages without the macro; struct_size as compiled. */
BITNET_API int bitnet_tensor_options_init(bitnet_tensor_options* options, size_t struct_size);

/* Bytes of a rows x cols tensor of `type` (I2_S: rows*cols/4 + 32).
 * BITNET_E_INVALID_SHAPE names the constraint a shape breaks (TQ1_0/TQ2_0:
 * cols % 256, Q2_0: cols % 64, I2_S: rows*cols % 128, HF_BITNET: rows % 4). */
BITNET_API int bitnet_tensor_size(bitnet_type type, int64_t rows, int64_t cols, size_t* bytes);

/* src (F32, F16 or BF16) -> dst_type. options NULL: the destination's own
 * reference rule, bit-exact with ggml's quantize_row_*_ref (TQ1_0, TQ2_0,
 * Q2_0, Q8_0, Q8_K), bitnet.cpp's quantize_i2_s, transformers' offline
 * quantizer (HF_BITNET) and BitNet-rs's I2SQuantizer. With ternarize =
 * ABSMEAN the tensor is first ternarized (values q*alpha, bitnet_ternarize)
 * and the destination's rule applied to those values. dst_len is a
 * capacity; bitnet_tensor_size bytes are written. */
BITNET_API int bitnet_tensor_quantize(bitnet_type dst_type, const bitnet_tensor_options* options,
                                      bitnet_type src_type, const void* src, int64_t rows,
                                      int64_t cols, void* dst, size_t dst_len);
/* A tensor of src_type (src_len its exact size) -> F32, F16 or BF16,
 * bit-exact with ggml's dequantize_row_* (F32; F16/BF16 by ggml's
 * conversions of those values). dst_len is a capacity. An output of 8 MiB
 * or more is written with non-temporal stores, past the caches (no line is
 * read before it is written), unless BITNET_TENSOR_CACHED_OUTPUT; from a
 * block layout or I2_S to a dst aligned to 64 bytes the decoders store it
 * as they make it, faster than elsewhere (made in a buffer, then copied). */
BITNET_API int bitnet_tensor_dequantize(bitnet_type src_type, const bitnet_tensor_options* options,
                                        const void* src, size_t src_len, int64_t rows,
                                        int64_t cols, bitnet_type dst_type, void* dst,
                                        size_t dst_len);
/* Ternary layout -> ternary layout (I2_S, TQ1_0, TQ2_0, Q2_0, HF_BITNET,
 * BITNET_RS_I2S), the codes re-packed without a float round trip. Codes are
 * always kept; a code the target cannot hold (+2 into TQ1_0, -2 out of
 * BitNet-rs's layout) is BITNET_E_INVALID_DATA. Scales: a per-block target
 * block gets the one scale of the source elements that are non-zero in it
 * (d = 0 when all are zero), a per-tensor target the one scale of all
 * non-zero elements; sources whose non-zero elements disagree, or whose
 * scales are not finite, are BITNET_E_INVALID_DATA. A scale the target type
 * cannot hold exactly (f32 -> f16) is BITNET_E_INEXACT_SCALE unless
 * BITNET_TENSOR_ALLOW_SCALE_ROUNDING (then rounded as ggml rounds).
 * Between I2_S and TQ2_0 (a byte re-pack), an output of 4 MiB or more is
 * written with non-temporal stores (each 4 KiB page's first line with an
 * ordinary one) unless BITNET_TENSOR_CACHED_OUTPUT. */
BITNET_API int bitnet_tensor_transcode(bitnet_type dst_type, const bitnet_tensor_options* options,
                                       bitnet_type src_type, const void* src, size_t src_len,
                                       int64_t rows, int64_t cols, void* dst, size_t dst_len);

/* What a ternary tensor holds, for inspecting and verifying files: how many
 * elements have each value (code minus the layout's offset: -2..+2; +2 in
 * TQ2_0/Q2_0/I2_S/HF_BITNET and -2 in BITNET_RS_I2S are codes no quantizer
 * writes, -1..+1 in TQ1_0 unless its bytes are damaged), and its scales:
 * how many, how many are not finite, and the range of the finite ones (the
 * value of code +1: HF_BITNET's 1/weight_scale). */
typedef struct bitnet_tensor_stats {
  uint32_t struct_size;   /* sizeof(bitnet_tensor_stats) as the caller compiled it */
  uint32_t reserved;      /* written as 0 */
  uint64_t values[5];     /* elements of value -2, -1, 0, +1, +2 */
  uint64_t scales;        /* scales in the tensor (blocks, or 1) */
  uint64_t nonfinite_scales;
  float scale_min;        /* over the finite scales; 0 when there is none */
  float scale_max;
} bitnet_tensor_stats;
/* Fills *stats (stats->struct_size must be set) for a ternary tensor
 * (src_len its exact size). */
BITNET_API int bitnet_tensor_stats_get(bitnet_type type, const bitnet_tensor_options* options,
                                       const void* src, size_t src_len, int64_t rows,
                                       int64_t cols, bitnet_tensor_stats* stats);

/* BitNet b1.58 absmean ternarization, as the reference converters compute it
 * (torch float32): per unit (the tensor, a row, or G columns of a row:
 * options->group_size) m = mean|x|, s = 1/max(m, 1e-5) in f32, code q = +-1
 * where |x*s| > threshold (0.5: round half to even, clamped), else 0; alpha =
 * 1/s, so q*alpha is the converters' q/s. The mean is accumulated in double
 * in a fixed order (chunks of 65536 elements, 16 interleaved partial sums
 * each, chunks added in order) and rounded once: the same result on every
 * CPU target and thread count. A unit that is already ternary (every value
 * 0 or +-a for one a > 0) keeps a and its codes. NaN or +-Inf is
 * BITNET_E_INVALID_DATA. codes: rows*cols int8; alphas: one per unit. */
BITNET_API int bitnet_ternarize(const bitnet_tensor_options* options, bitnet_type src_type,
                                const void* src, int64_t rows, int64_t cols, int8_t* codes,
                                size_t codes_len, float* alphas, size_t alphas_len);

/* bitnet.cpp's activation quantizer (quantize_row_i8_s), per row: max|x| in
 * double from 1e-5, scale = (float)(127/max), q = x*scale rounded half to
 * even, clamped to [-128, 127], sum = the row's sum of q. q: rows*cols int8;
 * scales, sums: one per row (lengths in elements). */
BITNET_API int bitnet_quantize_i8s(const bitnet_tensor_options* options, bitnet_type src_type,
                                   const void* src, int64_t rows, int64_t cols, int8_t* q,
                                   size_t q_len, float* scales, size_t scales_len,
                                   int32_t* sums, size_t sums_len);

/* ==== ternary matrix products =============================================
 * y[N x M] = x[N x K] . W^T for a weight tensor W (M rows of K, as the tensor
 * API writes it) in I2_S, TQ1_0, TQ2_0 or Q2_0: y[b*M + r] is row r of W
 * against token b of x. The activations are quantized with the rule of the
 * layout's reference engine, the products summed exactly in int32 and
 * scaled in that engine's float order:
 *   I2_S:  bitnet.cpp's quantize_row_i8_s per token; y = ((float)S -
 *          (float)act_sum) / act_scale * w_scale with S = sum of code*q
 *          (codes 0..2 as stored), the epilogue of bitnet.cpp's ggml fork.
 *          Its AVX2 kernel sums in int16 lanes, which wrap for adversarial
 *          activations (e.g. 4096 x 127 against all +1): there this
 *          library's exact sum differs from bitnet.cpp's.
 *   TQ1_0, TQ2_0: ggml's Q8_K (quantize_row_q8_K_ref) per token;
 *          Q2_0: ggml's Q8_0 (quantize_row_q8_0_ref) per token; y is bit for
 *          bit ggml v0.5.0's generic dot (ggml_vec_dot_tq1_0_q8_K_generic,
 *          ggml_vec_dot_tq2_0_q8_K_generic, ggml_vec_dot_q2_0_q8_0) with
 *          every float operation rounded on its own, as its baseline x86-64
 *          build computes it (its AVX2 dots and its FMA builds differ from
 *          that in the last bits).
 * The same bits on every CPU target and for any thread count or row range.
 * A NaN result is NaN everywhere, but its sign and payload bits may differ
 * (they follow the order in which NaN block sums meet). */

/* options.flags */
#define BITNET_GEMM_ROW_RANGE 0x1u /* compute only rows [row_begin, row_end) */

typedef struct bitnet_gemm_options {
  uint32_t struct_size;         /* sizeof(bitnet_gemm_options) as the caller compiled it */
  uint32_t flags;               /* BITNET_GEMM_* */
  bitnet_cpu_target cpu_target; /* one BITNET_CPU_* bit, or AUTO */
  int32_t n_threads;            /* threads splitting the output rows; 0 or 1: the caller's only */
  bitnet_type x_type;           /* bitnet_gemm's x: F32 (0, default), F16 or BF16 elements */
  int32_t reserved;             /* 0 */
  /* With BITNET_GEMM_ROW_RANGE: 0 <= row_begin <= row_end <= rows; only
   * y[b*M + r] for r in the range are written (callers with their own
   * thread pools split M with it; any split gives the same bits). */
  int64_t row_begin;
  int64_t row_end;
} bitnet_gemm_options;

#define BITNET_GEMM_OPTIONS_INIT \
  { (uint32_t)sizeof(bitnet_gemm_options), 0u, 0u, 0, BITNET_TYPE_F32, 0, 0, 0 }
/* The same defaults for languages without the macro; struct_size as compiled. */
BITNET_API int bitnet_gemm_options_init(bitnet_gemm_options* options, size_t struct_size);

/* y = x . W^T. w: the tensor (w_len its exact byte size, bitnet_tensor_size);
 * x: batch rows of cols elements of options->x_type (F32 unless set, then
 * aligned to its element); y: batch rows of `rows` floats. rows, cols: the
 * shape the tensor API accepts for w_type (TQ: cols % 256, Q2_0: cols % 64,
 * I2_S: rows*cols % 128 and cols <= 5592404). batch 0 succeeds and writes
 * nothing. y must not overlap w or x. options NULL: defaults, 1 thread. */
BITNET_API int bitnet_gemm(bitnet_type w_type, const void* w, size_t w_len, int64_t rows,
                           int64_t cols, const float* x, int64_t batch, float* y,
                           const bitnet_gemm_options* options);

/* The activation type w_type's product takes: BITNET_TYPE_I8_S for I2_S,
 * Q8_K for TQ1_0 and TQ2_0, Q8_0 for Q2_0. */
BITNET_API int bitnet_gemm_act_type(bitnet_type w_type, bitnet_type* act_type);

/* Activations quantized once for several products (Q, K and V share their
 * input). I2_S with bitnet_quantize_i8s's output: q (batch x cols int8),
 * scales and sums (one per token). */
BITNET_API int bitnet_gemm_i8s(const void* w, size_t w_len, int64_t rows, int64_t cols,
                               const int8_t* q, const float* scales, const int32_t* sums,
                               int64_t batch, float* y, const bitnet_gemm_options* options);
/* TQ1_0 / TQ2_0 with Q8_K blocks, Q2_0 with Q8_0 blocks: xq holds batch rows
 * of cols as bitnet_tensor_quantize(BITNET_TYPE_Q8_K or _Q8_0) writes them;
 * xq_len is its exact size. Block sums inside Q8_K are not read (ggml's
 * generic dots do not read them either). */
BITNET_API int bitnet_gemm_blocks(bitnet_type w_type, const void* w, size_t w_len, int64_t rows,
                                  int64_t cols, const void* xq, size_t xq_len, int64_t batch,
                                  float* y, const bitnet_gemm_options* options);

/* ==== experimental: not frozen, not in the ABI promise ==================== */
/* Define BITNET_QUANT_EXPERIMENTAL before including this header to use what
 * follows (as zstd's ZSTD_STATIC_LINKING_ONLY). These declarations may
 * change or go in any release; a program that uses them must be rebuilt
 * against the header of the library it loads. The ABI check
 * (abi/check_abi.sh) leaves them out. */
#ifdef BITNET_QUANT_EXPERIMENTAL

/* ---- CUDA backend ---------------------------------------------------------- */
/* Present in every build; a library built without CUDA, or a machine with no
 * driver or no GPU, reports 0 devices and BITNET_E_DEVICE_UNAVAILABLE. A
 * build with CUDA stays loaded after dlclose (linked -z nodelete: the CUDA
 * runtime it holds cannot be unloaded and loaded again without leaking). */

/* Number of CUDA devices this library can see (0 when none or no driver). */
BITNET_API int bitnet_cuda_device_count(void);

typedef struct bitnet_cuda_device_info {
  uint32_t struct_size; /* sizeof(bitnet_cuda_device_info) as the caller compiled it */
  char name[256];
  int32_t compute_major; /* compute capability */
  int32_t compute_minor;
  int32_t multiprocessor_count;
  int32_t usable;        /* 1: this library's kernels run on the device */
  uint64_t total_memory; /* bytes */
  uint64_t free_memory;  /* bytes free at the time of the query */
  int32_t supports_fp16; /* half-precision arithmetic (compute capability >= 5.3) */
  int32_t supports_bf16; /* bfloat16 arithmetic (compute capability >= 8.0) */
} bitnet_cuda_device_info;

/* Fills *info for device `device_index`. BITNET_E_DEVICE_UNAVAILABLE (with
 * the reason in bitnet_last_error()) when there is no such device. */
BITNET_API int bitnet_cuda_get_device_info(int device_index, bitnet_cuda_device_info* info);

/* Device-pointer entry points: the same checks and results as
 * bitnet_quantize / bitnet_dequantize, on buffers in GPU memory (device or
 * managed allocations, any sub-range of them), enqueued on `stream` (a
 * cudaStream_t; NULL is the legacy default stream) of the GPU that
 * options->device_index names. options->device must be AUTO or CUDA and
 * options->cpu_target AUTO; strict mode does not matter because these calls
 * never fall back to the CPU.
 * They return once the work is enqueued: read the outputs after the stream
 * has synchronized. Errors the kernels hit while running surface at that
 * synchronization, as CUDA reports them.
 * Exception: I2_S quantize must write nothing when the input holds no
 * finite element. Its kernel writes the blocks of every warp that sees a
 * finite element among its own (128 to 2048 elements, in runs of at least
 * 128) and holds back the others; it synchronizes `stream` once and returns
 * with the outputs complete. Only an input holding runs of 128 or more
 * non-finite elements may cost more: a probe of the whole input and a
 * second pass, with two more synchronizations; on a stream being captured
 * into a graph it fails with BITNET_E_INVALID_ARGUMENT, touching nothing.
 * What is checked: NULL, lengths (as capacities / exact counts like the host
 * functions), float alignment, overlap of the address ranges, and that
 * every pointer is memory the device can access (cudaPointerGetAttributes)
 * and the stream belongs to the device; whether an allocation really
 * extends over the whole length cannot be. On a stream being captured the
 * last two are not checked (CUDA ends a capture with an error on those
 * queries): a wrong pointer or stream fails when the graph runs. */
BITNET_API int bitnet_cuda_quantize(bitnet_format format, const bitnet_quant_options* options,
                                    const float* d_input, size_t n, uint8_t* d_packed,
                                    size_t packed_len, float* d_scales, size_t scales_len,
                                    void* stream);
BITNET_API int bitnet_cuda_dequantize(bitnet_format format, const bitnet_quant_options* options,
                                      const uint8_t* d_packed, size_t packed_len,
                                      const float* d_scales, size_t scales_len, float* d_output,
                                      size_t n, void* stream);
/* bitnet_cpp_quantize's kernel family (fixed blocks
 * BITNET_*_DEFAULT_BLOCK_SIZE, scale absmax/1.5) on device pointers; options->block_size must be 0 or the
 * format's fixed block. Fully asynchronous. */
BITNET_API int bitnet_cuda_kernel_quantize(bitnet_format format,
                                           const bitnet_quant_options* options,
                                           const float* d_input, size_t n, uint8_t* d_packed,
                                           size_t packed_len, float* d_scales,
                                           size_t scales_len, void* stream);

/* ---- CUDA: tensor layouts and ternary products on device pointers ------- */

/* bitnet_tensor_quantize / _dequantize / _transcode on buffers in the memory
 * of GPU device_index (device, managed or mapped pinned memory, any
 * sub-range: layout buffers at any byte offset, element buffers aligned to
 * their element), enqueued on `stream` (a cudaStream_t of that GPU; NULL:
 * its legacy default stream). The results are the CPU's bit for bit: the
 * same bytes, scales and I2_S tail, and for NaN inputs the bits the scalar
 * reference gives on an x86-64 host.
 * Types: quantize F32, F16 or BF16 into F32, F16, BF16, TQ1_0, TQ2_0, Q2_0,
 * Q8_0, Q8_K or I2_S; dequantize any of those or IQ2_S into F32, F16 or
 * BF16; transcode between I2_S, TQ1_0, TQ2_0 and Q2_0. HF_BITNET and
 * BITNET_RS_I2S (BITNET_E_INVALID_TYPE) and absmean ternarization
 * (options->ternarize, BITNET_E_INVALID_OPTIONS) are CPU-only.
 * options: NULL or as for the CPU calls (cpu_target and n_threads unused).
 * Quantize and dequantize return once their kernels are enqueued (I2_S
 * quantize: two, the first reducing the tensor scale on the device): read
 * the output after the stream has synchronized; they may be captured into
 * a CUDA graph. Transcode checks the whole source before writing (a value
 * the target cannot hold, disagreeing or non-finite scales, a scale the
 * target cannot hold exactly), so it synchronizes the stream once, between
 * its checking and its writing kernels, and cannot be captured (on a
 * capturing stream: BITNET_E_INVALID_ARGUMENT, nothing enqueued).
 * Arguments are checked as by the CPU calls before any device is touched;
 * then BITNET_E_DEVICE_UNAVAILABLE when GPU device_index cannot run the
 * call, BITNET_E_INVALID_ARGUMENT for a buffer that GPU cannot access or a
 * stream of another device (neither checked on a capturing stream, as
 * above). The lengths are trusted: whether an allocation really extends
 * that far cannot be checked. */
BITNET_API int bitnet_cuda_tensor_quantize(bitnet_type dst_type, const bitnet_tensor_options* options,
                                           bitnet_type src_type, const void* d_src, int64_t rows,
                                           int64_t cols, void* d_dst, size_t dst_len,
                                           int device_index, void* stream);
BITNET_API int bitnet_cuda_tensor_dequantize(bitnet_type src_type,
                                             const bitnet_tensor_options* options,
                                             const void* d_src, size_t src_len, int64_t rows,
                                             int64_t cols, bitnet_type dst_type, void* d_dst,
                                             size_t dst_len, int device_index, void* stream);
BITNET_API int bitnet_cuda_tensor_transcode(bitnet_type dst_type,
                                            const bitnet_tensor_options* options,
                                            bitnet_type src_type, const void* d_src,
                                            size_t src_len, int64_t rows, int64_t cols,
                                            void* d_dst, size_t dst_len, int device_index,
                                            void* stream);

/* y[N x M] = x[N x K] . W^T on the GPU for a weight tensor W (M rows of K)
 * in I2_S, TQ1_0, TQ2_0 or Q2_0, with the activations quantized on the
 * device by the rule of the layout's reference engine and every product
 * bit for bit the CPU's bitnet_gemm: bitnet.cpp's quantize_row_i8_s per
 * token for I2_S and the epilogue ((float)S - (float)act_sum) / act_scale *
 * w_scale; ggml's Q8_K (TQ1_0, TQ2_0) or Q8_0 (Q2_0) per token and the
 * generic dots of ggml v0.5.0: exact int32 block sums, each converted to
 * float, scaled and added in block order. NaN results may differ from the
 * CPU's in their payload bits.
 * A handle holds W in this library's GPU layout: prepared once (w in host
 * or device memory, as the tensor API writes it, w_len its exact size;
 * rows and cols as bitnet_tensor_size accepts them for w_type, I2_S cols at
 * most 5592404), used by any number of calls, freed with
 * bitnet_cuda_gemm_free. Prepare reads w on the GPU's legacy default stream,
 * as a synchronous cudaMemcpy would: after the work queued there and on
 * the blocking streams (a w that a non-blocking stream writes must be
 * synchronized first); it returns with the handle ready. It needs about
 * rows * cols / 4 bytes of GPU memory, plus a workspace of about 512 * cols
 * * 1.1 bytes for batches above 8. */
typedef struct bitnet_cuda_gemm_weights bitnet_cuda_gemm_weights;
BITNET_API int bitnet_cuda_gemm_prepare(bitnet_type w_type, const void* w, size_t w_len,
                                        int64_t rows, int64_t cols, int device_index,
                                        bitnet_cuda_gemm_weights** weights);
/* Frees prepared weights (NULL: nothing); no call using them may still run. */
BITNET_API void bitnet_cuda_gemm_free(bitnet_cuda_gemm_weights* weights);
/* d_x: batch rows of cols elements of x_type (F32, F16 or BF16, aligned to
 * the element); d_y: batch rows of `rows` floats (y[b*rows + r]); both in
 * memory of the handle's GPU, not overlapping. Enqueued on `stream` (of
 * that GPU) with no host synchronization and no allocation: capturable into
 * a CUDA graph. A batch of up to 8 tokens is one kernel that quantizes the
 * activations itself; larger batches quantize into the handle's workspace
 * first, so two such calls with one handle must not run at the same time
 * (order them on one stream). batch 0 succeeds and writes nothing. */
BITNET_API int bitnet_cuda_gemm(bitnet_cuda_gemm_weights* weights, bitnet_type x_type,
                                const void* d_x, int64_t batch, float* d_y, void* stream);
/* Several products of one batch size in one launch (batch <= 8; larger
 * batches run one after the other): e.g. the projections of a layer. All
 * handles on one GPU with weights of one activation rule (I2_S; TQ1_0 or
 * TQ2_0; Q2_0); x may be shared between jobs. At most 64 jobs. Every job's
 * weights are checked before any buffer. */
typedef struct bitnet_cuda_gemm_job {
  bitnet_cuda_gemm_weights* weights;
  const void* d_x;
  float* d_y;
} bitnet_cuda_gemm_job;
BITNET_API int bitnet_cuda_gemm_multi(const bitnet_cuda_gemm_job* jobs, int count,
                                      bitnet_type x_type, int64_t batch, void* stream);

#endif /* BITNET_QUANT_EXPERIMENTAL */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BITNET_QUANT_H */
