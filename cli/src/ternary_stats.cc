#include "ternary_stats.h"

#include <array>
#include <cmath>
#include <limits>

#include "byte_order.h"
#include "float_formats.h"

namespace bitnet_cli {
namespace {

// Per byte value: how many of its four 2-bit fields hold code 0, 1, 2, 3.
struct TwoBitTable {
  std::array<std::array<uint8_t, 4>, 256> counts{};
  constexpr TwoBitTable() {
    for (int b = 0; b < 256; ++b) {
      for (int f = 0; f < 4; ++f) ++counts[b][(b >> (2 * f)) & 3];
    }
  }
};
constexpr TwoBitTable kTwoBit;

// TQ1_0: a byte holds 5 (qs) or 4 (qh) base-3 digits; the encoder writes
// ceil(v * 256 / 243) for the digits' value v (qh: v * 3, a zero digit
// appended), so only 243 (qs) and 81 (qh) byte values occur. Digit n of
// byte q is ((uint8)(q * 3^n) * 3) >> 8 (ggml's dequantize_row_tq1_0).
struct TritTable {
  std::array<std::array<uint8_t, 3>, 256> qs_counts{};
  std::array<std::array<uint8_t, 3>, 256> qh_counts{};
  std::array<bool, 256> qs_valid{};
  std::array<bool, 256> qh_valid{};
  constexpr TritTable() {
    constexpr uint8_t pow3[5] = {1, 3, 9, 27, 81};
    for (int q = 0; q < 256; ++q) {
      for (int n = 0; n < 5; ++n) {
        const int digit = (static_cast<uint8_t>(q * pow3[n]) * 3) >> 8;
        ++qs_counts[q][digit];
        if (n < 4) ++qh_counts[q][digit];
      }
    }
    for (int v = 0; v < 243; ++v) qs_valid[(v * 256 + 242) / 243] = true;
    for (int v = 0; v < 81; ++v) qh_valid[(v * 3 * 256 + 242) / 243] = true;
  }
};
constexpr TritTable kTrits;

class Collector {
 public:
  explicit Collector(TensorStats& stats) : s_(stats) {}

  void scale(float d, uint64_t block) {
    ++s_.scales;
    if (!std::isfinite(d)) {
      ++s_.nonfinite_scales;
      fault("block " + std::to_string(block) + " has a non-finite scale (" + std::to_string(d) + ")");
      return;
    }
    if (std::signbit(d) && d != 0.0f) {
      ++s_.negative_scales;
      fault("block " + std::to_string(block) + " has a negative scale (" + std::to_string(d) + ")");
    }
    if (finite_ == 0 || d < s_.scale_min) s_.scale_min = d;
    if (finite_ == 0 || d > s_.scale_max) s_.scale_max = d;
    ++finite_;
  }

  // Codes 0, 1, 2 mean -1, 0, +1 in every 2-bit layout here.
  void two_bit_byte(uint8_t byte) {
    const auto& c = kTwoBit.counts[byte];
    s_.minus += c[0];
    s_.zero += c[1];
    s_.plus += c[2];
    s_.invalid_codes += c[3];
  }

  void fault(const std::string& what) {
    if (s_.first_fault.empty()) s_.first_fault = what;
  }

 private:
  TensorStats& s_;
  uint64_t finite_ = 0;
};

// The element a 2-bit field of a block holds, per layout (the field's bit
// position is 2·field).
int64_t tq2_element(uint64_t byte, int64_t field) {  // qs byte 0..63
  return 128 * static_cast<int64_t>(byte / 32) + 32 * field + static_cast<int64_t>(byte % 32);
}
int64_t q2_element(uint64_t byte, int64_t field) { return 4 * static_cast<int64_t>(byte) + field; }  // qs 0..15
int64_t i2s_element(uint64_t byte, int64_t field) {  // byte 0..31 of a 128-block
  return 32 * (3 - field) + static_cast<int64_t>(byte);
}

// Names the first code-3 field of a block whose codes start at `codes`.
template <typename ElementOf>
void name_code3(Collector& c, const uint8_t* codes, uint64_t n_bytes, uint64_t block, int64_t block_elements,
                ElementOf element_of) {
  for (uint64_t b = 0; b < n_bytes; ++b) {
    for (int f = 0; f < 4; ++f) {
      if (((codes[b] >> (2 * f)) & 3) == 3) {
        c.fault("element " + std::to_string(static_cast<int64_t>(block) * block_elements + element_of(b, f)) +
                " (block " + std::to_string(block) + ") has code 3, which no ternary encoder writes");
        return;
      }
    }
  }
}

bool has_code3(const uint8_t* codes, uint64_t n) {
  for (uint64_t b = 0; b < n; ++b) {
    if (kTwoBit.counts[codes[b]][3] != 0) return true;
  }
  return false;
}

void tq2_0(Collector& c, const uint8_t* data, uint64_t blocks) {
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint8_t* block = data + 66 * i;
    for (int b = 0; b < 64; ++b) c.two_bit_byte(block[b]);
    if (has_code3(block, 64)) name_code3(c, block, 64, i, 256, tq2_element);
    c.scale(half_to_float(load_le<uint16_t>(block + 64)), i);
  }
}

void q2_0(Collector& c, const uint8_t* data, uint64_t blocks) {
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint8_t* block = data + 18 * i;
    c.scale(half_to_float(load_le<uint16_t>(block)), i);
    for (int b = 0; b < 16; ++b) c.two_bit_byte(block[2 + b]);
    if (has_code3(block + 2, 16)) name_code3(c, block + 2, 16, i, 64, q2_element);
  }
}

