#include "tensor/tensor_ops.h"

#include <algorithm>
#include <atomic>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "api/errors.h"
#include "formats/absmean.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/bitnet_rs_quantizer.h"
#include "formats/half.h"
#include "formats/ternary_codes.h"
#include "tensor/parallel.h"

namespace bitnet {
namespace {

// Elements per step: a multiple of every block size (256, 128, 64, 32), so a
// step is whole blocks; 16 KiB of floats stays in L1.
constexpr size_t kStep = 4096;

// Outputs of dequantize from this size on are written with non-temporal
// stores (unless BITNET_TENSOR_CACHED_OUTPUT): more than a core's share of
// the last-level cache on the machines measured, so the caches would not
// keep them anyway, and ordinary stores read every line before writing it
// (2-3x slower on the second development machine).
constexpr size_t kStreamOutputBytes = size_t{8} << 20;

// Targets of a byte re-pack from this size on are written with non-temporal
// stores (unless BITNET_TENSOR_CACHED_OUTPUT). I2_S <-> TQ2_0 at 16 Mi
// elements (4 MiB) from memory: 16-37 % faster on the second development
// machine, 23-37 % on the first (with StreamBytes's ordinary store per
// page); in cache, 25-35 % slower at 1 MiB, -11 to +15 % at 4 MiB.
constexpr size_t kStreamRepackBytes = size_t{4} << 20;

// Code bytes per chunk of a byte re-pack's checking pass: small enough
// that L2 still holds a chunk when its scales are read after its codes.
constexpr size_t kRepackChunkBytes = size_t{64} << 10;

size_t Steps(size_t n, size_t step) { return n / step + (n % step != 0); }

uint8_t* Bytes(void* p) { return static_cast<uint8_t*>(p); }
const uint8_t* Bytes(const void* p) { return static_cast<const uint8_t*>(p); }

// Element types: block_bytes is the element size.
size_t ElementSize(const Layout& l) { return l.block_bytes; }

// f32 view of elements [i, i + count) of an F32, F16 or BF16 tensor.
class FloatSource {
 public:
  FloatSource(const TensorKernels& k, const Layout& l, const void* base)
      : k_(k), l_(l), base_(base) {}
  const float* Get(size_t i, size_t count, float* buffer) const {
    if (l_.id == LayoutId::kF32) return static_cast<const float*>(base_) + i;
    k_.to_float(l_.id, Bytes(base_) + i * ElementSize(l_), count, buffer);
    return buffer;
  }
  bool IsF32() const { return l_.id == LayoutId::kF32; }
  LayoutId type() const { return l_.id; }
  // Element i as stored.
  const void* At(size_t i) const { return Bytes(base_) + i * ElementSize(l_); }

 private:
  const TensorKernels& k_;
  const Layout& l_;
  const void* base_;
};

// Elements as the codecs take them: stored in `type` at `data`.
struct Elements {
  LayoutId type;
  const void* data;
};

int OutOfMemory(size_t floats) {
  return Fail(BITNET_E_OUT_OF_MEMORY, "out of memory for the scratch of the threads (%zu floats each)",
              2 * floats);
}

// ---- absmean ---------------------------------------------------------------

struct UnitScale {
  float s;          // the inverse scale the codes use
  float threshold;  // |x * s| > threshold is +-1
  float alpha;      // value of code +1
  bool ternary;     // the unit was already ternary
};

void ReportNonFinite(const FloatSource& src, const TensorShape& shape, size_t start, size_t len) {
  std::vector<float> buffer(src.IsF32() ? 0 : len);
  const float* x = src.Get(start, len, buffer.data());
  for (size_t i = 0; i < len; ++i) {
    if (!std::isfinite(x[i])) {
      const size_t at = start + i;
      Fail(BITNET_E_INVALID_DATA,
           "element (%zu, %zu) is %s: absmean ternarization needs finite weights",
           at / static_cast<size_t>(shape.cols), at % static_cast<size_t>(shape.cols),
           std::isnan(x[i]) ? "NaN" : "infinite");
      return;
    }
  }
}

int AbsmeanScales(const TensorJob& job, const FloatSource& src, const TensorShape& shape,
                  int64_t group_size, std::vector<UnitScale>* units) {
  const TensorKernels& k = *job.kernels->tensor;
  const size_t width = AbsmeanUnitWidth(shape, group_size);
  const size_t count = AbsmeanUnits(shape, group_size);
  const size_t chunks = Steps(width, kAbsSumChunk);
  std::vector<double> sums(count * chunks);
  std::vector<TernaryScan> scans(count * chunks);
  const size_t scratch = src.IsF32() ? 0 : (width < kAbsSumChunk ? width : kAbsSumChunk);
  Workers workers(job.threads, scratch);
  if (!workers.ok()) return OutOfMemory(scratch);
  workers.Run(count * chunks, [&](Scratch& s, size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      const size_t offset = (t % chunks) * kAbsSumChunk;
      const size_t len = width - offset < kAbsSumChunk ? width - offset : kAbsSumChunk;
      const float* x = src.Get((t / chunks) * width + offset, len, s.a.get());
      sums[t] = k.abs_scan_chunk(x, len, &scans[t]);
    }
  });
  units->resize(count);
  for (size_t u = 0; u < count; ++u) {
    double sum = 0.0;
    TernaryScan scan{true, true, 0.0f};
    for (size_t c = 0; c < chunks; ++c) {
      const size_t t = u * chunks + c;
      if (!scans[t].finite) {
        const size_t offset = c * kAbsSumChunk;
        ReportNonFinite(src, shape, u * width + offset,
                        width - offset < kAbsSumChunk ? width - offset : kAbsSumChunk);
        return BITNET_E_INVALID_DATA;
      }
      sum += sums[t];
      scan = c == 0 ? scans[t] : MergeScans(scan, scans[t]);
    }
    if (scan.ternary && scan.magnitude > 0.0f) {
      // Already ternary: the codes are the signs and alpha the magnitude.
      (*units)[u] = {1.0f / scan.magnitude, kDefaultThreshold, scan.magnitude, true};
    } else {
      const float s = AbsmeanInverseScale(sum, width);
      (*units)[u] = {s, job.threshold, 1.0f / s, false};
    }
  }
  return BITNET_OK;
}

// Values of elements [i, i + count): the source's, or its ternarized values
// q * alpha when absmean runs first.
class ValueSource {
 public:
  ValueSource(const TensorJob& job, const FloatSource& src, const TensorShape& shape,
              const std::vector<UnitScale>* units)
      : k_(*job.kernels->tensor), src_(src), units_(units),
        width_(units != nullptr ? AbsmeanUnitWidth(shape, job.group_size) : 0) {}

  const float* Get(size_t i, size_t count, Scratch& s) const {
    const float* x = src_.Get(i, count, s.a.get());
    if (units_ == nullptr) return x;
    for (size_t done = 0; done < count;) {
      const size_t at = i + done;
      const size_t unit = at / width_;
      const size_t in_unit = (unit + 1) * width_ - at;
      const size_t len = count - done < in_unit ? count - done : in_unit;
      const UnitScale& u = (*units_)[unit];
      k_.ternary_values(x + done, len, u.s, u.threshold, u.alpha, s.b.get() + done);
      done += len;
    }
    return s.b.get();
  }

  // Whether the codecs read the source's own elements: GetElements takes
  // any count then, not only a step's.
  bool SourceElements() const { return units_ == nullptr; }

  // Elements [i, i + count) for a codec: the source's own, or (absmean)
  // their values as F32.
  Elements GetElements(size_t i, size_t count, Scratch& s) const {
    if (units_ == nullptr) return {src_.type(), src_.At(i)};
    return {LayoutId::kF32, Get(i, count, s)};
  }

