// Per-target helpers of the tensor-layout kernels (cpu/ggml_hwy.cc,
// cpu/bitnet_cpp_hwy.cc, cpu/absmean_hwy.cc, cpu/half_hwy.cc).
//
// Element views. The kernels read F32, BF16 and F16 elements as they are
// stored: an F32 view on float lanes, a 16-bit view on int16 lanes holding
// the bits. In each type the bits without the sign, as a signed integer
// (the "key"), order the magnitudes, with +Inf at kInfKey and every NaN
// above it: a block's largest |x| is an integer max, and on a block without
// NaN, x >= t is a comparison with the smallest key worth at least t.
//
// Codes from masks. Every ternary rule here, on the blocks that take the
// vector path, is code = 1 + [x >= cut] - [x <= -cut]; the packers add the
// comparisons' masks into the code bytes (AVX-512: masked byte adds;
// elsewhere in wider lanes, narrowed once) and never form the codes alone.
//
// Decoders look the values of a block's (or tensor's) codes up per lane,
// each value computed once per scale as the reference computes it.

// Toggle guard: this file is included once per Highway target.
#if defined(BITNET_CPU_TENSOR_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITNET_CPU_TENSOR_INL_H_
#undef BITNET_CPU_TENSOR_INL_H_
#else
#define BITNET_CPU_TENSOR_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cpu/codes-inl.h"
#include "cpu/kernels.h"
#include "cpu/stream_pages.h"
#include "formats/block_rules.h"
#include "formats/half.h"
#include "formats/layouts.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {

// ---- conversions: formats/half.h's rules in integer steps ---------------------

// The bits of |x| as int32.
template <class V>
HWY_INLINE hn::Vec<hn::RebindToSigned<hn::DFromV<V>>> AbsBits(V v) {
  const hn::RebindToSigned<hn::DFromV<V>> di;
  return hn::And(hn::BitCast(di, v), hn::Set(di, 0x7FFFFFFF));
}

// HalfToFloat of the halves in the low 16 bits of h: normal numbers
// re-biased; subnormal ones as float(m) * 2^-24 (exact, and a normal float,
// so no flush-to-zero setting applies); Inf, and NaN made quiet with its
// payload.
HWY_INLINE VF HalfToFloatV(VI h) {
  const DF df;
  const DI di;
  const VI sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(di, 0x8000)));
  const VI em = hn::And(h, hn::Set(di, 0x7FFF));
  const VI m = hn::And(h, hn::Set(di, 0x3FF));
  const VI normal = hn::Add(hn::ShiftLeft<13>(em), hn::Set(di, 0x38000000));
  const VI quiet = hn::IfThenElseZero(hn::Ne(m, hn::Zero(di)), hn::Set(di, 0x400000));
  const VI special = hn::Or(hn::Or(hn::Set(di, 0x7F800000), hn::ShiftLeft<13>(m)), quiet);
  const VI subnormal =
      hn::BitCast(di, hn::Mul(hn::ConvertTo(df, m), hn::Set(df, 1.0f / 16777216.0f)));
  const VI bits = hn::IfThenElse(hn::Lt(em, hn::Set(di, 0x400)), subnormal,
                                 hn::IfThenElse(hn::Gt(em, hn::Set(di, 0x7BFF)), special, normal));
  return hn::BitCast(df, hn::Or(bits, sign));
}

// FloatToHalf, case by case on |x|'s bits a: NaN, overflow, normal (round
// to nearest even by adding 0xFFF plus the kept lsb), zero, and subnormal
// (the same rounding at a per-lane shift of 14..24).
HWY_INLINE VI FloatToHalfV(VF f) {
  const DI di;
  const VI u = hn::BitCast(di, f);
  const VI sign = hn::And(hn::ShiftRight<16>(u), hn::Set(di, 0x8000));
  const VI a = hn::And(u, hn::Set(di, 0x7FFFFFFF));
  const VI one = hn::Set(di, 1);
  const VI normal = hn::ShiftRight<13>(hn::Sub(
      hn::Add(a, hn::Add(hn::Set(di, 0xFFF), hn::And(hn::ShiftRight<13>(a), one))),
      hn::Set(di, 0x38000000)));
  const VI mantissa = hn::Or(hn::And(a, hn::Set(di, 0x7FFFFF)), hn::Set(di, 0x800000));
  // 126 - exponent; lanes that are not subnormal results are clamped to a
  // valid count and discarded below.
  const VI shift = hn::Min(hn::Max(hn::Sub(hn::Set(di, 126), hn::ShiftRight<23>(a)), one),
                           hn::Set(di, 31));
  const VI half_minus_one = hn::Sub(hn::Shl(one, hn::Sub(shift, one)), one);
  const VI lsb = hn::And(hn::Shr(mantissa, shift), one);
  const VI subnormal = hn::Shr(hn::Add(hn::Add(mantissa, half_minus_one), lsb), shift);
  VI h = hn::IfThenElseZero(hn::Gt(a, hn::Set(di, 0x32FFFFFF)), subnormal);
  h = hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x387FFFFF)), normal, h);
  h = hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x477FEFFF)), hn::Set(di, 0x7C00), h);
  h = hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x7F800000)), hn::Set(di, 0x7E00), h);
  return hn::Or(h, sign);
}

