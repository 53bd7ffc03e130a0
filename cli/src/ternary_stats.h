// What inspect and verify report about a tensor's data: for the ternary
// layouts the share of -1/0/+1, codes no encoder writes (code 3 in the
// 2-bit layouts, a TQ1_0 byte outside the encoder's 243 values, a TL1
// nibble above 8), the scales' range and non-finite or negative scales;
// for float tensors non-finite values. The byte layouts are read as
// bitnet-cpp-ggml-formats.md §2, §3 and §6 document them.
#pragma once

#include <cstdint>
#include <string>

#include "ggml_types.h"

namespace bitnet_cli {

struct TensorStats {
  bool ternary = false;
  uint64_t minus = 0, zero = 0, plus = 0;  // ternary elements by value
  uint64_t invalid_codes = 0;              // codes (TQ1_0: bytes) no encoder writes
  uint64_t scales = 0;                     // scales read
  uint64_t nonfinite_scales = 0;
  uint64_t negative_scales = 0;
  float scale_min = 0, scale_max = 0;      // over finite scales (valid if scales > nonfinite_scales)
  uint64_t nonfinite_values = 0;           // float tensors
  std::string first_fault;                 // empty when none
};

// data holds `size` bytes of a tensor of `type` with ggml dims ne.
TensorStats tensor_stats(const TypeInfo& type, const uint8_t* data, uint64_t size, const int64_t ne[4]);

}  // namespace bitnet_cli