 private:
  const TensorKernels& k_;
  const FloatSource& src_;
  const std::vector<UnitScale>* units_;
  size_t width_;
};

// ---- quantize ----------------------------------------------------------------

// One pass: each step is coded under its own scale while it is in cache;
// those are the tensor scale's codes (see TensorKernels::i2s_encode).
void QuantizeI2S(const TensorJob& job, Workers& workers, const ValueSource& values, size_t n,
                 uint8_t* out) {
  const TensorKernels& k = *job.kernels->tensor;
  const size_t steps = Steps(n, kStep);
  std::vector<float> part_scales(steps);
  workers.Run(steps, [&](Scratch& s, size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const size_t count = n - t * kStep < kStep ? n - t * kStep : kStep;
      const Elements x = values.GetElements(t * kStep, count, s);
      part_scales[t] = k.i2s_encode(x.type, x.data, count, out + t * kStep / 4);
    }
  });
  float scale = 0.0f;
  for (float p : part_scales) scale = I2SScaleMerge(scale, p);
  WriteI2STail(scale, out + n / 4);
}

// Elements per step of BitNet-rs's layout: whole blocks.
size_t BitnetRsStep(uint32_t block) { return block * Steps(kStep, block); }

int QuantizeBitnetRs(const TensorJob& job, Workers& workers, const ValueSource& values, size_t n,
                     uint8_t* out) {
  const size_t block = job.rs_block;
  const size_t step = BitnetRsStep(job.rs_block);
  const size_t steps = Steps(n, step);
  // BitNet-rs rejects an input without a finite element; look first.
  std::vector<unsigned char> finite(steps);
  workers.Run(steps, [&](Scratch& s, size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const size_t count = n - t * step < step ? n - t * step : step;
      finite[t] = HasFiniteElement(values.Get(t * step, count, s), count);
    }
  });
  bool any = n == 0;
  for (unsigned char f : finite) any = any || f;
  if (!any) {
    return Fail(BITNET_E_ALL_NONFINITE,
                "BITNET_RS_I2S input of %zu elements has no finite element (BitNet-rs: "
                "MalformedData)", n);
  }
  const size_t codes_bytes = n / 4 + (n % 4 != 0);
  workers.Run(steps, [&](Scratch& s, size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const size_t first = t * step;
      const size_t count = n - first < step ? n - first : step;
      const size_t blocks = count / block + (count % block != 0);
      const float* x = values.Get(first, count, s);
      // The planar scales follow the codes at any byte offset: staged
      // aligned in the scratch's unused buffer.
      float* scales = x == s.a.get() ? s.b.get() : s.a.get();
      job.kernels->quantize(Format::kI2S, x, count, block, out + first / 4, scales);
      memcpy(out + codes_bytes + first / block * sizeof(float), scales, blocks * sizeof(float));
    }
  });
  return BITNET_OK;
}

void QuantizeHf(const TensorJob& job, Workers& workers, const FloatSource& src,
                const TensorShape& shape, const UnitScale& unit, uint8_t* out) {
  const TensorKernels& k = *job.kernels->tensor;
  const size_t cols = static_cast<size_t>(shape.cols);
  const size_t byte_rows = static_cast<size_t>(shape.rows) / 4;
  // transformers stores s as weight_scale (value q / s); an already-ternary
  // tensor of magnitude a keeps q * a as q / (1/a).
  const float weight_scale = unit.ternary ? 1.0f / unit.alpha : unit.s;
  workers.Run(shape.n > 0 ? byte_rows : 0, [&](Scratch& s, size_t b, size_t e) {
    // The four rows' codes, one int8 each, in the second buffer (4*cols floats).
    int8_t* q = reinterpret_cast<int8_t*>(s.b.get());
    for (size_t br = b; br < e; ++br) {
      for (size_t part = 0; part < 4; ++part) {
        const size_t row = part * byte_rows + br;
        k.ternarize(src.Get(row * cols, cols, s.a.get()), cols, unit.s, unit.threshold,
                    q + part * cols);
      }
      for (size_t c = 0; c < cols; ++c) {
        unsigned byte = 0;
        for (size_t part = 0; part < 4; ++part) byte |= static_cast<unsigned>(q[part * cols + c] + 1) << (2 * part);
        out[br * cols + c] = static_cast<uint8_t>(byte);
      }
    }
  });
  memcpy(out + shape.n / 4, &weight_scale, sizeof weight_scale);
}

}  // namespace

size_t AbsmeanUnitWidth(const TensorShape& shape, int64_t group_size) {
  if (group_size == 0) return shape.n;
  if (group_size < 0) return static_cast<size_t>(shape.cols);
  return static_cast<size_t>(group_size);
}

int TensorQuantize(const TensorJob& job, const Layout& dst, void* out, const Layout& src,
                   const void* in, const TensorShape& shape) {
  const TensorKernels& k = *job.kernels->tensor;
  const FloatSource floats(k, src, in);
  const size_t n = shape.n;
  std::vector<UnitScale> units;
  // HF_BITNET's own rule is absmean over the tensor.
  const bool absmean = job.absmean || dst.id == LayoutId::kHfBitnet;
  if (absmean && n > 0) {
    const int status = AbsmeanScales(job, floats, shape, job.absmean ? job.group_size : 0, &units);
    if (status != BITNET_OK) return status;
  }
  const ValueSource values(job, floats, shape, job.absmean && n > 0 ? &units : nullptr);
  size_t scratch = kStep;
  if (dst.id == LayoutId::kBitnetRsI2S) scratch = BitnetRsStep(job.rs_block);
  if (dst.id == LayoutId::kHfBitnet) scratch = n > 0 ? static_cast<size_t>(shape.cols) : 0;
  Workers workers(job.threads, scratch);
  if (!workers.ok()) return OutOfMemory(scratch);
  const size_t steps = Steps(n, kStep);
  auto count_of = [&](size_t t) { return n - t * kStep < kStep ? n - t * kStep : kStep; };
  switch (dst.id) {
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
      workers.Run(steps, [&](Scratch& s, size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) {
          k.from_float(dst.id, values.Get(t * kStep, count_of(t), s), count_of(t),
                       Bytes(out) + t * kStep * ElementSize(dst));
        }
      });
      return BITNET_OK;
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kQ2_0:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K: {
      const size_t block = static_cast<size_t>(dst.block_elements);
      workers.Run(steps, [&](Scratch& s, size_t b, size_t e) {
        // The source's own elements: a worker's steps in one call, so that
        // the encoder's prefetches of its next blocks run ahead across
        // steps (a step is a single batch of 256-element blocks on
        // AVX-512, which left them nothing to fetch).
        const size_t per_call = values.SourceElements() ? e - b : 1;
        for (size_t t = b; t < e; t += per_call) {
          const size_t first = t * kStep, count = std::min(n, (t + per_call) * kStep) - first;
          const Elements x = values.GetElements(first, count, s);
          k.encode_blocks(dst.id, x.type, x.data, count / block, Bytes(out) + first / block * dst.block_bytes);
        }
      });
      return BITNET_OK;
    }
    case LayoutId::kI2_S:
      QuantizeI2S(job, workers, values, n, Bytes(out));
      return BITNET_OK;
    case LayoutId::kBitnetRsI2S:
      return QuantizeBitnetRs(job, workers, values, n, Bytes(out));
    case LayoutId::kHfBitnet: {
      const UnitScale empty{AbsmeanInverseScale(0.0, 0), kDefaultThreshold, 0.0f, false};
      QuantizeHf(job, workers, floats, shape, n > 0 ? units[0] : empty, Bytes(out));
      return BITNET_OK;
    }
    case LayoutId::kIQ2_S:
      break;  // decode only: the API refuses it before
  }
  return Fail(BITNET_E_INVALID_TYPE, "%s cannot be a quantize destination", dst.name);
}

// ---- dequantize --------------------------------------------------------------

