#include "ternary_stats.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "byte_order.h"
#include "float_formats.h"
#include "library.h"

namespace bitnet_cli {
namespace {

// Blocks [first, first + count) of a tensor of a block layout, as a tensor
// of their own: the blocks' bytes, followed by the tensor's tail where the
// layout has one (I2_S: its scale).
class BlockRange {
 public:
  BlockRange(bitnet_type type, const uint8_t* data, uint64_t size)
      : type_(type), info_(library_type_info(type)), data_(data), size_(size) {}

  uint64_t blocks() const { return (size_ - info_.tail_bytes) / info_.block_bytes; }
  int64_t block_elements() const { return info_.block_elements; }
  const bitnet_type_info& info() const { return info_; }

  // The library's statistics of the range; false (with the library's
  // message lost) only if the call fails, which valid ranges never do.
  bool stats(uint64_t first, uint64_t count, bitnet_tensor_stats* out) {
    const uint8_t* bytes = view(first, count);
    out->struct_size = sizeof *out;
    return bitnet_tensor_stats_get(type_, nullptr, bytes, buffer_size(count), 1,
                                   static_cast<int64_t>(count) * info_.block_elements, out) == BITNET_OK;
  }

  // The values of one block, scaled (code - offset) * scale.
  std::vector<float> values(uint64_t block) {
    std::vector<float> out(static_cast<std::size_t>(info_.block_elements));
    const int status = bitnet_tensor_dequantize(type_, nullptr, view(block, 1), buffer_size(1), 1,
                                                info_.block_elements, BITNET_TYPE_F32, out.data(),
                                                out.size() * sizeof(float));
    if (status != BITNET_OK) out.clear();
    return out;
  }

 private:
  std::size_t buffer_size(uint64_t count) const { return count * info_.block_bytes + info_.tail_bytes; }
  const uint8_t* view(uint64_t first, uint64_t count) {
    const uint8_t* start = data_ + first * info_.block_bytes;
    if (info_.tail_bytes == 0) return start;
    copy_.assign(start, start + count * info_.block_bytes);
    copy_.insert(copy_.end(), data_ + size_ - info_.tail_bytes, data_ + size_);
    return copy_.data();
  }

