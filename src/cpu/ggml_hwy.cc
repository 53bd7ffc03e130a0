// Highway kernels of the ggml block layouts (formats/ggml_rules.h): encode
// and decode of TQ1_0, TQ2_0, Q2_0, Q8_0 and Q8_K from and to F32, BF16 and
// F16 elements. IQ2_S decodes through its reference (grid lookups; no model
// stores ternary weights in it).
//
// A ternary encoder finds the block's largest |x| as an integer max of keys
// (cpu/tensor-inl.h). A block holding a NaN or an infinity, or whose
// 1/amax overflows (a subnormal maximum), is encoded by the reference: there
// ggml's results hang on the order of its MAX and on x86's conversions of
// NaN and Inf. On every other block, id = 1/amax is finite and |x * id| <=
// 1 + 2^-23, where lroundf(v) + 1 (TQ) and clamp((int)roundf(v) + 1, 0, 3)
// (Q2_0) are both 1 + [v >= 0.5] - [v <= -0.5], v = fl(x * id); as fl(x *
// id) grows with x and is odd in x, that is 1 + [x >= t] - [x <= -t] for
// the smallest float t with fl(t * id) >= 0.5, found per block.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/ggml_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/cache_control.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "cpu/kernels.h"
#include "cpu/tensor-inl.h"
#include "cpu/trits-inl.h"
#include "formats/block_rules.h"
#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/layouts.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

constexpr size_t kMaxBlock = 256;  // elements in the largest block (TQ, Q8_K)

// The smallest t >= 0 with fl(t * id) >= 0.5, for id = fl(1 / amax) > 0:
// found from t0 = fl(amax / 2) by steps. PrepareBatch finds it without
// branches below amax = 2^126, where id is normal and t is t0 or a
// neighbour (checked for every amax below 2^-125, every mantissa at every
// seventh exponent above, and 2e8 random ones); above, 17 % of amax need
// the search.
HWY_INLINE float HalfCut(float amax, float id) {
  uint32_t b = FloatBits(0.5f * amax);
  while (b > 0 && FloatFromBits(b - 1) * id >= 0.5f) --b;
  while (FloatFromBits(b) * id < 0.5f) ++b;
  return FloatFromBits(b);
}

// ---- the ternary layouts -----------------------------------------------------------

// One TQ1_0 segment on lanes of D: byte b holds the digits of elements t *
// bytes + b (t = 0 first) as q = sum of digit * 3^(4 - t); stored as
// ceil(q * 256 / 243) = q + floor((13 q + 242) / 243). The fast path's
// digits are 0..2, so q <= 242 and no uint8 step of ggml's wraps.
template <size_t kTrits, class View, class D>
HWY_INLINE void PackTrits(D d, const typename View::Stored* HWY_RESTRICT x, const TritSegment& seg,
                          const Cut<View>& cut, uint8_t* HWY_RESTRICT out) {
  const hn::Rebind<int16_t, D> di16;
  const hn::Rebind<uint8_t, D> d8;
  for (size_t b = 0; b < seg.bytes; b += hn::Lanes(d)) {
    // Digit 1 everywhere (a 4-digit byte's last digit is 0): 121 or 120.
    auto acc = ByteAccStart(d, kTrits == 5 ? 121 : 120);
    HWY_UNROLL(5)
    for (size_t t = 0; t < kTrits; ++t) {
      constexpr int32_t kWeight[5] = {81, 27, 9, 3, 1};
      acc = AddCode(d, View::Load(d, x + t * seg.bytes + b), cut, kWeight[t], acc);
    }
    if constexpr (MaskedBytes<D>()) {  // q in bytes already: two nibble lookups
      hn::StoreU(TritByte(acc), d8, out + b);
    } else {
      const auto q = ByteAccWide(d, acc);
      const auto byte = hn::Add(q, Ceil13QOver243(q));
      hn::StoreU(hn::DemoteTo(d8, hn::BitCast(di16, byte)), d8, out + b);
    }
  }
}

#if !(HWY_HAVE_SCALABLE || HWY_TARGET == HWY_SCALAR)  // vectors of a fixed size
// Whether 16 elements of the view fill one vector.
template <class View>
constexpr bool SixteenLanes() {
  return hn::MaxLanes(hn::CappedTag<typename View::Lane, 16>()) == 16;
}