// FloatToBFloat: the top 16 bits rounded to nearest even; a NaN's truncated
// and made quiet.
HWY_INLINE VI FloatToBFloatV(VF f) {
  const DI di;
  const DU du;
  const VU u = hn::BitCast(du, f);
  const VU top = hn::ShiftRight<16>(u);
  const VU rounded = hn::ShiftRight<16>(
      hn::Add(u, hn::Add(hn::Set(du, 0x7FFFu), hn::And(top, hn::Set(du, 1u)))));
  const auto nan = hn::Gt(AbsBits(f), hn::Set(di, 0x7F800000));
  return hn::IfThenElse(nan, hn::BitCast(di, hn::Or(top, hn::Set(du, 0x40u))), hn::BitCast(di, rounded));
}

using D16 = hn::Rebind<uint16_t, DI>;

// How far ahead of its reads a streaming pass over a tensor prefetches
// (absmean's mean, the byte re-pack): on an Intel Xeon VM those passes read
// memory at 55-69 % and 39-44 % of the bound without, 79-110 % and 43-53 %
// with (1 to 8 KiB ahead all did for the mean).
constexpr size_t kStreamPrefetchBytes = 4096;

// How far ahead the encoders prefetch their elements at least (the pass
// that codes a part in cache leaves the memory idle otherwise). On the AMD
// EPYC VM, 16 Mi elements from memory, in turns: to Q2_0, 8 KiB ahead
// instead of a batch of 16 blocks (2 KiB of F32, 1 KiB of BF16) ran
// 1.14-1.45x faster, 16 KiB as 8; to I2_S, 8 KiB ahead against none:
// from BF16 1.19-1.43x, from F32 0.95-1.13x (within the VM's drift), 4 KiB
// 0.75-1.08x of 8.
constexpr size_t kEncodePrefetchBytes = 8192;

// An encoder's pass over the keys (a block's or a part's largest |x|)
// prefetches one line per KiB of what its coding pass will prefetch
// later: otherwise the memory idles while the key pass waits. AMD EPYC
// VM, 16 Mi elements, in turns: F32 to Q2_0 1.6x, F32 / F16 / BF16 to
// TQ2_0 1.06-1.19 / 1.28 / 1.12-1.21x, F32 / F16 to TQ1_0 1.14 / 1.10x.
// Every other line so early gave F32 to Q2_0 0.99x, every line F32 to
// TQ2_0 1.03x, one per page in a burst as a batch began F32 to TQ2_0
// 0.75-0.87x, and where a batch is 1 KiB (Q2_0 from F16 / BF16) it
// measured 0.90-0.98x.
constexpr size_t kKeyPassPrefetchBytes = 1024;

// n elements of an element type (F32, F16, BF16) <-> floats: whole vectors,
// then the reference for the rest.
HWY_INLINE void ElementsToFloats(LayoutId type, const void* HWY_RESTRICT in, size_t n,
                                 float* HWY_RESTRICT y) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  const uint16_t* h = static_cast<const uint16_t*>(in);
  size_t i = 0;
  if (type == LayoutId::kF32) {
    memcpy(y, in, n * sizeof(float));
    return;
  }
  if (type == LayoutId::kF16) {
    for (; i + N <= n; i += N) hn::StoreU(HalfToFloatV(hn::PromoteTo(di, hn::LoadU(D16(), h + i))), df, y + i);
  } else if (type == LayoutId::kBF16) {
    for (; i + N <= n; i += N) {
      hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(di, hn::LoadU(D16(), h + i)))), df, y + i);
    }
  }
  ReferenceToFloat(type, h + i, n - i, y + i);
}

