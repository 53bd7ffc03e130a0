/* A program that knows bitnet_quant only as an installed package: it
 * quantizes eight values to I2_S and checks the result worked out by hand
 * from the format (docs/formats.md). Built twice by run_consumers.sh:
 * with pkg-config and with find_package(BitnetQuant). */
#include <stdio.h>
#include <string.h>

#include <bitnet_quant.h>

int main(void) {
  /* One block of 32; scale = max |x| = 2. Codes are round(x/2) + 2, half
   * away from zero: 1, -1, 0.2, -0.2, 0.6, -0.8, 0, 0.7 -> 3 1 2 2 3 1 2 3,
   * two bits each, least significant first. */
  const float input[8] = {2.0f, -2.0f, 0.4f, -0.4f, 1.2f, -1.6f, 0.0f, 1.4f};
  const uint8_t want_packed[2] = {0xA7, 0xE7};
  const float want_values[8] = {2.0f, -2.0f, 0.0f, 0.0f, 2.0f, -2.0f, 0.0f, 2.0f};
  uint8_t packed[2];
  float scale, values[8];
  int status, failures = 0;

  if (bitnet_version_number() != BITNET_QUANT_VERSION_NUMBER) {
    fprintf(stderr, "library version %u, header %u\n", bitnet_version_number(),
            (unsigned)BITNET_QUANT_VERSION_NUMBER);
    ++failures;
  }
  status = bitnet_quantize_i2s(input, 8, packed, sizeof(packed), &scale, 1);
  if (status != BITNET_OK || memcmp(packed, want_packed, sizeof(packed)) != 0 || scale != 2.0f) {
    fprintf(stderr, "quantize: status %d, packed %02x %02x, scale %g\n", status, packed[0],
            packed[1], scale);
    ++failures;
  }
  status = bitnet_dequantize_i2s(packed, sizeof(packed), &scale, 1, values, 8);
  if (status != BITNET_OK || memcmp(values, want_values, sizeof(values)) != 0) {
    fprintf(stderr, "dequantize: status %d\n", status);
    ++failures;
  }
  printf("consumer of bitnet_quant %s: %s\n", bitnet_version_string(),
         failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