// A segment of 4 bytes of 4 digits (TQ1_0's last) from one vector of its 16
// elements, lanes b, b + 4, b + 8, b + 12 holding byte b's digits: each
// lane's digit times its row's weight, then the rows added by halving the
// vector twice. As PackTrits, with a quarter-filled vector per digit row,
// BF16 -> TQ1_0 ran 10 % slower in cache.
template <class View>
HWY_INLINE void PackFoldedTrits(const typename View::Stored* HWY_RESTRICT x, const Cut<View>& cut,
                                uint8_t* HWY_RESTRICT out) {
  using D = hn::CappedTag<typename View::Lane, 16>;
  using DW = hn::RebindToSigned<D>;  // the weighted digits: int16 or int32 lanes
  const D d;
  const DW dw;
  const hn::Half<DW> d8w;
  const hn::Half<decltype(d8w)> d4w;
  const hn::Rebind<uint8_t, decltype(d4w)> d4;
  using W = hn::TFromD<DW>;
  HWY_ALIGN static constexpr W kWeights[16] = {81, 81, 81, 81, 27, 27, 27, 27, 9, 9, 9, 9, 3, 3, 3, 3};
  const auto v = View::Load(d, x);
  const auto w = hn::Load(dw, kWeights);
  auto digits = hn::Add(w, hn::IfThenElseZero(hn::RebindMask(dw, cut.Up(d, v)), w));
  digits = hn::Sub(digits, hn::IfThenElseZero(hn::RebindMask(dw, cut.Down(d, v)), w));
  const auto rows2 = hn::Add(hn::LowerHalf(d8w, digits), hn::UpperHalf(d8w, digits));
  const auto q = hn::Add(hn::LowerHalf(d4w, rows2), hn::UpperHalf(d4w, rows2));
  hn::StoreU(TritByte(hn::DemoteTo(d4, q)), d4, out);
}
#endif

template <LayoutId kId, class View>
HWY_INLINE void PackTritBlock(const typename View::Stored* HWY_RESTRICT x, const Cut<View>& cut,
                              uint8_t* HWY_RESTRICT block) {
  ForEachTritSegment<kId>(ViewTag<View>(), [&](auto d, auto digits, const TritSegment& seg, size_t first) {
#if !(HWY_HAVE_SCALABLE || HWY_TARGET == HWY_SCALAR)
    if constexpr (digits() == 4 && SixteenLanes<View>()) {
      if (seg.bytes == 4) return PackFoldedTrits<View>(x + first, cut, block + seg.first_byte);
    }
#endif
    PackTrits<digits()>(d, x + first, seg, cut, block + seg.first_byte);
  });
}

template <typename T>
HWY_INLINE void PrefetchBlock(const T* p, size_t n) {
  const char* bytes = reinterpret_cast<const char*>(p);
  for (size_t b = 0; b < n * sizeof(T); b += 64) hwy::Prefetch(bytes + b);
}

// What a batch of ternary blocks needs besides its elements, computed for
// up to Lanes(DF) blocks at once from their largest keys: per block the f16
// of its amax, its cut, and its path.
enum class BlockPath : int32_t {
  kVector,     // the cut computed here
  kScalarCut,  // amax >= 2^126: HalfCut's search
  kReference,  // NaN or Inf, or 1/amax overflows
};

template <class View>
struct BlockBatch {
  static constexpr size_t kMax = hn::MaxLanes(DF());
  HWY_ALIGN int32_t key[kMax];
  HWY_ALIGN typename Cut<View>::Raw cut[kMax];
  HWY_ALIGN uint16_t scale[kMax];
  HWY_ALIGN int32_t path[kMax];
};