HWY_INLINE void FloatsToElements(LayoutId type, const float* HWY_RESTRICT x, size_t n,
                                 void* HWY_RESTRICT out) {
  const DF df;
  const size_t N = hn::Lanes(df);
  uint16_t* h = static_cast<uint16_t*>(out);
  size_t i = 0;
  if (type == LayoutId::kF32) {
    memcpy(out, x, n * sizeof(float));
    return;
  }
  if (type == LayoutId::kF16) {
    for (; i + N <= n; i += N) hn::StoreU(hn::DemoteTo(D16(), FloatToHalfV(hn::LoadU(df, x + i))), D16(), h + i);
  } else if (type == LayoutId::kBF16) {
    for (; i + N <= n; i += N) hn::StoreU(hn::DemoteTo(D16(), FloatToBFloatV(hn::LoadU(df, x + i))), D16(), h + i);
  }
  ReferenceFromFloat(type, x + i, n - i, h + i);
}

// `bytes` from `in` to `out`: the whole aligned vectors (of D) of `out`
// with non-temporal stores (but a page's first line), the edges with
// ordinary ones (no call for an empty edge: the block decoders stream
// 64-byte pieces).
template <class D = hn::ScalableTag<uint8_t>>
HWY_INLINE void StreamBytes(const void* HWY_RESTRICT in, size_t bytes, void* HWY_RESTRICT out) {
  const D d;
  const size_t lanes = hn::Lanes(d);
  const uint8_t* HWY_RESTRICT from = static_cast<const uint8_t*>(in);
  uint8_t* HWY_RESTRICT to = static_cast<uint8_t*>(out);
  const size_t misaligned = reinterpret_cast<uintptr_t>(to) % lanes;
  const size_t head = misaligned == 0 ? 0 : (bytes < lanes - misaligned ? bytes : lanes - misaligned);
  if (head != 0) memcpy(to, from, head);
  size_t i = head;
  for (; i + lanes <= bytes; i += lanes) {
    const auto v = hn::LoadU(d, from + i);
    if (StartsStreamPage(to + i)) {
      hn::StoreU(v, d, to + i);
    } else {
      hn::Stream(v, d, to + i);
    }
  }
  if (i != bytes) memcpy(to + i, from + i, bytes - i);
}

// A decoder's vector to p. Streamed, p is aligned to the vector (the
// output to kStreamAlignment, each vector at a multiple of its size), and
// a page's first line is stored plainly; so is a vector under 16 bytes, as
// x86's streaming store of a part of a vector writes all 16.
template <Stores kStores, class D>
HWY_INLINE void StoreOut(hn::Vec<D> v, D d, hn::TFromD<D>* HWY_RESTRICT p) {
  if constexpr (kStores == Stores::kStreamed && hn::MaxLanes(D()) * sizeof(hn::TFromD<D>) >= 16) {
    if (StartsStreamPage(p)) {
      hn::StoreU(v, d, p);
    } else {
      hn::Stream(v, d, p);
    }
  } else {
    hn::StoreU(v, d, p);
  }
}

// ---- element views -------------------------------------------------------------

struct F32View {
  using Stored = float;
  using Lane = float;
  static constexpr LayoutId kType = LayoutId::kF32;
  static constexpr int32_t kInfKey = 0x7F800000;
  static float Value(int32_t key) { return FloatFromBits(static_cast<uint32_t>(key)); }
  template <class D>
  static HWY_INLINE hn::Vec<D> Load(D d, const float* HWY_RESTRICT p) {
    return hn::LoadU(d, p);
  }
  template <class V>
  static HWY_INLINE hn::Vec<hn::RebindToSigned<hn::DFromV<V>>> AbsKey(V v) {
    return AbsBits(v);
  }
};

