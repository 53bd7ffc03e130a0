// Little-endian loads and stores. GGUF and safetensors are little-endian
// formats; the tool reads them with plain loads, so it builds only for
// little-endian hosts (every CPU the library targets).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "bitnet-quant reads little-endian files with native loads");

namespace bitnet_cli {

template <typename T>
T load_le(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

inline void append_bytes(std::vector<uint8_t>& out, const void* data, std::size_t size) {
  if (size == 0) return;
  const std::size_t at = out.size();
  out.resize(at + size);
  std::memcpy(out.data() + at, data, size);
}

template <typename T>
void append_le(std::vector<uint8_t>& out, T value) {
  append_bytes(out, &value, sizeof value);
}

}  // namespace bitnet_cli