// The scalar steps of EncodeTernary (amax = the key's value, id = 1/amax or
// 0, t = HalfCut, the f16 of amax) in lanes of blocks.
template <class View>
HWY_INLINE void PrepareBatch(BlockBatch<View>* batch) {
  const DF df;
  const DI di;
  const DU du;
  const D16 d16;
  const VI key = hn::Load(di, batch->key);
  VF amax;
  if constexpr (View::kType == LayoutId::kF32) {
    amax = hn::BitCast(df, key);
  } else if constexpr (View::kType == LayoutId::kBF16) {
    amax = hn::BitCast(df, hn::ShiftLeft<16>(key));
  } else {
    amax = HalfToFloatV(key);
  }
  const auto zero = hn::Eq(amax, hn::Zero(df));
  const VF id = hn::IfThenZeroElse(zero, hn::Div(hn::Set(df, 1.0f), amax));
  const auto reference = hn::Or(hn::RebindMask(df, hn::Gt(key, hn::Set(di, View::kInfKey - 1))),
                                hn::Not(hn::IsFinite(id)));
  // HalfCut without branches (see there); +Inf for an all-zero block,
  // whose codes are all 1.
  const VU b = hn::BitCast(du, hn::Mul(hn::Set(df, 0.5f), amax));
  const auto below = hn::Ge(hn::Mul(hn::BitCast(df, hn::Sub(b, hn::Set(du, 1u))), id), hn::Set(df, 0.5f));
  const auto fails = hn::Lt(hn::Mul(hn::BitCast(df, b), id), hn::Set(df, 0.5f));
  VU cut_bits = hn::Sub(b, hn::IfThenElseZero(hn::RebindMask(du, below), hn::Set(du, 1u)));
  cut_bits = hn::Add(cut_bits, hn::IfThenElseZero(hn::RebindMask(du, fails), hn::Set(du, 1u)));
  const VF cut = hn::IfThenElse(zero, hn::Set(df, INFINITY), hn::BitCast(df, cut_bits));
  const auto in_range = hn::Lt(amax, hn::Set(df, 0x1p126f));
  const VI path = hn::IfThenElse(
      hn::RebindMask(di, reference), hn::Set(di, static_cast<int32_t>(BlockPath::kReference)),
      hn::IfThenElseZero(hn::RebindMask(di, hn::Not(in_range)),
                         hn::Set(di, static_cast<int32_t>(BlockPath::kScalarCut))));
  hn::Store(path, di, batch->path);
  // An F16 view's amax is an f16: its key is FloatToHalf(amax).
  const VI scale = View::kType == LayoutId::kF16 ? key : FloatToHalfV(amax);
  hn::Store(hn::DemoteTo(d16, scale), d16, batch->scale);
  if constexpr (View::kType == LayoutId::kF32) {
    hn::Store(cut, df, batch->cut);
  } else {
    // The smallest key worth at least the cut (Bits16View::KeyAtLeast), minus one.
    VI at_least;
    if constexpr (View::kType == LayoutId::kBF16) {
      at_least = hn::BitCast(di, hn::ShiftRight<16>(hn::Add(hn::BitCast(du, cut), hn::Set(du, 0xFFFFu))));
    } else {
      const VI h = FloatToHalfV(cut);
      at_least = hn::Add(h, hn::IfThenElseZero(hn::RebindMask(di, hn::Lt(HalfToFloatV(h), cut)), hn::Set(di, 1)));
    }
    const hn::Rebind<int16_t, DI> di16;
    hn::Store(hn::DemoteTo(di16, hn::Sub(at_least, hn::Set(di, 1))), di16, batch->cut);
  }
}

// The largest keys of `count` blocks of n elements into keys[0..count), 0
// after (a batch of Lanes(DF) blocks): each block's maxima in a vector,
// then one transposing reduction for the batch (a reduction per block cost
// as much as a Q2_0 block's codes). Meanwhile one line per KiB of the
// `far_bytes` at `far` (the batch whose lines the encode pass prefetches)
// is prefetched, at most one per block (blocks are at most 1 KiB):
// kKeyPassPrefetchBytes.
template <class View>
HWY_INLINE void BatchKeys(const typename View::Stored* HWY_RESTRICT x, size_t n, size_t count,
                          int32_t* HWY_RESTRICT keys, const uint8_t* far, size_t far_bytes) {
  const size_t block_bytes = n * sizeof(typename View::Stored);
  size_t next_far = 0;  // the next KiB of `far` to prefetch
  const auto prefetch_far = [&](size_t j) {
    if (next_far < far_bytes && next_far < (j + 1) * block_bytes) {
      hwy::Prefetch(far + next_far);
      next_far += kKeyPassPrefetchBytes;
    }
  };
#if !(HWY_HAVE_SCALABLE || HWY_TARGET == HWY_SCALAR)
  using D = ViewTag<View>;
  const D d;
  const hn::RebindToSigned<D> dk;
  const DI di;
  const size_t N = hn::Lanes(d);
  if (n % (2 * N) == 0) {
    VI m[hn::MaxLanes(DF())];
    for (size_t j = 0; j < hn::MaxLanes(DF()); ++j) {
      prefetch_far(j);
      auto m0 = hn::Zero(dk), m1 = hn::Zero(dk);
      for (size_t i = 0; j < count && i < n; i += 2 * N) {
        m0 = hn::Max(m0, View::AbsKey(View::Load(d, x + j * n + i)));
        m1 = hn::Max(m1, View::AbsKey(View::Load(d, x + j * n + i + N)));
      }
      const VI wide = hn::BitCast(di, hn::Max(m0, m1));
      // 16-bit keys (at most 0x7FFF) to the larger of each lane's two.
      m[j] = sizeof(typename View::Lane) == 4
                 ? wide
                 : hn::Max(hn::ShiftRight<16>(wide), hn::And(wide, hn::Set(di, 0xFFFF)));
    }
    hn::Store(TransposeMax(m), di, keys);
    return;
  }
#endif
  for (size_t j = 0; j < hn::Lanes(DF()); ++j) {
    prefetch_far(j);
    keys[j] = j < count ? MaxAbsKey<View>(x + j * n, n) : 0;
  }
}