template <LayoutId kLayout>
struct Bits16View {
  using Stored = uint16_t;
  using Lane = int16_t;
  static constexpr LayoutId kType = kLayout;
  static constexpr int32_t kInfKey = kLayout == LayoutId::kBF16 ? 0x7F80 : 0x7C00;
  static float Value(int32_t key) {
    const uint16_t bits = static_cast<uint16_t>(key);
    return kLayout == LayoutId::kBF16 ? BFloatToFloat(bits) : HalfToFloat(bits);
  }
  // The smallest key worth at least v (v > 0): bf16 keys are the top
  // halves of float bits; the nearest f16, or the next one up.
  static int32_t KeyAtLeast(float v) {
    if (kLayout == LayoutId::kBF16) return static_cast<int32_t>((FloatBits(v) + 0xFFFFu) >> 16);
    const uint16_t h = FloatToHalf(v);
    return h + (HalfToFloat(h) < v);
  }
  template <class D>
  static HWY_INLINE hn::Vec<D> Load(D d, const uint16_t* HWY_RESTRICT p) {
    return hn::LoadU(d, reinterpret_cast<const int16_t*>(p));
  }
  template <class V>
  static HWY_INLINE V AbsKey(V v) {
    return hn::And(v, hn::Set(hn::DFromV<V>(), int16_t{0x7FFF}));
  }
};
using BF16View = Bits16View<LayoutId::kBF16>;
using F16View = Bits16View<LayoutId::kF16>;

// The lanes of a view: 16 floats, or 32 16-bit elements (fewer on narrower
// targets).
template <class View>
using ViewTag = hn::CappedTag<typename View::Lane, 64 / sizeof(typename View::Lane)>;

// The largest key of |x| over n elements: View::kInfKey for an infinity,
// above it when one is NaN.
template <class View>
HWY_INLINE int32_t MaxAbsKey(const typename View::Stored* HWY_RESTRICT x, size_t n) {
  using D = ViewTag<View>;
  const D d;
  const hn::RebindToSigned<D> dk;
  const size_t N = hn::Lanes(d);
  auto m0 = hn::Zero(dk), m1 = hn::Zero(dk);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    m0 = hn::Max(m0, View::AbsKey(View::Load(d, x + i)));
    m1 = hn::Max(m1, View::AbsKey(View::Load(d, x + i + N)));
  }
  for (; i + N <= n; i += N) m0 = hn::Max(m0, View::AbsKey(View::Load(d, x + i)));
  int32_t m = hn::GetLane(hn::MaxOfLanes(dk, hn::Max(m0, m1)));
  for (; i < n; ++i) {
    uint32_t bits;
    if constexpr (sizeof(typename View::Stored) == 4) {
      memcpy(&bits, x + i, sizeof bits);
    } else {
      bits = x[i];
    }
    const int32_t k = static_cast<int32_t>(bits & (sizeof(typename View::Stored) == 4 ? 0x7FFFFFFFu : 0x7FFFu));
    m = k > m ? k : m;
  }
  return m;
}

// x >= cut and x <= -cut for a cut > 0 (+Inf for none), on lanes without
// NaN. Raw: the cut itself for F32; for a 16-bit view the key below the
// smallest key worth at least the cut.
template <class View>
class Cut {
  static constexpr bool kF32 = std::is_same<View, F32View>::value;

 public:
  using Raw = typename std::conditional<kF32, float, int16_t>::type;
  explicit Cut(const Raw& raw) : raw_(raw) {}
  static Cut At(float t) {
    if constexpr (kF32) {
      return Cut(t);
    } else {
      return Cut(static_cast<int16_t>(View::KeyAtLeast(t) - 1));
    }
  }

  template <class D>
  HWY_INLINE hn::Mask<D> Up(D d, hn::Vec<D> v) const {
    if constexpr (kF32) {
      return hn::Ge(v, hn::Set(d, raw_));
    } else {
      return hn::Gt(v, hn::Set(d, raw_));
    }
  }
  // A negative element's bits with the sign flipped are its magnitude's
  // key; a positive one's are negative.
  template <class D>
  HWY_INLINE hn::Mask<D> Down(D d, hn::Vec<D> v) const {
    if constexpr (kF32) {
      return hn::Le(v, hn::Set(d, -raw_));
    } else {
      return hn::Gt(hn::Xor(v, hn::Set(d, int16_t{-32768})), hn::Set(d, raw_));
    }
  }

 private:
  Raw raw_;
};

// ---- code bytes from masks ------------------------------------------------------

// One byte per lane of D, built from a base value plus or minus deltas
// where masks of D hold; the sum must end in 0..255 (wrapping in between is
// fine). On AVX-512 the bytes themselves (masked byte adds), elsewhere
// int32 or int16 lanes narrowed at the end. Free functions on a vector
// value, as SVE's sizeless vectors cannot be class members.
template <class D>
constexpr bool MaskedBytes() {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  return hn::MaxLanes(D()) == 16 || hn::MaxLanes(D()) == 32;  // one xmm or ymm of bytes
#else
  return false;
#endif
}

