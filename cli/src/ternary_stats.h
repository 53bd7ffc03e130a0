// What inspect and verify report about a tensor's data. Ternary tensors
// (TQ1_0, TQ2_0, Q2_0, I2_S: the layouts libbitnet_quant has) are read by
// the library (bitnet_tensor_stats_get): the share of -1/0/+1, codes no
// encoder writes (value +2: code 3 of the 2-bit layouts; TQ1_0 bytes the
// encoder never forms, found by re-encoding), the scales' range and
// non-finite or negative scales, the first fault located by block and
// element. Float tensors (F32, F16, BF16): non-finite values.
#pragma once

#include <cstdint>
#include <string>

#include "ggml_types.h"

namespace bitnet_cli {

struct TensorStats {
  bool ternary = false;                    // read as a ternary tensor
  uint64_t minus = 0, zero = 0, plus = 0;  // ternary elements by value
  uint64_t invalid_codes = 0;              // codes (TQ1_0: bytes) no encoder writes
  uint64_t scales = 0;                     // scales read
  uint64_t nonfinite_scales = 0;
  bool negative_scales = false;
  float scale_min = 0, scale_max = 0;      // over finite scales (valid if scales > nonfinite_scales)
  uint64_t nonfinite_values = 0;           // float tensors
  std::string first_fault;                 // empty when none
};

// data holds `size` bytes of a tensor of `type` with ggml dims ne.
TensorStats tensor_stats(const TypeInfo& type, const uint8_t* data, uint64_t size, const int64_t ne[4]);

}  // namespace bitnet_cli