// TQ1_0, TQ2_0, Q2_0: the codes through the layout's map, then the f16
// amax. The layout is a compile-time constant: its code loops unroll.
template <LayoutId kId, class View>
void EncodeTernary(void (*reference)(const float*, uint8_t*), const typename View::Stored* HWY_RESTRICT x,
                   size_t nblocks, uint8_t* HWY_RESTRICT out) {
  constexpr const Layout& l = LayoutOf(kId);
  constexpr size_t n = static_cast<size_t>(l.block_elements);
  const size_t batch_blocks = hn::Lanes(DF());
  // How many blocks ahead the elements are prefetched: the next batch, or
  // about kEncodePrefetchBytes ahead where a batch is smaller (Q2_0's 32-
  // element blocks: a batch of 1-2 KiB, too close to hide the memory's
  // latency).
  const size_t batch_bytes = batch_blocks * n * sizeof(typename View::Stored);
  const size_t ahead = batch_blocks * (batch_bytes >= kEncodePrefetchBytes ? 1 : kEncodePrefetchBytes / batch_bytes);
  // Not where a batch is 1 KiB (Q2_0 from F16 / BF16).
  const bool key_pass_prefetch = batch_bytes >= 2 * kKeyPassPrefetchBytes;
  BlockBatch<View> batch;
  for (size_t first = 0; first < nblocks; first += batch_blocks) {
    const size_t count = nblocks - first < batch_blocks ? nblocks - first : batch_blocks;
    const size_t far_blocks =
        key_pass_prefetch && first + ahead < nblocks ? std::min(batch_blocks, nblocks - first - ahead) : 0;
    BatchKeys<View>(x + first * n, n, count, batch.key,
                    far_blocks == 0 ? nullptr : reinterpret_cast<const uint8_t*>(x + (first + ahead) * n),
                    far_blocks * n * sizeof(typename View::Stored));
    PrepareBatch(&batch);
    for (size_t j = 0; j < count; ++j) {
      const typename View::Stored* xb = x + (first + j) * n;
      uint8_t* block = out + (first + j) * l.block_bytes;
      // A later batch's block j is on its way while this one is encoded:
      // the pass over a batch in cache leaves the memory idle otherwise.
      if (first + ahead + j < nblocks) PrefetchBlock(xb + ahead * n, n);
      Cut<View> cut(batch.cut[j]);
      switch (static_cast<BlockPath>(batch.path[j])) {
        case BlockPath::kVector:
          break;
        case BlockPath::kScalarCut: {
          const float amax = View::Value(batch.key[j]);
          cut = Cut<View>::At(HalfCut(amax, 1.0f / amax));
          break;
        }
        case BlockPath::kReference: {
          HWY_ALIGN float values[kMaxBlock];
          ElementsToFloats(View::kType, xb, n, values);
          reference(values, block);
          continue;
        }
      }
      constexpr CodeMap m = l.codes;
      if constexpr (m.kind == CodeMapKind::kTrits) {
        PackTritBlock<kId, View>(xb, cut, block);
      } else if constexpr (m.run == 1) {
        PackConsecutive<View>(xb, n, cut, block + m.codes_offset);
      } else {
        for (size_t g = 0; g < n; g += size_t{4} * m.run) {
          PackRuns<View>(xb + g, m.run, m.msb_first, cut, block + m.codes_offset + g / 4);
        }
      }
      memcpy(block + l.scale_offset, &batch.scale[j], sizeof batch.scale[j]);
    }
  }
}

