// The per-lane rules of the CUDA tensor kernels (cuda/lane_codes.h), run on
// the CPU as the kernels' lanes run them (a warp takes 256 elements, lane l
// its elements 8l .. 8l+7), against the library's reference target and the
// scalar MapCode: every code of arbitrary blocks, and decodes of arbitrary
// bytes (every kind of scale: NaN, Inf, subnormal, zero) into F32, F16 and
// BF16, bit for bit. Needs no GPU: this is what a GPU run cannot show
// before it runs.
#include <cstdint>
#include <cstring>
#include <vector>

#include "../cuda/lane_codes.h"

extern "C" {
#include "test_util.h"
}

namespace {

using bitnet::LayoutId;
using bitnet::LayoutOf;

const uint16_t kIq2sGrid[1024] = {
#include "formats/iq2s_grid.inc"
};

constexpr unsigned kGroup = 256;  // elements of a warp

// n elements of layout t as arbitrary bytes, with block scales of every
// kind every other block and an I2_S tail of one such scale.
std::vector<uint8_t> ArbitraryTensor(LayoutId t, size_t n, uint64_t seed) {
  static const uint16_t kHalves[] = {0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE55, 0x0001, 0x8000,
                                     0x0000, 0x3C00, 0x7BFF, 0x2E66, 0xB800};
  static const uint32_t kFloats[] = {0x3DCCCCCDu, 0x7F800000u, 0x7FC00001u, 0x00000001u,
                                     0x80000000u, 0x3F800000u, 0xBF000000u, 0xFFC00123u};
  const auto& l = LayoutOf(t);
  const size_t blocks = n / static_cast<size_t>(l.block_elements);
  std::vector<uint8_t> bytes(blocks * l.block_bytes + l.tail_bytes);
  uint64_t s = seed;
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng_next(&s));
  if (l.scale == bitnet::ScaleKind::kTensorF32) {
    std::memcpy(&bytes[blocks * l.block_bytes], &kFloats[seed % 8], 4);
  } else if (l.scale == bitnet::ScaleKind::kBlockF16) {
    for (size_t b = 0; b < blocks; b += 2) {
      std::memcpy(&bytes[b * l.block_bytes + l.scale_offset], &kHalves[(b / 2 + seed) % 12], 2);
    }
  }
  return bytes;
}

bitnet_tensor_options ReferenceOptions() {
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.cpu_target = BITNET_CPU_REFERENCE;
  return o;
}

// Every lane's codes of every block of arbitrary bytes against MapCode.
template <LayoutId kId>
void CheckLaneCodes() {
  const auto& l = LayoutOf(kId);
  const unsigned block = static_cast<unsigned>(l.block_elements);
  const std::vector<uint8_t> bytes = ArbitraryTensor(kId, 64 * kGroup, 11 + static_cast<unsigned>(kId));
  long wrong = 0;
  for (size_t b = 0; b < 64 * kGroup / block; ++b) {
    const uint8_t* p = &bytes[b * l.block_bytes];
    for (unsigned j0 = 0; j0 < block; j0 += 8) {
      unsigned codes[8];
      bitnet::cuda::LaneCodes<kId>(p, j0, codes);
      for (unsigned i = 0; i < 8; ++i) wrong += codes[i] != bitnet::MapCode(l.codes, p, j0 + i);
    }
  }
  check(wrong == 0, "LaneCodes %s: %ld codes differ from MapCode", l.name, wrong);
}