template <class D>
using ByteAccTag = typename std::conditional<MaskedBytes<D>(), hn::Rebind<uint8_t, D>,
                                             hn::RebindToSigned<D>>::type;

template <class D>
HWY_INLINE hn::Vec<ByteAccTag<D>> ByteAccStart(D, int32_t base) {
  using T = hn::TFromD<ByteAccTag<D>>;
  return hn::Set(ByteAccTag<D>(), static_cast<T>(base));
}

template <class D, class A>
HWY_INLINE A ByteAccAdd(D, A acc, hn::Mask<D> m, int32_t delta) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(D()) == 16) {
    return A{_mm_mask_add_epi8(acc.raw, m.raw, acc.raw, _mm_set1_epi8(static_cast<char>(delta)))};
  } else if constexpr (hn::MaxLanes(D()) == 32) {
    return A{_mm256_mask_add_epi8(acc.raw, m.raw, acc.raw, _mm256_set1_epi8(static_cast<char>(delta)))};
  }
#endif
  if constexpr (!MaskedBytes<D>()) {
    using DW = ByteAccTag<D>;
    return hn::Add(acc, hn::IfThenElseZero(hn::RebindMask(DW(), m),
                                           hn::Set(DW(), static_cast<hn::TFromD<DW>>(delta))));
  }
}

template <class D, class A>
HWY_INLINE void ByteAccStore(D, A acc, uint8_t* HWY_RESTRICT out) {
  const hn::Rebind<uint8_t, D> d8;
  if constexpr (MaskedBytes<D>()) {
    hn::StoreU(acc, d8, out);
  } else if constexpr (sizeof(hn::TFromD<ByteAccTag<D>>) == 4) {
    hn::StoreU(NarrowTo<uint8_t>(acc), d8, out);
  } else {
    hn::StoreU(hn::DemoteTo(d8, acc), d8, out);
  }
}

// The sums in uint16 lanes.
template <class D, class A>
HWY_INLINE hn::Vec<hn::Rebind<uint16_t, D>> ByteAccWide(D, A acc) {
  const hn::Rebind<uint16_t, D> d16;
  if constexpr (MaskedBytes<D>()) {
    return hn::PromoteTo(d16, acc);
  } else if constexpr (sizeof(hn::TFromD<ByteAccTag<D>>) == 4) {
    return hn::DemoteTo(d16, acc);
  } else {
    return hn::BitCast(d16, acc);
  }
}

// Adds the ternary code of one vector of elements, times unit.
template <class View, class D, class A>
HWY_INLINE A AddCode(D d, hn::Vec<D> v, const Cut<View>& cut, int32_t unit, A acc) {
  acc = ByteAccAdd(d, acc, cut.Up(d, v), unit);
  return ByteAccAdd(d, acc, cut.Down(d, v), -unit);
}

// kTwoBit with run >= the lanes: 4 * run elements -> run bytes, byte b
// holding the code of element f * run + b at bit 2f (6 - 2f MSB first).
template <class View>
HWY_INLINE void PackRuns(const typename View::Stored* HWY_RESTRICT x, size_t run, bool msb_first,
                         const Cut<View>& cut, uint8_t* HWY_RESTRICT out) {
  using D = ViewTag<View>;
  const D d;
  for (size_t b = 0; b < run; b += hn::Lanes(d)) {
    auto acc = ByteAccStart(d, 0x55);  // code 1 in all four fields
    for (size_t f = 0; f < 4; ++f) {
      const int32_t unit = 1 << (msb_first ? 6 - 2 * f : 2 * f);
      acc = AddCode(d, View::Load(d, x + f * run + b), cut, unit, acc);
    }
    ByteAccStore(d, acc, out + b);
  }
}

// kTwoBit with run 1 (Q2_0): four consecutive elements per byte. The 2-bit
// fields of 32 elements are 1 + up - down, from the masks' bits in one
// 64-bit word (a field never carries into the next).
HWY_INLINE uint64_t SpreadBits(uint32_t bits) {  // bit k -> bit 2k
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  return _pdep_u64(bits, 0x5555555555555555ull);  // fast wherever AVX-512 is
#else
  uint64_t x = bits;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFFull;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FFull;
  x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0Full;
  x = (x | (x << 2)) & 0x3333333333333333ull;
  return (x | (x << 1)) & 0x5555555555555555ull;
#endif
}