// Digit t of a byte: ((uint8)(byte * 3^t) * 3) >> 8. Streamed, a segment
// of vectors under 16 bytes (TQ1_0's qh to F16 / BF16) is made in a buffer
// and streamed whole: an ordinary store into a line that is being streamed
// flushes it, which made TQ1_0's decode to F16 7x slower.
template <size_t kTrits, class Out, Stores kStores, class D>
HWY_INLINE void UnpackTrits(D d, const uint8_t* HWY_RESTRICT in, const TritSegment& seg,
                            typename Out::Scale scale, typename Out::Stored* HWY_RESTRICT y) {
  using T = typename Out::Stored;
  constexpr bool kStaged = kStores == Stores::kStreamed && hn::MaxLanes(D()) * sizeof(T) < 16;
  constexpr Stores kVectorStores = kStaged ? Stores::kCached : kStores;
  HWY_ALIGN T staged[kStaged ? kTrits * kMaxTritSegmentBytes : 1];
  T* HWY_RESTRICT out = kStaged ? staged : y;
  const hn::RebindToUnsigned<D> dc;
  const hn::Rebind<uint8_t, D> d8;
  const typename Out::template Values<D> values(d, scale);
  for (size_t b = 0; b < seg.bytes; b += hn::Lanes(d)) {
    auto s = hn::PromoteTo(dc, hn::LoadU(d8, in + b));  // (uint8)(byte * 3^t)
    HWY_UNROLL(5)
    for (size_t t = 0; t < kTrits; ++t) {
      const auto s3 = hn::Add(hn::ShiftLeft<1>(s), s);
      StoreOut<kVectorStores>(values(hn::ShiftRight<8>(s3)), d, out + t * seg.bytes + b);
      s = hn::And(s3, hn::Set(dc, 0xFF));
    }
  }
  if constexpr (kStaged) StreamBytes<hn::CappedTag<uint8_t, 16>>(staged, kTrits * seg.bytes * sizeof(T), y);
}

template <LayoutId kId, class Out, Stores kStores>
HWY_INLINE void UnpackTritBlock(const uint8_t* HWY_RESTRICT block, typename Out::Scale scale,
                                typename Out::Stored* HWY_RESTRICT y) {
  ForEachTritSegment<kId>(typename Out::Tag(), [&](auto d, auto digits, const TritSegment& seg, size_t first) {
    UnpackTrits<digits(), Out, kStores>(d, block + seg.first_byte, seg, scale, y + first);
  });
}

// (float)(code - 1) * d per element, d the block's f16, converted to the
// output type. The values of a batch of blocks are computed together (for
// 16-bit outputs: converted, and stored as one record per block). A block
// whose d is NaN or infinite takes the reference. The layout is a
// compile-time constant, as in EncodeTernary.
template <LayoutId kId, class Out, Stores kStores>
void DecodeTernary(LayoutId type, const uint8_t* HWY_RESTRICT in, size_t nblocks, typename Out::Stored* HWY_RESTRICT y) {
  constexpr const Layout& l = LayoutOf(kId);
  const DF df;
  const DI di;
  const D16 d16;
  constexpr size_t n = static_cast<size_t>(l.block_elements);
  const size_t batch_blocks = hn::Lanes(df);
  constexpr size_t kMax = hn::MaxLanes(DF());
  HWY_ALIGN uint16_t halves[kMax];
  HWY_ALIGN float scales[kMax];
  HWY_ALIGN uint16_t records[4 * kMax + 8] = {0};  // 16 bytes readable from each
  for (size_t first = 0; first < nblocks; first += batch_blocks) {
    const size_t count = nblocks - first < batch_blocks ? nblocks - first : batch_blocks;
    for (size_t j = 0; j < batch_blocks; ++j) {
      halves[j] = 0;
      if (j < count) memcpy(&halves[j], in + (first + j) * l.block_bytes + l.scale_offset, 2);
    }
    const VF d = HalfToFloatV(hn::PromoteTo(di, hn::Load(d16, halves)));
    if constexpr (std::is_same<Out, F32Out>::value) {
      hn::Store(d, df, scales);
    } else {
      const auto bits = [&](int32_t code) {
        const VF value = hn::Mul(hn::Set(df, static_cast<float>(code - l.code_offset)), d);
        return hn::DemoteTo(d16, type == LayoutId::kBF16 ? FloatToBFloatV(value) : FloatToHalfV(value));
      };
      hn::StoreInterleaved4(bits(0), bits(1), bits(2), bits(3), d16, records);
    }
    for (size_t j = 0; j < count; ++j) {
      const uint8_t* block = in + (first + j) * l.block_bytes;
      typename Out::Stored* yb = y + (first + j) * n;
      if (HWY_UNLIKELY(!HalfIsFinite(halves[j]))) {
        HWY_ALIGN float values[kMaxBlock];
        ReferenceDecodeBlocks(l.id, block, 1, values);
        ReferenceFromFloat(type, values, n, yb);
        continue;
      }
      typename Out::Scale scale;
      if constexpr (std::is_same<Out, F32Out>::value) {
        scale = {scales[j], l.code_offset};
      } else {
        scale = records + 4 * j;
      }
      constexpr CodeMap m = l.codes;
      if constexpr (m.kind == CodeMapKind::kTrits) {
        UnpackTritBlock<kId, Out, kStores>(block, scale, yb);
      } else if constexpr (m.run == 1) {
        UnpackConsecutive<Out, kStores>(block + m.codes_offset, n, scale, yb);
      } else {
        for (size_t g = 0; g < n; g += size_t{4} * m.run) {
          UnpackRuns<Out, kStores>(block + m.codes_offset + g / 4, m.run, m.msb_first, scale, yb + g);
        }
      }
    }
  }
}

