#include "raw_gguf.h"

#include "byte_order.h"

namespace bitnet_cli::testing {

std::vector<uint8_t> encode_string(const std::string& text) {
  std::vector<uint8_t> out;
  append_le<uint64_t>(out, text.size());
  append_bytes(out, text.data(), text.size());
  return out;
}

std::vector<uint8_t> pattern_bytes(uint64_t size, uint32_t seed) {
  std::vector<uint8_t> out(size);
  uint32_t state = seed * 2654435761u + 12345u;
  for (uint8_t& b : out) {
    state = state * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(state >> 24);
  }
  return out;
}

void RawGguf::add_kv(const std::string& key, const GgufValue& value) {
  std::vector<uint8_t> encoded = encode_string(key);
  append_le<uint32_t>(encoded, static_cast<uint32_t>(value.type()));
  value.append_encoded(encoded);
  add_kv_bytes(encoded);
}

void RawGguf::add_kv_bytes(const std::vector<uint8_t>& encoded) {
  kvs_.insert(kvs_.end(), encoded.begin(), encoded.end());
  ++n_kvs_;
}

void RawGguf::add_tensor(const std::string& name, int32_t type, const std::vector<int64_t>& ne, uint64_t size,
                         std::optional<uint64_t> offset, uint32_t seed) {
  const uint64_t next = (data_.size() + alignment - 1) / alignment * alignment;
  const uint64_t at = offset.value_or(next);
  const std::vector<uint8_t> name_bytes = encode_string(name);
  infos_.insert(infos_.end(), name_bytes.begin(), name_bytes.end());
  append_le<uint32_t>(infos_, static_cast<uint32_t>(ne.size()));
  for (int64_t n : ne) append_le<int64_t>(infos_, n);
  append_le<uint32_t>(infos_, static_cast<uint32_t>(type));
  append_le<uint64_t>(infos_, at);
  ++n_tensors_;
  if (!offset) {
    data_.resize(next, 0);
    const std::vector<uint8_t> pattern = pattern_bytes(size, seed);
    data_.insert(data_.end(), pattern.begin(), pattern.end());
  }
}

void RawGguf::add_tensor_with(const std::string& name, int32_t type, const std::vector<int64_t>& ne,
                              const std::vector<uint8_t>& data) {
  const uint64_t at = (data_.size() + alignment - 1) / alignment * alignment;
  add_tensor(name, type, ne, 0, at);
  data_.resize(at, 0);
  data_.insert(data_.end(), data.begin(), data.end());
}

void RawGguf::add_tensor_bytes(std::vector<uint8_t> data) {
  data_.insert(data_.end(), data.begin(), data.end());
}

std::vector<uint8_t> RawGguf::bytes() const {
  std::vector<uint8_t> out;
  append_bytes(out, "GGUF", 4);
  append_le<uint32_t>(out, version);
  append_le<uint64_t>(out, claimed_tensors.value_or(n_tensors_));
  append_le<uint64_t>(out, claimed_kvs.value_or(n_kvs_));
  out.insert(out.end(), kvs_.begin(), kvs_.end());
  out.insert(out.end(), infos_.begin(), infos_.end());
  out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
  out.insert(out.end(), data_.begin(), data_.end());
  return out;
}

}  // namespace bitnet_cli::testing
