#include "formats/absmean.h"

#include <cmath>

namespace bitnet {

double AbsScanChunk(const float* x, size_t n, TernaryScan* scan) {
  *scan = ScanTernary(x, n);
  double partial[kAbsSumLanes] = {};
  for (size_t i = 0; i < n; ++i) partial[i % kAbsSumLanes] += std::fabs(static_cast<double>(x[i]));
  for (size_t half = kAbsSumLanes / 2; half > 0; half /= 2) {
    for (size_t i = 0; i < half; ++i) partial[i] += partial[i + half];
  }
  return partial[0];
}

float AbsmeanInverseScale(double abs_sum, size_t n) {
  const float mean = n != 0 ? static_cast<float>(abs_sum / static_cast<double>(n)) : 0.0f;
  const float floor = 1e-5f;  // torch: .clamp(min=1e-5) on a float32 tensor
  return 1.0f / (mean > floor ? mean : floor);
}

void TernarizeCodes(const float* x, size_t n, float s, float threshold, int8_t* q) {
  for (size_t i = 0; i < n; ++i) {
    const float y = x[i] * s;
    q[i] = static_cast<int8_t>(std::fabs(y) > threshold ? (y > 0.0f ? 1 : -1) : 0);
  }
}

void TernaryValues(const float* x, size_t n, float s, float threshold, float alpha, float* v) {
  for (size_t i = 0; i < n; ++i) {
    const float y = x[i] * s;
    v[i] = std::fabs(y) > threshold ? std::copysign(alpha, y) : std::copysign(0.0f, x[i]);
  }
}

TernaryScan ScanTernary(const float* x, size_t n) {
  TernaryScan scan{true, true, 0.0f};
  for (size_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (!std::isfinite(a)) {
      scan.finite = false;
      scan.ternary = false;
    } else if (a != 0.0f) {
      if (scan.magnitude == 0.0f) scan.magnitude = a;
      if (a != scan.magnitude) scan.ternary = false;
    }
  }
  return scan;
}

TernaryScan MergeScans(TernaryScan first, TernaryScan second) {
  TernaryScan merged{first.finite && second.finite, first.ternary && second.ternary,
                     first.magnitude != 0.0f ? first.magnitude : second.magnitude};
  if (first.magnitude != 0.0f && second.magnitude != 0.0f && first.magnitude != second.magnitude) {
    merged.ternary = false;
  }
  return merged;
}

}  // namespace bitnet