// ---- the int8 layouts (F32 kernels; other element types through a block of floats) ----

// roundf (half away from zero) of |v| < 2^23: trunc, plus the sign where
// the (exact) fraction is at least one half.
HWY_INLINE VF RoundHalfAway(VF v) {
  const DF df;
  const VF t = hn::Trunc(v);
  const VF away = hn::Add(t, hn::CopySignToAbs(hn::Set(df, 1.0f), v));
  return hn::IfThenElse(hn::Ge(hn::Abs(hn::Sub(v, t)), hn::Set(df, 0.5f)), away, t);
}

// Q8_0: d = amax / 127 (f16), q = roundf(x / d) through id = 1 / d. On the
// fast path |x * id| <= 127 (plus rounding), so the int8 is the rounded value.
void EncodeQ8_0Block(const Layout& l, const float* HWY_RESTRICT x, uint8_t* HWY_RESTRICT out) {
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const size_t n = static_cast<size_t>(l.block_elements);
  const int32_t key = MaxAbsKey<F32View>(x, n);
  const float amax = FloatFromBits(static_cast<uint32_t>(key));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  if (key >= F32View::kInfKey || !std::isfinite(id)) return QuantizeBlockQ8_0(x, out);
  StoreHalf(out + l.scale_offset, d);
  int8_t* q = reinterpret_cast<int8_t*>(out + l.codes.codes_offset);
  for (size_t j = 0; j < n; j += hn::Lanes(df)) {
    const VF v = hn::Mul(hn::LoadU(df, x + j), hn::Set(df, id));
    hn::StoreU(NarrowTo<int8_t>(hn::ConvertTo(di, RoundHalfAway(v))), d8, q + j);
  }
}

// Q8_K: the signed element of largest |x| (the first of equals) gives
// iscale = -127 / max; q = min(nearest_int(iscale * x), 127), exact through
// ggml's own magic add; bsums are the sums of 16 codes; d = 1 / iscale.
// All-zero blocks, like non-finite ones, take the reference.
void EncodeQ8_KBlock(const Layout& l, const float* HWY_RESTRICT x, uint8_t* HWY_RESTRICT out) {
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const size_t N = hn::Lanes(df);
  const size_t n = static_cast<size_t>(l.block_elements);
  constexpr size_t kGroup = 16;  // elements per bsum, stored after the codes
  const int32_t amax_bits = MaxAbsKey<F32View>(x, n);
  float max = 0.0f;
  for (size_t j = 0; amax_bits < F32View::kInfKey && j < n; j += N) {
    const auto at = hn::Eq(AbsBits(hn::LoadU(df, x + j)), hn::Set(di, amax_bits));
    if (!hn::AllFalse(di, at)) {
      max = x[j + static_cast<size_t>(hn::FindFirstTrue(di, at))];
      break;
    }
  }
  const float iscale = -127.0f / max;
  if (amax_bits >= F32View::kInfKey || amax_bits == 0 || !std::isfinite(iscale)) {
    return QuantizeBlockQ8_K(x, out);
  }
  int8_t* qs = reinterpret_cast<int8_t*>(out + l.codes.codes_offset);
  int16_t bsums[kQK_K / kGroup] = {};
  for (size_t g = 0; g < n; g += kGroup) {
    VI sum = hn::Zero(di);
    for (size_t j = g; j < g + kGroup; j += N) {
      const VF biased = hn::Add(hn::Mul(hn::Set(df, iscale), hn::LoadU(df, x + j)),
                                hn::Set(df, 12582912.0f));
      const VI v = hn::Sub(hn::And(hn::BitCast(di, biased), hn::Set(di, 0x007FFFFF)),
                           hn::Set(di, 0x00400000));
      const VI q = hn::Min(v, hn::Set(di, 127));
      hn::StoreU(NarrowTo<int8_t>(q), d8, qs + j);
      sum = hn::Add(sum, q);
    }
    bsums[g / kGroup] = static_cast<int16_t>(hn::GetLane(hn::SumOfLanes(di, sum)));
  }
  const float d = 1.0f / iscale;
  memcpy(out + l.scale_offset, &d, sizeof d);
  memcpy(out + l.codes.codes_offset + n, bsums, sizeof bsums);
}

