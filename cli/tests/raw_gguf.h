// Builds GGUF bytes field by field for tests, including what no valid file
// contains (wrong counts, lying offsets, bad strings), so that each reader
// check can be hit on purpose.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gguf_value.h"

namespace bitnet_cli::testing {

std::vector<uint8_t> encode_string(const std::string& text);

class RawGguf {
 public:
  uint32_t version = 3;
  uint64_t alignment = 32;  // where tensor data is placed (add general.alignment yourself)
  std::optional<uint64_t> claimed_kvs;
  std::optional<uint64_t> claimed_tensors;

  void add_kv(const std::string& key, const GgufValue& value);
  void add_kv_bytes(const std::vector<uint8_t>& encoded);  // key, type and value, as given
  // A tensor whose data (`size` bytes, a pattern from `seed`) follows the
  // previous one at the next aligned offset, unless `offset` is given.
  void add_tensor(const std::string& name, int32_t type, const std::vector<int64_t>& ne, uint64_t size,
                  std::optional<uint64_t> offset = std::nullopt, uint32_t seed = 1);
  // A tensor with the given data at the next aligned offset.
  void add_tensor_with(const std::string& name, int32_t type, const std::vector<int64_t>& ne,
                       const std::vector<uint8_t>& data);
  void add_tensor_bytes(std::vector<uint8_t> data);  // raw data appended to the data section
  std::vector<uint8_t> bytes() const;

  const std::vector<uint8_t>& tensor_data() const { return data_; }

 private:
  std::vector<uint8_t> kvs_;
  uint64_t n_kvs_ = 0;
  std::vector<uint8_t> infos_;
  uint64_t n_tensors_ = 0;
  std::vector<uint8_t> data_;
};

// Deterministic bytes for tensor data.
std::vector<uint8_t> pattern_bytes(uint64_t size, uint32_t seed);

}  // namespace bitnet_cli::testing