int TensorDequantize(const TensorJob& job, const Layout& dst, void* out, const Layout& src,
                     const void* in, const TensorShape& shape) {
  const TensorKernels& k = *job.kernels->tensor;
  const size_t n = shape.n;
  const size_t dst_size = ElementSize(dst);
  if (n == 0) return BITNET_OK;
  // A large output is written past the caches: by the codecs themselves
  // (run_direct, at an aligned destination), else a step at a time made in
  // a thread's buffer (L1) and streamed from there.
  const bool stream = n * dst_size >= kStreamOutputBytes && (job.flags & BITNET_TENSOR_CACHED_OUTPUT) == 0;
  // Where the step at element `first` is made: the destination itself, or
  // (streamed) `buffer`, which finish_step then copies out.
  const auto step_out = [&](size_t first, void* buffer) -> void* {
    return stream ? buffer : Bytes(out) + first * dst_size;
  };
  const auto finish_step = [&](size_t first, size_t count, const void* made) {
    if (stream) k.stream_out(made, count * dst_size, Bytes(out) + first * dst_size);
  };
  // Runs decode(first, count, y, scratch) over steps of `step` elements,
  // y being f32 output (the destination itself when it is F32 and not
  // streamed).
  auto run_steps = [&](size_t step, const auto& decode) -> int {
    Workers workers(job.threads, step);
    if (!workers.ok()) return OutOfMemory(step);
    workers.Run(Steps(n, step), [&](Scratch& s, size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) {
        const size_t first = t * step;
        const size_t count = n - first < step ? n - first : step;
        float* y = dst.id == LayoutId::kF32 ? static_cast<float*>(step_out(first, s.a.get())) : s.a.get();
        decode(first, count, y, s);
        void* made = y;
        if (dst.id != LayoutId::kF32) {
          made = step_out(first, s.b.get());
          k.from_float(dst.id, y, count, made);
        }
        finish_step(first, count, made);
      }
      if (stream) k.stream_fence();
    });
    return BITNET_OK;
  };
  // The codecs write the destination's type themselves: decode(first,
  // count, y, stores) with y element `first` of the output, or of a
  // thread's buffer. They stream to an aligned destination themselves, so
  // that the stores overlap the decoding; to another one through the buffer.
  const bool via_buffer = stream && reinterpret_cast<uintptr_t>(out) % kStreamAlignment != 0;
  auto run_direct = [&](const auto& decode) -> int {
    const size_t buffer = via_buffer ? kStep : 0;
    Workers workers(job.threads, buffer);
    if (!workers.ok()) return OutOfMemory(buffer);
    workers.Run(Steps(n, kStep), [&](Scratch& s, size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) {
        const size_t first = t * kStep;
        const size_t count = n - first < kStep ? n - first : kStep;
        if (via_buffer) {
          decode(first, count, s.a.get(), Stores::kCached);
          finish_step(first, count, s.a.get());
        } else {
          decode(first, count, Bytes(out) + first * dst_size, stream ? Stores::kStreamed : Stores::kCached);
        }
      }
      if (stream) k.stream_fence();
    });
    return BITNET_OK;
  };
  switch (src.id) {
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
      return run_steps(kStep, [&](size_t first, size_t count, float* y, Scratch&) {
        k.to_float(src.id, Bytes(in) + first * ElementSize(src), count, y);
      });
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kQ2_0:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S: {
      const size_t block = static_cast<size_t>(src.block_elements);
      return run_direct([&](size_t first, size_t count, void* y, Stores stores) {
        k.decode_blocks(src.id, Bytes(in) + first / block * src.block_bytes, count / block, dst.id, y, stores);
      });
    }
    case LayoutId::kI2_S: {
      const float scale = ReadI2SScale(Bytes(in) + n / 4);
      return run_direct([&](size_t first, size_t count, void* y, Stores stores) {
        k.i2s_decode(Bytes(in) + first / 4, count, scale, dst.id, y, stores);
      });
    }
    case LayoutId::kHfBitnet: {
      float weight_scale;
      memcpy(&weight_scale, Bytes(in) + n / 4, sizeof weight_scale);
      const size_t cols = static_cast<size_t>(shape.cols);
      const size_t byte_rows = static_cast<size_t>(shape.rows) / 4;
      return run_steps(cols, [&](size_t first, size_t, float* y, Scratch&) {
        const size_t row = first / cols;
        const uint8_t* bytes = Bytes(in) + (row % byte_rows) * cols;
        const unsigned shift = static_cast<unsigned>(2 * (row / byte_rows));
        for (size_t c = 0; c < cols; ++c) {
          y[c] = static_cast<float>(static_cast<int>((bytes[c] >> shift) & 3u) - 1) / weight_scale;
        }
      });
    }
    case LayoutId::kBitnetRsI2S: {
      const size_t block = job.rs_block;
      const size_t codes_bytes = n / 4 + (n % 4 != 0);
      return run_steps(BitnetRsStep(job.rs_block), [&](size_t first, size_t count, float* y,
                                                        Scratch& s) {
        // The planar scales may sit at any byte offset: copy them aligned.
        const size_t blocks = count / block + (count % block != 0);
        float* scales = s.b.get();
        memcpy(scales, Bytes(in) + codes_bytes + first / block * sizeof(float),
               blocks * sizeof(float));
        job.kernels->dequantize(Format::kI2S, Bytes(in) + first / 4, scales, count, block, y);
      });
    }
  }
  return Fail(BITNET_E_INVALID_TYPE, "%s cannot be dequantized", src.name);
}

// ---- transcode -------------------------------------------------------------------

namespace {

// The code (stored number) and value scale of element i of a ternary tensor.
class CodeReader {
 public:
  CodeReader(const Layout& l, const uint8_t* base, const TensorShape& shape, uint32_t rs_block)
      : l_(l), base_(base), shape_(shape),
        block_(static_cast<size_t>(BlockElements(l, rs_block))),
        parts_(PartsOf(l, shape.n, rs_block)) {}

  int Value(size_t i) const { return static_cast<int>(Code(i)) - l_.code_offset; }

  unsigned Code(size_t i) const {
    switch (l_.codes.kind) {
      case CodeMapKind::kRowInterleaved: {
        const size_t cols = static_cast<size_t>(shape_.cols);
        const size_t byte_rows = static_cast<size_t>(shape_.rows) / 4;
        const size_t row = i / cols;
        return (base_[(row % byte_rows) * cols + i % cols] >> (2 * (row / byte_rows))) & 3u;
      }
      case CodeMapKind::kTwoBit:
        if (l_.scale == ScaleKind::kBlockF32Planar) return (base_[i / 4] >> (2 * (i % 4))) & 3u;
        return BlockCode(l_, base_ + i / block_ * l_.block_bytes, i % block_);
      case CodeMapKind::kTrits:
        return BlockCode(l_, base_ + i / block_ * l_.block_bytes, i % block_);
      case CodeMapKind::kElement:
      case CodeMapKind::kInt8:
      case CodeMapKind::kIq2sGrid:
        break;
    }
    return 0;
  }

  // The scale that multiplies element i's code: a block's or the tensor's
  // (HF_BITNET: 1 / weight_scale, the value of code +1).
  float Scale(size_t i) const {
    switch (l_.scale) {
      case ScaleKind::kBlockF16: {
        uint16_t h;
        memcpy(&h, base_ + i / block_ * l_.block_bytes + l_.scale_offset, sizeof h);
        return HalfToFloat(h);
      }
      case ScaleKind::kBlockF32Planar: {
        float s;
        memcpy(&s, base_ + parts_.scales_offset + i / block_ * sizeof(float), sizeof s);
        return s;
      }
      case ScaleKind::kTensorF32:
        return ReadI2SScale(base_ + parts_.scales_offset);
      case ScaleKind::kTensorF32Divisor: {
        float ws;
        memcpy(&ws, base_ + parts_.scales_offset, sizeof ws);
        return 1.0f / ws;
      }
      case ScaleKind::kNone:
      case ScaleKind::kBlockF32:
        break;
    }
    return 0.0f;
  }