template <class D>
HWY_INLINE uint32_t MaskBits(D d, hn::Mask<D> m) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(D()) == 16 || hn::MaxLanes(D()) == 32) {
    return static_cast<uint32_t>(m.raw);  // a full vector's mask register
  }
#endif
  uint8_t bytes[8] = {0};
  hn::StoreMaskBits(d, m, bytes);
  uint32_t bits;
  memcpy(&bits, bytes, sizeof bits);
  return bits;
}

template <class View>
HWY_INLINE void PackConsecutive(const typename View::Stored* HWY_RESTRICT x, size_t n,
                                const Cut<View>& cut, uint8_t* HWY_RESTRICT out) {
  using D = ViewTag<View>;
  const D d;
  const size_t N = hn::Lanes(d);
  for (size_t g = 0; g < n; g += 32) {
    uint32_t up = 0, down = 0;
    for (size_t k = 0; k < 32; k += N) {
      const auto v = View::Load(d, x + g + k);
      up |= MaskBits(d, cut.Up(d, v)) << k;
      down |= MaskBits(d, cut.Down(d, v)) << k;
    }
    const uint64_t word = 0x5555555555555555ull + SpreadBits(up) - SpreadBits(down);
    memcpy(out + g / 4, &word, sizeof word);
  }
}

// ---- values of codes -------------------------------------------------------------

// Output views: float lanes, or uint16 lanes of the stored bits. Each has
// the Values of the codes of one scale, looked up per lane.
struct F32Out {
  using Stored = float;
  using Tag = DF;
  // float(code - offset) * scale, the reference's conversion and product,
  // once per scale (a non-finite scale takes the reference: its products
  // with the constants here are left to the compiler).
  struct Scale {
    float value;
    int32_t offset;
  };
  template <class D>
  class Values {
   public:
    Values(D d, Scale s) : d_(d), scale_(s) {}
    // Codes in int32 or uint32 lanes.
    template <class VC>
    HWY_INLINE hn::Vec<D> operator()(VC code) const {
      const hn::RebindToSigned<D> di;
      const auto factor = hn::ConvertTo(d_, hn::Sub(hn::Iota(di, 0), hn::Set(di, scale_.offset)));
      const hn::Vec<D> scale = hn::Set(d_, scale_.value);
      if constexpr (hn::MaxLanes(D()) >= 4) {
        // A loop-invariant table, float(c - offset) * scale in lane c.
        return hn::TableLookupLanes(hn::Mul(factor, scale), hn::IndicesFromVec(d_, hn::BitCast(di, code)));
      } else {
        return hn::Mul(hn::ConvertTo(d_, hn::Sub(hn::BitCast(di, code), hn::Set(di, scale_.offset))), scale);
      }
    }

   private:
    D d_;
    Scale scale_;
  };
};

struct Bits16Out {
  using Stored = uint16_t;
  using Tag = hn::CappedTag<uint16_t, 32>;
  // The element type's bits of the values of codes 0..3, with 16 bytes
  // readable from there.
  using Scale = const uint16_t*;
  template <class D>
  class Values {
   public:
    Values(D d, Scale record) : d_(d), record_(record) {}
    HWY_INLINE hn::Vec<D> operator()(hn::Vec<D> code) const {
      if constexpr (hn::MaxLanes(D()) >= 4) {
        // Bytes 2c, 2c + 1 of every 128-bit block (or of a 4-lane vector's
        // 8 bytes) hold value c: a byte shuffle picks each lane's.
        using D8 = hn::Repartition<uint8_t, D>;
        const uint8_t* bytes = reinterpret_cast<const uint8_t*>(record_);
        hn::Vec<D8> table;
        if constexpr (hn::MaxLanes(D()) >= 8) {
          table = hn::LoadDup128(D8(), bytes);
        } else {
          table = hn::LoadU(D8(), bytes);
        }
        const hn::Vec<D> index = hn::Add(hn::Mul(code, hn::Set(d_, uint16_t{0x0202})), hn::Set(d_, uint16_t{0x0100}));
        return hn::BitCast(d_, hn::TableLookupBytes(table, hn::BitCast(D8(), index)));
      } else {
        auto v = hn::IfThenElse(hn::Eq(code, hn::Set(d_, uint16_t{1})), hn::Set(d_, record_[1]),
                                hn::Set(d_, record_[0]));
        v = hn::IfThenElse(hn::Eq(code, hn::Set(d_, uint16_t{2})), hn::Set(d_, record_[2]), v);
        return hn::IfThenElse(hn::Eq(code, hn::Set(d_, uint16_t{3})), hn::Set(d_, record_[3]), v);
      }
    }