void EncodeInt8(const Layout& l, LayoutId type, const void* HWY_RESTRICT x, size_t nblocks,
                uint8_t* HWY_RESTRICT out) {
  const size_t n = static_cast<size_t>(l.block_elements);
  HWY_ALIGN float values[kMaxBlock];
  for (size_t b = 0; b < nblocks; ++b, out += l.block_bytes) {
    const float* f = values;
    if (type == LayoutId::kF32) {
      f = static_cast<const float*>(x) + b * n;
    } else {
      ElementsToFloats(type, static_cast<const uint16_t*>(x) + b * n, n, values);
    }
    if (l.id == LayoutId::kQ8_0) {
      EncodeQ8_0Block(l, f, out);
    } else {
      EncodeQ8_KBlock(l, f, out);
    }
  }
}

// A block's floats to yb as `type`; streamed, through a buffer (these
// blocks' outputs are whole multiples of 64 bytes: 32 or 256 elements).
void PutBlock(LayoutId type, const float* HWY_RESTRICT values, size_t n, Stores stores, void* HWY_RESTRICT yb) {
  if (stores == Stores::kCached) return FloatsToElements(type, values, n, yb);
  HWY_ALIGN uint8_t staged[kMaxBlock * sizeof(float)];
  FloatsToElements(type, values, n, staged);
  StreamBytes<hn::CappedTag<uint8_t, 64>>(staged, n * (type == LayoutId::kF32 ? sizeof(float) : sizeof(uint16_t)),
                                          yb);
}

// (float)q * d, and Q8_K's d * (float)q: the same product (only d can be
// NaN). A non-finite d takes the reference (X86Mul's NaN). Other element
// types convert the block's floats.
void DecodeInt8(const Layout& l, LayoutId type, const uint8_t* HWY_RESTRICT in, size_t nblocks,
                void* HWY_RESTRICT y, Stores stores) {
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const size_t n = static_cast<size_t>(l.block_elements);
  const size_t element_bytes = type == LayoutId::kF32 ? sizeof(float) : sizeof(uint16_t);
  const bool in_place = type == LayoutId::kF32 && stores == Stores::kCached;
  HWY_ALIGN float values[kMaxBlock];
  for (size_t b = 0; b < nblocks; ++b, in += l.block_bytes) {
    float* f = in_place ? static_cast<float*>(y) + b * n : values;
    float scale;
    if (l.scale == ScaleKind::kBlockF32) {
      memcpy(&scale, in + l.scale_offset, sizeof scale);
    } else {
      scale = LoadHalf(in + l.scale_offset);
    }
    if (HWY_UNLIKELY(!std::isfinite(scale))) {  // 0 * Inf: the reference's NaN bits
      ReferenceDecodeBlocks(l.id, in, 1, f);
    } else {
      const VF d = hn::Set(df, scale);
      const int8_t* q = reinterpret_cast<const int8_t*>(in + l.codes.codes_offset);
      for (size_t j = 0; j < n; j += hn::Lanes(df)) {
        hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, q + j))), d), df, f + j);
      }
    }
    if (!in_place) PutBlock(type, values, n, stores, static_cast<uint8_t*>(y) + b * n * element_bytes);
  }
}

// IQ2_S: the reference's floats, converted.
void DecodeIq2s(const Layout& l, LayoutId type, const uint8_t* HWY_RESTRICT in, size_t nblocks,
                void* HWY_RESTRICT y, Stores stores) {
  if (type == LayoutId::kF32 && stores == Stores::kCached) {
    return ReferenceDecodeBlocks(l.id, in, nblocks, static_cast<float*>(y));
  }
  const size_t n = static_cast<size_t>(l.block_elements);
  const size_t element_bytes = type == LayoutId::kF32 ? sizeof(float) : sizeof(uint16_t);
  HWY_ALIGN float values[kMaxBlock];
  for (size_t b = 0; b < nblocks; ++b) {
    ReferenceDecodeBlocks(l.id, in + b * l.block_bytes, 1, values);
    PutBlock(type, values, n, stores, static_cast<uint8_t*>(y) + b * n * element_bytes);
  }
}