  // The stored scale numbers and whether each is finite, for the checks.
  bool AllScalesFinite(size_t* bad_scale_element) const {
    const size_t count = l_.scale == ScaleKind::kTensorF32 || l_.scale == ScaleKind::kTensorF32Divisor
                             ? 1 : parts_.num_blocks;
    for (size_t b = 0; b < count; ++b) {
      if (l_.scale == ScaleKind::kBlockF16) {  // the bits: a conversion per block costs more than the rest
        uint16_t h;
        memcpy(&h, base_ + b * l_.block_bytes + l_.scale_offset, sizeof h);
        if (HalfIsFinite(h)) continue;
        *bad_scale_element = b * block_;
        return false;
      }
      const float stored = l_.scale == ScaleKind::kTensorF32Divisor ? 1.0f / Scale(0) : Scale(b * block_);
      if (!std::isfinite(stored) || (l_.scale == ScaleKind::kTensorF32Divisor && stored == 0.0f)) {
        *bad_scale_element = b * block_;
        return false;
      }
    }
    return true;
  }

  size_t block() const { return block_; }

 private:
  const Layout& l_;
  const uint8_t* base_;
  TensorShape shape_;
  size_t block_;
  TensorParts parts_;
};

bool ScaleHoldsExactly(const Layout& dst, float alpha, float* stored) {
  switch (dst.scale) {
    case ScaleKind::kBlockF16:
      *stored = HalfToFloat(FloatToHalf(alpha));
      return *stored == alpha;
    case ScaleKind::kTensorF32Divisor: {
      const float ws = 1.0f / alpha;
      *stored = ws;
      return 1.0f / ws == alpha;
    }
    case ScaleKind::kBlockF32Planar:
    case ScaleKind::kTensorF32:
      *stored = alpha;
      return true;
    case ScaleKind::kNone:
    case ScaleKind::kBlockF32:
      break;
  }
  *stored = alpha;
  return false;
}

// Block layouts a transcode can walk block by block: every block size
// divides kStep, so a step holds whole blocks of both sides.
bool IsTernaryBlockLayout(LayoutId id) {
  switch (id) {
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kQ2_0:
    case LayoutId::kI2_S:
      return true;
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return false;
  }
  return false;
}

// What a step of the source says about the target's scale groups.
struct StepFinding {
  size_t bad_value_at = SIZE_MAX;     // element holding a value the target cannot hold
  int bad_value = 0;
  size_t disagreement_at = SIZE_MAX;  // first target group whose non-zero elements disagree
  float disagreement[2] = {0, 0};
};

float BlockScale(const Layout& l, const uint8_t* base, size_t n, size_t element) {
  if (l.scale == ScaleKind::kTensorF32) return ReadI2SScale(base + n / 4);
  const size_t block = static_cast<size_t>(l.block_elements);
  uint16_t h;
  memcpy(&h, base + element / block * l.block_bytes + l.scale_offset, sizeof h);
  return HalfToFloat(h);
}

// The half every non-zero target block of a one-pass transcode gets from a
// per-tensor source (or unit scales); false when the target cannot hold it
// exactly and rounding is not allowed (the checking pass then says so).
// A per-block source (f16, as the target) keeps each block's own bits.
bool OnePassScale(const TensorJob& job, const Layout& src, const uint8_t* in, size_t n, uint16_t* half) {
  const bool unit = (job.flags & BITNET_TENSOR_UNIT_SCALE) != 0;
  if (src.scale != ScaleKind::kTensorF32 && !unit) return true;  // the blocks' own
  const float alpha = unit ? 1.0f : BlockScale(src, in, n, 0);
  *half = FloatToHalf(alpha);
  return HalfToFloat(*half) == alpha || (job.flags & BITNET_TENSOR_ALLOW_SCALE_ROUNDING) != 0;
}

// True when the source's values of codes up to top_code fit the target.
bool ValuesFit(const Layout& src, const Layout& dst, int top_code) {
  return src.code_offset <= dst.code_offset && top_code - src.code_offset <= dst.code_max - dst.code_offset;
}

// True when every target block lies inside one source scale group.
bool InsideOneScale(const Layout& src, const Layout& dst) {
  return dst.scale == ScaleKind::kBlockF16 &&
         (src.scale == ScaleKind::kTensorF32 ||
          (src.scale == ScaleKind::kBlockF16 && src.block_elements % dst.block_elements == 0));
}

// What one pass over the n elements of a block-layout source finds, a
// step at a time split between the threads: the first element whose block
// scale is not finite, whether a two-bit code is 3 (scanned only when
// asked), and whether every block stores the first block's scale bits.
struct SourceScan {
  size_t nonfinite_at = SIZE_MAX;
  bool code3 = false;
  bool uniform = false;  // a per-block source whose blocks all store `half`
  uint16_t half = 0;
};

// The source bytes ScanSource takes at a time (its code scan, then its
// scales): 16 KiB measured 1.03x and 1 KiB 1.04-1.12x for TQ2_0 -> TQ1_0.
constexpr size_t kScanBytes = 1024;
SourceScan ScanSource(int threads, const TensorKernels& k, const Layout& src, const uint8_t* in, size_t n,
                      bool find_code3) {
  SourceScan scan;
  if (src.scale != ScaleKind::kBlockF16) {  // one f32 tensor scale (I2_S)
    if (!std::isfinite(BlockScale(src, in, n, 0))) scan.nonfinite_at = 0;
  } else {
    memcpy(&scan.half, in + src.scale_offset, sizeof scan.half);
  }
  const size_t block = static_cast<size_t>(src.block_elements), steps = Steps(n, kStep);
  const size_t parts = std::min<size_t>(static_cast<size_t>(threads), steps);
  std::vector<SourceScan> found(parts);  // each part's, merged below
  ParallelFor(parts, steps, [&](size_t part, size_t b, size_t e) {
    SourceScan& f = found[part];
    f.uniform = true;
    const size_t first = b * kStep / block, end = e * kStep < n ? e * kStep / block : n / block;
    // kScanBytes of blocks at a time, their codes then their scales, so
    // that the scales are read from the lines the code scan has just
    // brought in (scanned one after the other, the codes then the scales
    // of the whole part, a two-bit source was read three times by TQ2_0 ->
    // TQ1_0). A non-finite scale ends the part's scan: the call fails on it
    // before it looks at codes.
    const size_t step_blocks = std::max<size_t>(1, kScanBytes / src.block_bytes);
    for (size_t s = first; s < end && f.nonfinite_at == SIZE_MAX; s += step_blocks) {
      const size_t stop = std::min(end, s + step_blocks);
      if (find_code3 && !f.code3) f.code3 = k.any_two_bit_code3(src.id, in + s * src.block_bytes, stop - s);
      for (size_t i = s; src.scale == ScaleKind::kBlockF16 && i < stop; ++i) {
        uint16_t h;
        memcpy(&h, in + i * src.block_bytes + src.scale_offset, sizeof h);
        f.uniform = f.uniform && h == scan.half;
        if (!HalfIsFinite(h)) {
          f.nonfinite_at = i * block;
          break;
        }
      }
    }
  });
  scan.uniform = src.scale == ScaleKind::kBlockF16 && n > 0;
  for (const SourceScan& f : found) {
    scan.nonfinite_at = std::min(scan.nonfinite_at, f.nonfinite_at);
    scan.code3 = scan.code3 || f.code3;
    scan.uniform = scan.uniform && f.uniform;
  }
  scan.uniform = scan.uniform && scan.nonfinite_at == SIZE_MAX;
  return scan;
}

// Whether a two-bit code 3 is the only source code the target cannot hold
// (TQ2_0, I2_S or Q2_0 to TQ1_0): then the scan looks for one.
bool NeedsCode3Scan(const Layout& src, const Layout& dst) {
  return !ValuesFit(src, dst, src.code_max) && src.codes.kind == CodeMapKind::kTwoBit && src.code_max == 3 &&
         ValuesFit(src, dst, 2);
}
// True when every source value fits the target.
bool AllValuesFit(const Layout& src, const Layout& dst, const SourceScan& scan) {
  return ValuesFit(src, dst, src.code_max) || (NeedsCode3Scan(src, dst) && !scan.code3);
}

int NonFiniteScale(const Layout& src, size_t element) {
  return Fail(BITNET_E_INVALID_DATA,
              "%s scale of element %zu is not finite (or a zero weight_scale): a transcode "
              "keeps values, which such a scale does not define", src.name, element);
}

// Runs fn(step, first, count, values, flags) over the steps of the n
// elements of `in` (whole blocks of src), split between the workers: each
// step's source values unpacked into `values`, `flags` a byte buffer of the
// worker's.
template <class Fn>
void ForEachUnpackedStep(Workers& workers, const TensorKernels& k, const Layout& src, const uint8_t* in,
                         size_t n, const Fn& fn) {
  const size_t src_block = static_cast<size_t>(src.block_elements);
  workers.Run(Steps(n, kStep), [&](Scratch& s, size_t b, size_t e) {
    int8_t* v = reinterpret_cast<int8_t*>(s.a.get());
    uint8_t* flags = reinterpret_cast<uint8_t*>(s.b.get());
    for (size_t t = b; t < e; ++t) {
      const size_t first = t * kStep;
      const size_t count = n - first < kStep ? n - first : kStep;
      k.unpack_values(src.id, in + first / src_block * src.block_bytes, count / src_block, v);
      fn(t, first, count, v, flags);
    }
  });
}

// Runs the fused kernel (CanTranscodeCodes) over the steps of the n
// elements, split between the workers, then fn(first, count, flags): the
// kernel writes a per-block target's scales (`scale`); for a per-tensor
// target, flags holds the kRepackNonzero flag of each of the step's units
// (a worker's buffer), else it is nullptr.
template <class Fn>
void ForEachFusedStep(Workers& workers, const TensorKernels& k, const Layout& src, const uint8_t* in,
                      const Layout& dst, uint8_t* out, size_t n, RepackScale scale, const Fn& fn) {
  static_assert(kStep % kCodeUnit == 0, "steps of whole units");
  const size_t src_block = static_cast<size_t>(src.block_elements);
  const size_t dst_block = static_cast<size_t>(dst.block_elements);
  const bool per_tensor = dst.scale == ScaleKind::kTensorF32;
  workers.Run(Steps(n, kStep), [&](Scratch& s, size_t b, size_t e) {
    uint8_t* flags = per_tensor ? reinterpret_cast<uint8_t*>(s.b.get()) : nullptr;
    for (size_t t = b; t < e; ++t) {
      const size_t first = t * kStep;
      const size_t count = n - first < kStep ? n - first : kStep;
      k.transcode_codes(src.id, in + first / src_block * src.block_bytes, dst.id, count / kCodeUnit,
                        first + count < n, scale, out + first / dst_block * dst.block_bytes, flags);
      fn(first, count, flags);
    }
  });
}

// The transcode between the model-file block layouts through int8 values,
// a step of whole blocks at a time: a pass that checks values and scales
// (writing nothing), then a pass that re-packs codes and writes the scales.
// It serves the pairs whose code bytes do not map one to one, and says
// what is wrong where RepackTranscode finds a problem.
int TranscodeBlocks(const TensorJob& job, const Layout& dst, uint8_t* out, const Layout& src,
                    const uint8_t* in, size_t n) {
  const TensorKernels& k = *job.kernels->tensor;
  const size_t src_block = static_cast<size_t>(src.block_elements);
  const size_t dst_block = static_cast<size_t>(dst.block_elements);
  const bool per_tensor = dst.scale == ScaleKind::kTensorF32;
  const size_t group = per_tensor ? n : dst_block;
  const size_t groups = per_tensor ? 1 : n / dst_block;
  const int min_value = -dst.code_offset, max_value = dst.code_max - dst.code_offset;
  const size_t steps = Steps(n, kStep);
  Workers workers(job.threads, kStep / 4);  // int8 values, piece flags: float buffers
  if (!workers.ok()) return OutOfMemory(kStep / 4);
  // Pairs the fused kernel serves move codes byte to byte; the others go
  // through int8 values.
  const bool fused = CanTranscodeCodes(src, dst);
  const bool unit = (job.flags & BITNET_TENSOR_UNIT_SCALE) != 0;
  // One pass, when nothing can fail: every value fits, and each target
  // block lies inside one source scale group (its scale that group's), or
  // every source block has the same scale (then every group's, and a
  // per-tensor target's). Each target block gets 0 when all its values are
  // 0, as the checking route stores it; a per-tensor target, 0 when the
  // whole tensor is.
  const SourceScan scan = ScanSource(job.threads, k, src, in, n, NeedsCode3Scan(src, dst));
  if (scan.nonfinite_at != SIZE_MAX) return NonFiniteScale(src, scan.nonfinite_at);
  uint16_t tensor_half = 0;  // the target's non-zero scale
  bool one_pass = false, own = false;
  if (AllValuesFit(src, dst, scan)) {
    if (InsideOneScale(src, dst)) {
      one_pass = OnePassScale(job, src, in, n, &tensor_half);
      own = src.scale == ScaleKind::kBlockF16 && !unit;
    } else if (scan.uniform) {
      tensor_half = unit ? FloatToHalf(1.0f) : scan.half;
      one_pass = true;
    }
  }
  if (one_pass) {
    // Target block j of a step (its first element a source block's first)
    // lies in source block j / per_src of it: a counter, not a division per
    // block.
    const size_t per_src = own ? src_block / dst_block : 1;
    const RepackScale scale{own, tensor_half};
    // A per-tensor target: whether any value is non-zero.
    std::atomic<bool> any_nonzero{false};
    // A step's flags, one per `flagged` elements (a target block, or a
    // unit of the fused kernel: a TQ block, two I2_S blocks): the target
    // blocks' scales, or whether a per-tensor target's values are all 0.
    const auto use_flags = [&](size_t first, size_t count, const uint8_t* flags, size_t flagged) {
      if (per_tensor) {
        // One store at most, and only while no step has made one: a store
        // per non-zero unit took 7 % of TQ1_0 -> I2_S, and threads storing
        // to the one line pass it between their cores.
        unsigned any = 0;
        for (size_t j = 0; j < count / flagged; ++j) any |= flags[j];
        if ((any & kRepackNonzero) != 0 && !any_nonzero.load(std::memory_order_relaxed)) {
          any_nonzero.store(true, std::memory_order_relaxed);
        }
        return;
      }
      // Locals: the byte stores below may alias anything the captures
      // reach, which would reload them (and divide) per block.
      const size_t blocks = count / dst_block, dst_bytes = dst.block_bytes, src_bytes = src.block_bytes;
      uint8_t* dst_scale = out + first / dst_block * dst_bytes + dst.scale_offset;
      const uint8_t* src_scale = in + first / src_block * src_bytes + src.scale_offset;
      for (size_t j = 0, left = per_src; j < blocks; ++j, dst_scale += dst_bytes) {
        const uint16_t h = TargetBlockScale(scale, src_scale, (flags[j] & kRepackNonzero) != 0);
        memcpy(dst_scale, &h, sizeof h);
        if (--left == 0) {
          left = per_src;
          src_scale += src_bytes;
        }
      }
    };
    if (fused) {
      ForEachFusedStep(workers, k, src, in, dst, out, n, scale,
                       [&](size_t first, size_t count, const uint8_t* flags) {
                         if (per_tensor) use_flags(first, count, flags, kCodeUnit);
                       });
    } else {
      ForEachUnpackedStep(workers, k, src, in, n, [&](size_t, size_t first, size_t count, int8_t* v, uint8_t* flags) {
        k.value_flags(v, count / dst_block, dst_block, min_value, max_value, flags);
        k.pack_values(dst.id, v, count / dst_block, out + first / dst_block * dst.block_bytes);
        use_flags(first, count, flags, dst_block);
      });
    }
    // A per-tensor target's one pass comes from uniform source scales.
    if (per_tensor) WriteI2STail(any_nonzero.load(std::memory_order_relaxed) ? HalfToFloat(tensor_half) : 0.0f, out + n / 4);
    return BITNET_OK;
  }
  // Per group: the scale of its non-zero elements (NaN: none yet). A
  // per-tensor target gets one entry per step, merged after.
  std::vector<float> alpha(per_tensor ? steps : groups, NAN);
  std::vector<StepFinding> findings(steps);
  // Pieces: runs of elements inside one source block and one target group
  // (block sizes are powers of two), each flagged by a kernel; each piece's
  // values are reduced before any scale is compared.
  const size_t piece = per_tensor ? src_block : std::min(src_block, dst_block);
  ForEachUnpackedStep(workers, k, src, in, n, [&](size_t t, size_t first, size_t count, int8_t* v, uint8_t* piece_flags) {
    k.value_flags(v, count / piece, piece, min_value, max_value, piece_flags);
    StepFinding& f = findings[t];
    for (size_t p = 0; p < count / piece; ++p) {
      const size_t lo = p * piece;
      const size_t g = per_tensor ? t : (first + lo) / group;
      if ((piece_flags[p] & kRepackOutside) != 0) {
        if (f.bad_value_at == SIZE_MAX) {
          size_t i = lo;
          while (v[i] >= min_value && v[i] <= max_value) ++i;
          f.bad_value_at = first + i;
          f.bad_value = v[i];  // NOLINT(bugprone-signed-char-misuse,cert-str34-c): int8 values, signed by design
        }
        continue;
      }
      if ((piece_flags[p] & kRepackNonzero) == 0) continue;
      const float scale = BlockScale(src, in, n, first + lo);
      if (std::isnan(alpha[g])) {
        alpha[g] = scale;
      } else if (alpha[g] != scale && f.disagreement_at == SIZE_MAX) {
        f.disagreement_at = (first + lo) / group * group;
        f.disagreement[0] = alpha[g];
        f.disagreement[1] = scale;
      }
    }
  });
  for (size_t t = 0; t < steps; ++t) {
    const StepFinding& f = findings[t];
    if (f.bad_value_at != SIZE_MAX) {
      return Fail(BITNET_E_INVALID_DATA, "element %zu of the %s tensor is %+d, which %s cannot hold (%d..%+d)",
                  f.bad_value_at, src.name, f.bad_value, dst.name, min_value, max_value);
    }
    if (f.disagreement_at != SIZE_MAX) {
      return Fail(BITNET_E_INVALID_DATA,
                  "%s holds one scale per %zu elements, but the non-zero elements of %zu.. have "
                  "scales %.9g and %.9g in the %s source", dst.name, group, f.disagreement_at,
                  static_cast<double>(f.disagreement[0]), static_cast<double>(f.disagreement[1]), src.name);
    }
  }
  if (per_tensor) {  // the steps' scales must agree too
    float merged = NAN;
    for (size_t t = 0; t < steps; ++t) {
      if (std::isnan(alpha[t])) continue;
      if (!std::isnan(merged) && merged != alpha[t]) {
        return Fail(BITNET_E_INVALID_DATA,
                    "%s holds one scale per tensor, but the %s source's non-zero elements have "
                    "scales %.9g and %.9g", dst.name, src.name, static_cast<double>(merged),
                    static_cast<double>(alpha[t]));
      }
      merged = alpha[t];
    }
    alpha.assign(1, merged);
  }
  // The stored scales: 0 for a group without a non-zero element (I2_S: an
  // all-zero tensor's scale 0, as quantize_i2_s writes it), 1 for unit scales.
  std::vector<uint16_t> halves(per_tensor ? 0 : groups);
  float tensor_scale = 0.0f;
  for (size_t g = 0; g < alpha.size(); ++g) {
    const bool nonzero = !std::isnan(alpha[g]);
    const float a = !nonzero ? 0.0f : unit ? 1.0f : alpha[g];
    if (per_tensor) {
      tensor_scale = a;
      continue;
    }
    halves[g] = FloatToHalf(a);
    if (HalfToFloat(halves[g]) != a && (job.flags & BITNET_TENSOR_ALLOW_SCALE_ROUNDING) == 0) {
      return Fail(BITNET_E_INEXACT_SCALE,
                  "%s cannot hold the scale %.9g of elements %zu.. exactly (it would be %.9g); "
                  "pass BITNET_TENSOR_ALLOW_SCALE_ROUNDING to round it", dst.name,
                  static_cast<double>(a), g * group, static_cast<double>(HalfToFloat(halves[g])));
    }
  }
  const auto write_halves = [&](size_t first, size_t count) {
    if (per_tensor) return;
    uint8_t* blocks = out + first / dst_block * dst.block_bytes;
    for (size_t j = 0; j < count / dst_block; ++j) {
      memcpy(blocks + j * dst.block_bytes + dst.scale_offset, &halves[first / dst_block + j], 2);
    }
  };
  if (fused) {
    // The kernel's scales (none given: 0) are replaced by the checked ones.
    ForEachFusedStep(workers, k, src, in, dst, out, n, RepackScale{},
                     [&](size_t first, size_t count, const uint8_t*) { write_halves(first, count); });
  } else {
    ForEachUnpackedStep(workers, k, src, in, n, [&](size_t, size_t first, size_t count, int8_t* v, uint8_t*) {
      k.pack_values(dst.id, v, count / dst_block, out + first / dst_block * dst.block_bytes);
      write_halves(first, count);
    });
  }
  if (per_tensor) WriteI2STail(tensor_scale, out + n / 4);
  return BITNET_OK;
}

// The transcode between two-bit layouts whose code bytes map one to one
// (formats/ternary_codes.h), a byte-level kernel over groups split between
// the threads: the re-packing pass alone, flagging as it goes, when no
// check can fail (one finite tensor scale that the target holds, or
// per-block scales that all store the same finite bits, found by reading
// the scales alone); else a checking pass over the source's bytes first.
// Returns false, having written nothing, when the checks find anything to
// report (a scale that is not finite, a value the target cannot hold,
// scales that do not agree or that the target cannot hold): the checks of
// TensorTranscode and TranscodeBlocks then say which.
bool RepackTranscode(const TensorJob& job, const Layout& dst, uint8_t* out, const Layout& src,
                     const uint8_t* in, size_t n) {
  const TensorKernels& k = *job.kernels->tensor;
  const ByteRepack r = MakeByteRepack(src, dst);
  const size_t groups = n / 4 / r.group_bytes;
  const bool src_blocks = src.scale == ScaleKind::kBlockF16;  // else one tensor scale
  const bool dst_blocks = dst.scale == ScaleKind::kBlockF16;
  const bool unit = (job.flags & BITNET_TENSOR_UNIT_SCALE) != 0;
  const bool rounding = (job.flags & BITNET_TENSOR_ALLOW_SCALE_ROUNDING) != 0;
  // Per-block source scales must agree when the target has one scale.
  const bool agree = src_blocks && !dst_blocks;
  // A per-block source's scale bits of group g (its block is the group).
  const auto scale_bits = [&](size_t g) {
    uint16_t h;
    memcpy(&h, in + g * src.block_bytes + src.scale_offset, sizeof h);
    return h;
  };
  const float tensor_scale = src_blocks ? 0.0f : BlockScale(src, in, n, 0);
  if (!std::isfinite(tensor_scale)) return false;
  uint16_t bits = 0;  // a per-block source: the non-zero groups' scale bits
  bool one_pass = false;
  if (!RepackFlagsOutside(r)) {
    if (src_blocks) {
      const SourceScan scan = ScanSource(job.threads, k, src, in, n, false);
      one_pass = scan.uniform;
      bits = scan.half;
    } else {
      one_pass = !dst_blocks || unit || rounding || HalfToFloat(FloatToHalf(tensor_scale)) == tensor_scale;
    }
  }
  // Each group's flags: the checking pass's, or a per-tensor target's
  // whether any value is non-zero.
  std::vector<uint8_t> flags(!one_pass || !dst_blocks ? groups : 0);
  // Both passes split the groups alike: ParallelFor's ranges, one per part.
  const size_t parts = std::min<size_t>(static_cast<size_t>(job.threads), groups);
  // The checking pass gives the kernel each part's groups in chunks whose
  // bytes the caches still hold when the loop after it reads their scales.
  const size_t chunk = std::max<size_t>(1, kRepackChunkBytes / r.group_bytes);
  const auto chunks = [&](size_t first, size_t last, const auto& fn) {
    for (size_t c = first; c < last; c += chunk) {
      if (!fn(c, std::min(last, c + chunk))) return;
    }
  };
  bool nonzero = false;
  if (!one_pass) {
    struct Part {
      bool ok = true;  // no value outside the target, scales finite and agreeing
      bool nonzero = false;
      uint16_t bits = 0;
    };
    std::vector<Part> found(parts);
    ParallelFor(parts, groups, [&](size_t part, size_t first, size_t last) {
      Part& f = found[part];
      chunks(first, last, [&](size_t begin, size_t end) {
        k.repack_bytes(r, RepackScale{}, in, begin, end - begin, nullptr, false, flags.data() + begin);
        for (size_t g = begin; g < end; ++g) {
          if (flags[g] & kRepackOutside) return f.ok = false;
          if (src_blocks && !HalfIsFinite(scale_bits(g))) return f.ok = false;
          if (!(flags[g] & kRepackNonzero)) continue;
          if (agree) {  // bits, not values: +0 and -0 go to TranscodeBlocks
            const uint16_t h = scale_bits(g);
            if (f.nonzero && h != f.bits) return f.ok = false;
            f.bits = h;
          }
          f.nonzero = true;
        }
        return true;
      });
    });
    for (const Part& f : found) {
      if (!f.ok || (agree && nonzero && f.nonzero && f.bits != bits)) return false;
      if (f.nonzero && !nonzero) bits = f.bits;
      nonzero = nonzero || f.nonzero;
    }
  }
  // A per-block source keeps every block's own scale in a per-block target
  // (same blocks); otherwise one scale serves the tensor.
  const float alpha = src_blocks ? HalfToFloat(bits) : tensor_scale;
  const float stored = unit ? 1.0f : alpha;
  const uint16_t half = FloatToHalf(stored);
  if (dst_blocks && !src_blocks && nonzero && HalfToFloat(half) != stored && !rounding) return false;
  // A large target is written past the caches.
  const size_t out_bytes = groups * r.dst_stride;
  const bool stream = out_bytes >= kStreamRepackBytes && (job.flags & BITNET_TENSOR_CACHED_OUTPUT) == 0;
  ParallelFor(parts, groups, [&](size_t, size_t first, size_t last) {
    k.repack_bytes(r, RepackScale{src_blocks && !unit, half}, in, first, last - first, out, stream,
                   one_pass && !dst_blocks ? flags.data() + first : nullptr);
  });
  if (!dst_blocks) {  // the tail's scale: 0 for an all-zero tensor
    if (one_pass) {
      nonzero = std::any_of(flags.begin(), flags.end(), [](uint8_t f) { return (f & kRepackNonzero) != 0; });
    }
    WriteI2STail(nonzero ? stored : 0.0f, out + n / 4);
  }
  return true;
}

}  // namespace

