// BitNet b1.58's absmean ternarization as the reference converters compute
// it (bitnet.cpp's convert-hf-to-gguf-bitnet.py and mainline's
// convert_hf_to_gguf.py, weight_quant, torch float32):
//   m = mean|w| over a unit, s = 1 / max(m, 1e-5) (f32), q = clamp(round_half_even(w*s), -1, 1)
// and the value q / s. Here q = sign(w) where |w*s| > threshold (0.5 gives
// exactly the rounding and clamp above), alpha = 1/s, value q * alpha.
#ifndef BITNET_FORMATS_ABSMEAN_H_
#define BITNET_FORMATS_ABSMEAN_H_

#include <cstddef>
#include <cstdint>

namespace bitnet {

// The mean's fixed summation order: a unit is cut into chunks of
// kAbsSumChunk elements from its start; in a chunk, element i adds (in
// double, in order) to partial sum i % kAbsSumLanes; the partials are
// folded by halves (p[i] += p[i + 8], then + 4, + 2, + 1); chunk sums are
// added in chunk order. Every target and thread count gives these bits.
constexpr size_t kAbsSumChunk = 65536;
constexpr size_t kAbsSumLanes = 16;


// s from the sum of |w| over n elements: 1 / max((float)(sum / n), 1e-5f).
float AbsmeanInverseScale(double abs_sum, size_t n);

// Codes of n weights: +-1 where |x * s| > threshold, else 0.
void TernarizeCodes(const float* x, size_t n, float s, float threshold, int8_t* q);

// Values of n weights: q * alpha, and where q is 0 a zero with the sign of
// x (the converters' round keeps it: round(-0.3) is -0.0).
void TernaryValues(const float* x, size_t n, float s, float threshold, float alpha, float* v);

// What a scan of a unit's part found: whether every value is 0 or +-a for
// the part's first non-zero magnitude a (0 when all are 0), and whether all
// are finite. Parts merge in order.
struct TernaryScan {
  bool finite;
  bool ternary;
  float magnitude;  // a; 0 when the part is all zeros
};
TernaryScan ScanTernary(const float* x, size_t n);
TernaryScan MergeScans(TernaryScan first, TernaryScan second);

// One chunk (n <= kAbsSumChunk): the sum of |x| in the order above, and
// its ternary scan.
double AbsScanChunk(const float* x, size_t n, TernaryScan* scan);

constexpr float kDefaultThreshold = 0.5f;

}  // namespace bitnet

#endif  // BITNET_FORMATS_ABSMEAN_H_