// ---- dispatch over the layouts and element types ------------------------------------

template <LayoutId kId, class View>
void EncodeTernaryAs(void (*reference)(const float*, uint8_t*), const void* x, size_t nblocks, uint8_t* out) {
  EncodeTernary<kId, View>(reference, static_cast<const typename View::Stored*>(x), nblocks, out);
}

template <LayoutId kId>
void EncodeTernaryOf(void (*reference)(const float*, uint8_t*), LayoutId type, const void* HWY_RESTRICT x,
                     size_t nblocks, uint8_t* HWY_RESTRICT out) {
  if (type == LayoutId::kBF16) return EncodeTernaryAs<kId, BF16View>(reference, x, nblocks, out);
  if (type == LayoutId::kF16) return EncodeTernaryAs<kId, F16View>(reference, x, nblocks, out);
  EncodeTernaryAs<kId, F32View>(reference, x, nblocks, out);
}

template <LayoutId kId, Stores kStores>
void DecodeTernaryAs(LayoutId type, const uint8_t* HWY_RESTRICT in, size_t nblocks, void* HWY_RESTRICT y) {
  if (type == LayoutId::kF32) return DecodeTernary<kId, F32Out, kStores>(type, in, nblocks, static_cast<float*>(y));
  DecodeTernary<kId, Bits16Out, kStores>(type, in, nblocks, static_cast<uint16_t*>(y));
}

template <LayoutId kId>
void DecodeTernaryOf(LayoutId type, const uint8_t* HWY_RESTRICT in, size_t nblocks, void* HWY_RESTRICT y,
                     Stores stores) {
  if (stores == Stores::kStreamed) return DecodeTernaryAs<kId, Stores::kStreamed>(type, in, nblocks, y);
  DecodeTernaryAs<kId, Stores::kCached>(type, in, nblocks, y);
}

// `type` is F32, F16 or BF16 (the API checks).
void EncodeBlocks(LayoutId id, LayoutId type, const void* HWY_RESTRICT x, size_t nblocks,
                  uint8_t* HWY_RESTRICT out) {
  ReportThisTarget();
  const Layout& l = GetLayout(id);
  switch (id) {
    case LayoutId::kTQ1_0: return EncodeTernaryOf<LayoutId::kTQ1_0>(QuantizeBlockTQ1_0, type, x, nblocks, out);
    case LayoutId::kTQ2_0: return EncodeTernaryOf<LayoutId::kTQ2_0>(QuantizeBlockTQ2_0, type, x, nblocks, out);
    case LayoutId::kQ2_0: return EncodeTernaryOf<LayoutId::kQ2_0>(QuantizeBlockQ2_0, type, x, nblocks, out);
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
      return EncodeInt8(l, type, x, nblocks, out);
    case LayoutId::kIQ2_S:  // decode only
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kI2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;  // not block-local encoders: the tensor operations never ask
  }
}

void DecodeBlocks(LayoutId id, const uint8_t* HWY_RESTRICT in, size_t nblocks, LayoutId type,
                  void* HWY_RESTRICT y, Stores stores) {
  ReportThisTarget();
  const Layout& l = GetLayout(id);
  switch (id) {
    case LayoutId::kTQ1_0: return DecodeTernaryOf<LayoutId::kTQ1_0>(type, in, nblocks, y, stores);
    case LayoutId::kTQ2_0: return DecodeTernaryOf<LayoutId::kTQ2_0>(type, in, nblocks, y, stores);
    case LayoutId::kQ2_0: return DecodeTernaryOf<LayoutId::kQ2_0>(type, in, nblocks, y, stores);
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
      return DecodeInt8(l, type, in, nblocks, y, stores);
    case LayoutId::kIQ2_S: return DecodeIq2s(l, type, in, nblocks, y, stores);  // see the top
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kI2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;  // not block-local decoders: the tensor operations never ask
  }
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(EncodeBlocks);
HWY_EXPORT(DecodeBlocks);

void HwyGgmlKernels(int64_t hwy_target, TensorKernels* k) {
  k->encode_blocks = HwyTableEntry(HWY_DISPATCH_TABLE(EncodeBlocks), hwy_target);
  k->decode_blocks = HwyTableEntry(HWY_DISPATCH_TABLE(DecodeBlocks), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