int TensorTranscode(const TensorJob& job, const Layout& dst, void* out, const Layout& src,
                    const void* in, const TensorShape& shape) {
  const size_t n = shape.n;
  const bool blocks = n > 0 && IsTernaryBlockLayout(src.id) && IsTernaryBlockLayout(dst.id);
  // The re-pack checks the scales itself (AllScalesFinite first would read
  // every block once more).
  if (blocks && CanRepackBytes(src, dst) && RepackTranscode(job, dst, Bytes(out), src, Bytes(in), n)) {
    return BITNET_OK;
  }
  // The block layouts' scales are checked in TranscodeBlocks's first pass.
  if (blocks) return TranscodeBlocks(job, dst, Bytes(out), src, Bytes(in), n);
  const CodeReader reader(src, Bytes(in), shape, job.rs_block);
  size_t bad = 0;
  if (!reader.AllScalesFinite(&bad)) return NonFiniteScale(src, bad);
  // HF_BITNET and BitNet-rs's layout: element by element (conversion
  // formats, not the models' hot path).
  // The target's scale groups: its blocks, or one for the tensor.
  const bool per_tensor = dst.scale == ScaleKind::kTensorF32 || dst.scale == ScaleKind::kTensorF32Divisor;
  const size_t dst_block = per_tensor ? (n > 0 ? n : 1) : static_cast<size_t>(BlockElements(dst, job.rs_block));
  const size_t groups = per_tensor ? 1 : n / dst_block + (n % dst_block != 0);
  std::vector<float> alpha(groups, 0.0f);
  std::vector<unsigned char> nonzero(groups, 0);
  const int min_value = -dst.code_offset, max_value = dst.code_max - dst.code_offset;
  for (size_t i = 0; i < n; ++i) {
    const int v = reader.Value(i);
    if (v < min_value || v > max_value) {
      return Fail(BITNET_E_INVALID_DATA,
                  "element (%zu, %zu) of the %s tensor is %+d, which %s cannot hold (%d..%+d)",
                  i / static_cast<size_t>(shape.cols), i % static_cast<size_t>(shape.cols),
                  src.name, v, dst.name, min_value, max_value);
    }
    if (v == 0) continue;
    const size_t g = i / dst_block;
    const float s = reader.Scale(i);
    if (!nonzero[g]) {
      nonzero[g] = 1;
      alpha[g] = s;
    } else if (s != alpha[g]) {
      return Fail(BITNET_E_INVALID_DATA,
                  "%s holds one scale per %zu elements, but its non-zero elements %zu.. disagree "
                  "(%.9g and %.9g in the %s source)", dst.name, dst_block, g * dst_block,
                  static_cast<double>(alpha[g]), static_cast<double>(s), src.name);
    }
  }
  // The stored scales, exact unless the caller allows rounding.
  const bool unit = (job.flags & BITNET_TENSOR_UNIT_SCALE) != 0;
  std::vector<float> stored(groups, 0.0f);
  for (size_t g = 0; g < groups; ++g) {
    const float a = unit ? 1.0f : alpha[g];
    if (!nonzero[g]) {
      // d = 0 in an all-zero block; an all-zero tensor's scale is 0 (I2_S,
      // as quantize_i2_s writes) or weight_scale 1 (HF_BITNET: any finite one).
      stored[g] = dst.scale == ScaleKind::kTensorF32Divisor ? 1.0f : 0.0f;
      continue;
    }
    if (!ScaleHoldsExactly(dst, a, &stored[g]) &&
        (job.flags & BITNET_TENSOR_ALLOW_SCALE_ROUNDING) == 0) {
      return Fail(BITNET_E_INEXACT_SCALE,
                  "%s cannot hold the scale %.9g of elements %zu.. exactly (it would be %.9g); "
                  "pass BITNET_TENSOR_ALLOW_SCALE_ROUNDING to round it", dst.name,
                  static_cast<double>(a), g * dst_block, static_cast<double>(stored[g]));
    }
  }
  if (n == 0) {  // only a tensor scale's tail to write
    if (dst.scale == ScaleKind::kTensorF32) WriteI2STail(0.0f, Bytes(out));
    if (dst.scale == ScaleKind::kTensorF32Divisor) memcpy(out, &stored[0], sizeof(float));
    return BITNET_OK;
  }
  // Write: codes element by element through the target's map, then scales.
  std::vector<uint8_t> codes(dst.block_elements > 0 ? static_cast<size_t>(dst.block_elements) : 0);
  uint8_t* o = Bytes(out);
  const TensorParts parts = PartsOf(dst, n, job.rs_block);
  switch (dst.codes.kind) {
    case CodeMapKind::kRowInterleaved: {
      const size_t cols = static_cast<size_t>(shape.cols);
      const size_t byte_rows = static_cast<size_t>(shape.rows) / 4;
      memset(o, 0, parts.codes_bytes);
      for (size_t i = 0; i < n; ++i) {
        const size_t row = i / cols;
        const unsigned code = static_cast<unsigned>(reader.Value(i) + dst.code_offset);
        o[(row % byte_rows) * cols + i % cols] |= static_cast<uint8_t>(code << (2 * (row / byte_rows)));
      }
      break;
    }
    case CodeMapKind::kTwoBit:
    case CodeMapKind::kTrits: {
      if (dst.scale == ScaleKind::kBlockF32Planar) {
        memset(o, 0, parts.codes_bytes);
        for (size_t i = 0; i < n; ++i) {
          const unsigned code = static_cast<unsigned>(reader.Value(i) + dst.code_offset);
          o[i / 4] |= static_cast<uint8_t>(code << (2 * (i % 4)));
        }
        break;
      }
      const size_t block = static_cast<size_t>(dst.block_elements);
      for (size_t b = 0; b < n / block; ++b) {
        for (size_t j = 0; j < block; ++j) {
          codes[j] = static_cast<uint8_t>(reader.Value(b * block + j) + dst.code_offset);
        }
        PackBlockCodes(dst, codes.data(), o + b * dst.block_bytes);
      }
      break;
    }
    case CodeMapKind::kElement:
    case CodeMapKind::kInt8:
    case CodeMapKind::kIq2sGrid:
      return Fail(BITNET_E_INVALID_TYPE, "%s is not a ternary layout", dst.name);
  }
  switch (dst.scale) {
    case ScaleKind::kBlockF16:
      for (size_t g = 0; g < groups; ++g) {
        const uint16_t h = FloatToHalf(stored[g]);
        memcpy(o + g * dst.block_bytes + dst.scale_offset, &h, sizeof h);
      }
      break;
    case ScaleKind::kBlockF32Planar:
      memcpy(o + parts.scales_offset, stored.data(), groups * sizeof(float));
      break;
    case ScaleKind::kTensorF32:
      WriteI2STail(n > 0 ? stored[0] : 0.0f, o + parts.scales_offset);
      break;
    case ScaleKind::kTensorF32Divisor: {
      const float ws = n > 0 ? stored[0] : 1.0f;
      memcpy(o + parts.scales_offset, &ws, sizeof ws);
      break;
    }
    case ScaleKind::kNone:
    case ScaleKind::kBlockF32:
      break;
  }
  return BITNET_OK;
}

