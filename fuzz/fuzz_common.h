/* Shared by the libFuzzer harnesses: reading the fuzz input, poisoned
 * buffers, decoding options, and the checks every call must pass. A failed
 * check prints why and aborts, which libFuzzer reports as a crash. */
#ifndef BITNET_FUZZ_COMMON_H
#define BITNET_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet_quant.h"

/* Bytes after every output buffer that must stay poisoned. */
#define FUZZ_GUARD 16
#define FUZZ_POISON 0xA5
/* Largest element count the harnesses allocate for. */
#define FUZZ_MAX_N 65536

typedef struct fuzz_input {
  const uint8_t* data;
  size_t size;
} fuzz_input;

/* Consume from the front; 0 when the input is exhausted. */
uint8_t take_u8(fuzz_input* in);
uint32_t take_u32(fuzz_input* in);

/* Aborts with the message when cond is false. */
void require(int cond, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* malloc(bytes + FUZZ_GUARD), filled with FUZZ_POISON. */
void* poisoned(size_t bytes);
/* 1 when `bytes` bytes from p are all FUZZ_POISON. */
int untouched(const void* p, size_t bytes);
/* Bitwise equality of floats, NaN sign, quiet bit and payload included. */
int same_floats(const float* a, const float* b, size_t n);
/* The products' equality: equal bits, or NaN both. */
int same_results(const float* a, const float* b, size_t n);
/* Makes NaNs common: every float whose low mantissa byte is below 0x40
 * gets an all-ones exponent, so it becomes a NaN with its own payload,
 * signalling or quiet, either sign (or +-Inf when the mantissa is 0). */
void inject_nans(float* x, size_t n);

/* Status is 0 or one of the documented BITNET_E_* codes, and a failure left
 * a message. */
void require_documented(int status, const char* call);

/* Options decoded from the input: mostly valid, sometimes any bit pattern.
 * *use_options is 0 for a NULL options pointer. */
void take_options(fuzz_input* in, bitnet_quant_options* options, int* use_options);
/* A format: mostly 0..2, sometimes any int32. */
bitnet_format take_format(fuzz_input* in);
/* Whether bitnet_quant_buffer_sizes accepts these format/options (it reads
 * format, struct_size and block_size only), and the block size. */
int sizes_valid(bitnet_format format, const bitnet_quant_options* options, size_t* block);
/* Whether a call of at most FUZZ_MAX_N elements with these format/options
 * gets past format and options validation (1 yes, 0 no, -1 cannot tell:
 * device CUDA with a usable GPU), and its block size. */
int options_valid(bitnet_format format, const bitnet_quant_options* options, size_t* block);
/* One supported target, picked by a byte. */
bitnet_cpu_target take_supported_target(fuzz_input* in);

size_t ceil_div(size_t a, size_t b);

#endif /* BITNET_FUZZ_COMMON_H */