  bitnet_type type_;
  bitnet_type_info info_;
  const uint8_t* data_;
  uint64_t size_;
  std::vector<uint8_t> copy_;
};

enum class Fault { kNone, kCode, kNonFiniteScale, kNegativeScale };

Fault fault_of(const bitnet_tensor_stats& s) {
  if (s.values[0] + s.values[4] > 0) return Fault::kCode;
  if (s.nonfinite_scales > 0) return Fault::kNonFiniteScale;
  if (s.scale_min < 0.0f) return Fault::kNegativeScale;
  return Fault::kNone;
}

// The first block with a fault (there is one): a binary search over
// prefixes, each read by the library.
std::string locate_fault(BlockRange& range) {
  uint64_t lo = 0, hi = range.blocks();  // the first faulty block is in [lo, hi)
  bitnet_tensor_stats s{};
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (!range.stats(lo, mid - lo, &s)) return "";
    if (fault_of(s) != Fault::kNone) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  if (!range.stats(lo, 1, &s)) return "";
  const bool per_tensor = range.info().tail_bytes != 0;
  const std::string block = "block " + std::to_string(lo);
  switch (fault_of(s)) {
    case Fault::kCode: {
      const int value = s.values[4] > 0 ? 2 : -2;
      // The element: the first whose decoded value is value * scale.
      const std::vector<float> values = range.values(lo);
      const float scale = s.scale_max;
      if (!values.empty() && s.nonfinite_scales == 0 && scale != 0.0f) {
        for (std::size_t i = 0; i < values.size(); ++i) {
          if (values[i] == static_cast<float>(value) * scale) {
            return "element " + std::to_string(lo * static_cast<uint64_t>(range.block_elements()) + i) + " (" +
                   block + ") has " + (value == 2 ? "code 3" : "value -2") + ", which no ternary encoder writes";
          }
        }
      }
      return block + " holds a code of value " + std::to_string(value) + ", which no ternary encoder writes";
    }
    case Fault::kNonFiniteScale:
      return per_tensor ? "the tensor's scale is not finite" : block + " has a non-finite scale";
    case Fault::kNegativeScale: {
      char text[48];
      std::snprintf(text, sizeof text, "%g", static_cast<double>(s.scale_min));
      return (per_tensor ? std::string("the tensor's scale is negative (") : block + " has a negative scale (") +
             text + ")";
    }
    case Fault::kNone:
      break;
  }
  return "";
}

// TQ1_0 stores five trits per byte in 243 of the 256 byte values; any byte
// decodes to some trits, so a byte the encoder never forms shows only when
// the tensor is re-encoded (a transcode to TQ1_0 packs the same codes
// again) and compared. The code bytes precede each block's f16 scale.
void check_tq1_0_bytes(TensorStats& s, const uint8_t* data, uint64_t size, int64_t rows, int64_t cols) {
  if (size == 0) return;  // an empty tensor has no bytes to compare (nor a buffer)
  std::vector<uint8_t> again(size);
  if (bitnet_tensor_transcode(BITNET_TYPE_TQ1_0, nullptr, BITNET_TYPE_TQ1_0, data, size, rows, cols,
                              again.data(), again.size()) != BITNET_OK) {
    return;  // scales the transcode refuses: the statistics name them
  }
  if (std::memcmp(data, again.data(), size) == 0) return;
  const bitnet_type_info info = library_type_info(BITNET_TYPE_TQ1_0);
  const uint64_t code_bytes = info.block_bytes - 2;
  for (uint64_t at = 0; at < size; ++at) {
    if (at % info.block_bytes >= code_bytes || data[at] == again[at]) continue;
    ++s.invalid_codes;
    if (s.first_fault.empty()) {
      s.first_fault = "block " + std::to_string(at / info.block_bytes) + " byte " +
                      std::to_string(at % info.block_bytes) + " is " + std::to_string(data[at]) +
                      ", a value the TQ1_0 encoder never writes";
    }
  }
}

void ternary_stats(TensorStats& s, bitnet_type type, const uint8_t* data, uint64_t size, int64_t rows,
                   int64_t cols) {
  bitnet_tensor_stats stats{};
  stats.struct_size = sizeof stats;
  if (bitnet_tensor_stats_get(type, nullptr, data, size, rows, cols, &stats) != BITNET_OK) {
    const char* message = bitnet_last_error();
    s.first_fault = message != nullptr ? message : "the library cannot read the tensor";
    return;
  }
  s.ternary = true;
  s.minus = stats.values[1];
  s.zero = stats.values[2];
  s.plus = stats.values[3];
  s.invalid_codes = stats.values[0] + stats.values[4];
  s.scales = stats.scales;
  s.nonfinite_scales = stats.nonfinite_scales;
  s.negative_scales = stats.scale_min < 0.0f;
  s.scale_min = stats.scale_min;
  s.scale_max = stats.scale_max;
  if (fault_of(stats) != Fault::kNone) {
    BlockRange range(type, data, size);
    s.first_fault = locate_fault(range);
    if (s.first_fault.empty()) s.first_fault = std::to_string(s.invalid_codes) + " codes no encoder writes";
  }
  if (type == BITNET_TYPE_TQ1_0) check_tq1_0_bytes(s, data, size, rows, cols);
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
  const std::optional<bitnet_type> library = library_type(type);
  if (type.ternary != TernaryLayout::kNone && library) {
    ternary_stats(s, *library, data, size, ne[1] * ne[2] * ne[3], ne[0]);
    return s;
  }
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
      break;  // other types (TL1 among them): sizes and offsets only
  }
  return s;
}

}  // namespace bitnet_cli