// ---- statistics ----------------------------------------------------------------

int TensorStats(const TensorJob& job, const Layout& src, const void* in, const TensorShape& shape,
                TernaryStats* stats) {
  const size_t n = shape.n;
  const CodeReader reader(src, Bytes(in), shape, job.rs_block);
  *stats = TernaryStats{};
  // Values: whole steps of block layouts through the kernels, per thread.
  std::vector<std::array<uint64_t, 5>> counts(Steps(n, kStep), std::array<uint64_t, 5>{});
  if (IsTernaryBlockLayout(src.id)) {
    const TensorKernels& k = *job.kernels->tensor;
    const size_t block = static_cast<size_t>(src.block_elements);
    Workers workers(job.threads, kStep / 4);
    if (!workers.ok()) return OutOfMemory(kStep / 4);
    workers.Run(counts.size(), [&](Scratch& s, size_t b, size_t e) {
      int8_t* v = reinterpret_cast<int8_t*>(s.a.get());
      for (size_t t = b; t < e; ++t) {
        const size_t count = n - t * kStep < kStep ? n - t * kStep : kStep;
        k.unpack_values(src.id, Bytes(in) + t * kStep / block * src.block_bytes, count / block, v);
        for (size_t i = 0; i < count; ++i) ++counts[t][static_cast<size_t>(v[i] + 2)];
      }
    });
  } else {
    for (size_t i = 0; i < n; ++i) {
      const int index = reader.Value(i) + 2;  // -2..+2 -> 0..4
      ++counts[i / kStep][static_cast<size_t>(index)];
    }
  }
  for (const auto& c : counts) {
    for (size_t v = 0; v < 5; ++v) stats->values[v] += c[v];
  }
  // Scales: each block's (or the tensor's) value of code +1.
  const bool per_tensor = src.scale == ScaleKind::kTensorF32 || src.scale == ScaleKind::kTensorF32Divisor;
  const size_t scales = per_tensor ? 1 : PartsOf(src, n, job.rs_block).num_blocks;
  bool any = false;
  for (size_t b = 0; b < scales; ++b) {
    const float s = reader.Scale(b * reader.block());
    ++stats->scales;
    if (!std::isfinite(s)) {
      ++stats->nonfinite_scales;
      continue;
    }
    stats->scale_min = any && stats->scale_min < s ? stats->scale_min : s;
    stats->scale_max = any && stats->scale_max > s ? stats->scale_max : s;
    any = true;
  }
  return BITNET_OK;
}