   private:
    D d_;
    Scale record_;
  };
};

// The records of Bits16Out::Scale for one scale: (c - offset) * scale in
// float, converted to the 16-bit type once.
HWY_INLINE void Record16(LayoutId type, int32_t offset, float scale, uint16_t record[8]) {
  for (int32_t c = 0; c < 8; ++c) {
    const float v = static_cast<float>(c - offset) * scale;
    record[c] = c >= 4 ? 0 : type == LayoutId::kBF16 ? FloatToBFloat(v) : FloatToHalf(v);
  }
}

// The inverse of PackRuns: run bytes -> the values of their 4 * run elements.
template <class Out, Stores kStores>
HWY_INLINE void UnpackRuns(const uint8_t* HWY_RESTRICT in, size_t run, bool msb_first,
                           typename Out::Scale scale, typename Out::Stored* HWY_RESTRICT y) {
  using D = typename Out::Tag;
  const D d;
  const hn::RebindToUnsigned<D> dc;
  const hn::Rebind<uint8_t, D> d8;
  const typename Out::template Values<D> values(d, scale);
  // In the order of the output: streamed lines fill one after another.
  for (size_t f = 0; f < 4; ++f) {
    const int shift = static_cast<int>(msb_first ? 6 - 2 * f : 2 * f);
    for (size_t b = 0; b < run; b += hn::Lanes(d)) {
      const auto code = hn::And(hn::ShiftRightSame(hn::PromoteTo(dc, hn::LoadU(d8, in + b)), shift), hn::Set(dc, 3));
      StoreOut<kStores>(values(code), d, y + f * run + b);
    }
  }
}

// The inverse of PackConsecutive: byte e / 4 of the block, field e % 4, to
// lane e. Float lanes take a word of codes per vector; 16-bit lanes pick
// their byte with a shuffle and move their field to the top with a product.
template <class Out, Stores kStores>
HWY_INLINE void UnpackConsecutive(const uint8_t* HWY_RESTRICT in, size_t n, typename Out::Scale scale,
                                  typename Out::Stored* HWY_RESTRICT y) {
  using D = typename Out::Tag;
  const D d;
  const size_t N = hn::Lanes(d);
  const typename Out::template Values<D> values(d, scale);
  if constexpr (std::is_same<Out, F32Out>::value) {
    for (size_t i = 0; i < n; i += N) StoreOut<kStores>(values(BitsToCodes(LoadBits(in, i, N))), d, y + i);
  } else if constexpr (hn::MaxLanes(D()) >= 8) {
    const hn::Repartition<uint8_t, D> d8;
    const auto lane = hn::Iota(d, 0);
    HWY_ALIGN static constexpr uint16_t kFieldToTop[32] = {64, 16, 4, 1, 64, 16, 4, 1, 64, 16, 4,
                                                           1,  64, 16, 4, 1, 64, 16, 4, 1, 64, 16,
                                                           4,  1,  64, 16, 4, 1, 64, 16, 4, 1};
    static_assert(hn::MaxLanes(D()) <= 32, "kFieldToTop covers the lanes");
    const auto field_to_top = hn::Load(d, kFieldToTop);
    for (size_t i = 0; i < n; i += N) {
      // n / 4 <= 16 code bytes: each 128-bit block holds them all.
      const auto index = hn::Or(hn::Add(hn::ShiftRight<2>(lane), hn::Set(d, static_cast<uint16_t>(i / 4))),
                                hn::Set(d, uint16_t{0x8000}));  // high byte: 0
      const auto bytes = hn::BitCast(d, hn::TableLookupBytes(hn::LoadDup128(d8, in), hn::BitCast(d8, index)));
      const auto code = hn::And(hn::ShiftRight<6>(hn::Mul(bytes, field_to_top)), hn::Set(d, uint16_t{3}));
      StoreOut<kStores>(values(code), d, y + i);
    }
  } else {
    for (size_t i = 0; i < n; i += N) {
      const auto code = hn::Set(d, static_cast<uint16_t>((in[i / 4] >> (2 * (i % 4))) & 3u));
      StoreOut<kStores>(values(code), d, y + i);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#endif  // BITNET_CPU_TENSOR_INL_H_