// The decode of arbitrary bytes as the kernel's lanes do it, against the
// reference target's bitnet_tensor_dequantize.
template <LayoutId kSrc, LayoutId kDst>
void CheckDecode(size_t n) {
  const auto& s = LayoutOf(kSrc);
  const auto& d = LayoutOf(kDst);
  const unsigned block = static_cast<unsigned>(s.block_elements);
  const size_t group_bytes = kGroup / block * s.block_bytes;
  const size_t element = d.block_bytes;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const std::vector<uint8_t> in = ArbitraryTensor(kSrc, n, seed * 977 + static_cast<unsigned>(kSrc));
    std::vector<uint8_t> want(n * element), got(n * element, 0xA5);
    const bitnet_tensor_options o = ReferenceOptions();
    if (!check(bitnet_tensor_dequantize(s.type, &o, in.data(), in.size(), 1, static_cast<int64_t>(n), d.type,
                                        want.data(), want.size()) == BITNET_OK,
               "reference decode %s: %s", s.name, bitnet_last_error())) {
      return;
    }
    float tensor_scale = 0.0f;
    if (s.scale == bitnet::ScaleKind::kTensorF32) std::memcpy(&tensor_scale, &in[n / 4], 4);
    for (size_t g = 0; g * kGroup < n; ++g) {
      const size_t len = n - g * kGroup < kGroup ? n - g * kGroup : kGroup;
      const uint8_t* bytes = &in[g * group_bytes];
      for (unsigned lane = 0; lane < 32; ++lane) {
        const unsigned e = 8 * lane;
        if (e >= len) continue;
        uint32_t bits[8];
        bitnet::cuda::DecodeLane<kSrc, kDst>(bytes + (e / block) * s.block_bytes, e % block, tensor_scale,
                                             kIq2sGrid, bits);
        for (unsigned i = 0; i < 8; ++i) std::memcpy(&got[(g * kGroup + e + i) * element], &bits[i], element);
      }
    }
    const long diff = first_byte_diff(got.data(), want.data(), got.size());
    uint32_t got_bits = 0, want_bits = 0;
    if (diff >= 0) {
      const size_t at = static_cast<size_t>(diff) / element * element;
      std::memcpy(&got_bits, &got[at], element);
      std::memcpy(&want_bits, &want[at], element);
    }
    check(diff < 0, "DecodeLane %s -> %s (seed %u): element %ld is 0x%x, reference 0x%x", s.name, d.name,
          static_cast<unsigned>(seed), diff < 0 ? -1L : diff / static_cast<long>(element), got_bits, want_bits);
  }
}

template <LayoutId kSrc>
void CheckDecodes(size_t n) {
  CheckDecode<kSrc, LayoutId::kF32>(n);
  CheckDecode<kSrc, LayoutId::kF16>(n);
  CheckDecode<kSrc, LayoutId::kBF16>(n);
}

}  // namespace

int main() {
  for (unsigned byte = 0; byte < 256; ++byte) {
    for (unsigned n = 0; n < 5; ++n) {
      check(bitnet::cuda::TritDigitScaled(static_cast<uint8_t>(byte), bitnet::cuda::Pow3Mod256(n)) ==
                bitnet::TritDigit(static_cast<uint8_t>(byte), n),
            "TritDigitScaled(%u, 3^%u)", byte, n);
    }
  }
  CheckLaneCodes<LayoutId::kTQ1_0>();
  CheckLaneCodes<LayoutId::kTQ2_0>();
  CheckLaneCodes<LayoutId::kQ2_0>();
  CheckLaneCodes<LayoutId::kI2_S>();
  // 16 groups and a last one of fewer blocks (n a multiple of each block).
  CheckDecodes<LayoutId::kTQ1_0>(17 * kGroup);
  CheckDecodes<LayoutId::kTQ2_0>(17 * kGroup);
  CheckDecodes<LayoutId::kQ2_0>(16 * kGroup + 192);
  CheckDecodes<LayoutId::kI2_S>(16 * kGroup + 128);
  CheckDecodes<LayoutId::kQ8_0>(16 * kGroup + 96);
  CheckDecodes<LayoutId::kQ8_K>(17 * kGroup);
  CheckDecodes<LayoutId::kIQ2_S>(17 * kGroup);
  return finish("test_cuda_lanes");
}