// ---- ternarize, activations ---------------------------------------------------------

int TensorTernarize(const TensorJob& job, const Layout& src, const void* in,
                    const TensorShape& shape, int8_t* codes, float* alphas) {
  const TensorKernels& k = *job.kernels->tensor;
  const FloatSource floats(k, src, in);
  if (shape.n == 0) return BITNET_OK;
  std::vector<UnitScale> units;
  const int status = AbsmeanScales(job, floats, shape, job.group_size, &units);
  if (status != BITNET_OK) return status;
  const size_t width = AbsmeanUnitWidth(shape, job.group_size);
  const size_t n = shape.n;
  Workers workers(job.threads, kStep);
  if (!workers.ok()) return OutOfMemory(kStep);
  workers.Run(Steps(n, kStep), [&](Scratch& s, size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const size_t first = t * kStep;
      const size_t count = n - first < kStep ? n - first : kStep;
      const float* x = floats.Get(first, count, s.a.get());
      for (size_t done = 0; done < count;) {
        const size_t at = first + done;
        const size_t in_unit = (at / width + 1) * width - at;
        const size_t len = count - done < in_unit ? count - done : in_unit;
        const UnitScale& u = units[at / width];
        k.ternarize(x + done, len, u.s, u.threshold, codes + at);
        done += len;
      }
    }
  });
  for (size_t u = 0; u < units.size(); ++u) alphas[u] = units[u].alpha;
  return BITNET_OK;
}

int TensorQuantizeI8S(const TensorJob& job, const Layout& src, const void* in,
                      const TensorShape& shape, int8_t* q, float* scales, int32_t* sums) {
  const TensorKernels& k = *job.kernels->tensor;
  const FloatSource floats(k, src, in);
  const size_t cols = static_cast<size_t>(shape.cols);
  const size_t scratch = floats.IsF32() || shape.n == 0 ? 0 : cols;
  Workers workers(job.threads, scratch);
  if (!workers.ok()) return OutOfMemory(scratch);
  workers.Run(static_cast<size_t>(shape.rows), [&](Scratch& s, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      k.i8s_row(floats.Get(r * cols, cols, s.a.get()), cols, q + r * cols, scales + r, sums + r);
    }
  });
  return BITNET_OK;
}

}  // namespace bitnet