void tq1_0(TensorStats& s, Collector& c, const uint8_t* data, uint64_t blocks) {
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint8_t* block = data + 54 * i;
    for (int b = 0; b < 52; ++b) {
      const uint8_t q = block[b];
      const bool qh = b >= 48;
      const auto& counts = qh ? kTrits.qh_counts[q] : kTrits.qs_counts[q];
      s.minus += counts[0];
      s.zero += counts[1];
      s.plus += counts[2];
      if (!(qh ? kTrits.qh_valid[q] : kTrits.qs_valid[q])) {
        ++s.invalid_codes;
        c.fault("block " + std::to_string(i) + " byte " + std::to_string(b) + " is " + std::to_string(q) +
                ", a value the TQ1_0 encoder never writes");
      }
    }
    c.scale(half_to_float(load_le<uint16_t>(block + 52)), i);
  }
}

void i2_s(Collector& c, const uint8_t* data, uint64_t elements) {
  const uint64_t blocks = elements / 128;
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint8_t* block = data + 32 * i;
    for (int b = 0; b < 32; ++b) c.two_bit_byte(block[b]);
    if (has_code3(block, 32)) name_code3(c, block, 32, i, 128, i2s_element);
  }
  c.scale(load_le<float>(data + elements / 4), 0);  // the tail's first 4 bytes; the other 28 mean nothing
}

// TL1: one nibble per pair of weights, index 3·w0 + w1 + 4 in 0..8; the
// byte order depends on tile parameters, the counts do not.
void tl1(TensorStats& s, Collector& c, const uint8_t* data, uint64_t elements) {
  const uint64_t bytes = elements / 4;
  for (uint64_t b = 0; b < bytes; ++b) {
    for (int nibble : {data[b] >> 4, data[b] & 15}) {
      if (nibble > 8) {
        ++s.invalid_codes;
        c.fault("byte " + std::to_string(b) + " holds pair index " + std::to_string(nibble) + " (0..8 allowed)");
        continue;
      }
      for (int w : {nibble / 3, nibble % 3}) {
        if (w == 0) ++s.minus;
        else if (w == 1) ++s.zero;
        else ++s.plus;
      }
    }
  }
  c.scale(load_le<float>(data + bytes), 0);
}

template <typename Load>
void float_values(TensorStats& s, const uint8_t* data, uint64_t count, uint64_t width, Load load) {
  for (uint64_t i = 0; i < count; ++i) {
    if (!std::isfinite(load(data + i * width))) {
      if (s.nonfinite_values == 0) s.first_fault = "element " + std::to_string(i) + " is not finite";
      ++s.nonfinite_values;
    }
  }
}

}  // namespace

TensorStats tensor_stats(const TypeInfo& type, const uint8_t* data, uint64_t size, const int64_t ne[4]) {
  TensorStats s;
  Collector c(s);
  const auto elements = static_cast<uint64_t>(ne[0] * ne[1] * ne[2] * ne[3]);
  s.ternary = type.ternary != TernaryLayout::kNone;
  switch (type.ternary) {
    case TernaryLayout::kTq2_0:
      tq2_0(c, data, size / 66);
      break;
    case TernaryLayout::kTq1_0:
      tq1_0(s, c, data, size / 54);
      break;
    case TernaryLayout::kQ2_0:
      q2_0(c, data, size / 18);
      break;
    case TernaryLayout::kI2s:
      if (elements % 128 != 0) {
        c.fault("I2_S holds whole 128-element blocks, but the tensor has " + std::to_string(elements) + " elements");
      } else {
        i2_s(c, data, elements);
      }
      break;
    case TernaryLayout::kTl1:
      if (elements % 4 != 0) {
        c.fault("TL1 holds pairs of pairs, but the tensor has " + std::to_string(elements) + " elements");
      } else {
        tl1(s, c, data, elements);
      }
      break;
    case TernaryLayout::kNone:
      switch (type.id) {
        case 0:
          float_values(s, data, size / 4, 4, [](const uint8_t* p) { return load_le<float>(p); });
          break;
        case 1:
          float_values(s, data, size / 2, 2, [](const uint8_t* p) { return half_to_float(load_le<uint16_t>(p)); });
          break;
        case 30:
          float_values(s, data, size / 2, 2, [](const uint8_t* p) { return bf16_to_float(load_le<uint16_t>(p)); });
          break;
        default:
          break;  // other quantized types: sizes and offsets only
      }
      break;
  }
  if (s.ternary && s.invalid_codes > 0 && s.first_fault.empty()) {
    s.first_fault = std::to_string(s.invalid_codes) + " codes no encoder writes";
  }
  return s;
}

}  // namespace bitnet_cli
