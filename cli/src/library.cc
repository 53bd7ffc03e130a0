#include "library.h"

#include "errors.h"

namespace bitnet_cli {

std::optional<bitnet_type> library_type(const TypeInfo& type) {
  bitnet_type_info info{};
  info.struct_size = sizeof info;
  if (bitnet_type_get_info(type.id, &info) != BITNET_OK) return std::nullopt;
  return type.id;
}

bitnet_type_info library_type_info(bitnet_type type) {
  bitnet_type_info info{};
  info.struct_size = sizeof info;
  check_status(bitnet_type_get_info(type, &info), "bitnet_type_get_info");
  return info;
}

bitnet_tensor_options tensor_options(unsigned threads, uint32_t flags, int32_t ternarize) {
  bitnet_tensor_options options = BITNET_TENSOR_OPTIONS_INIT;
  options.n_threads = static_cast<int32_t>(threads);
  options.flags = flags;
  options.ternarize = ternarize;
  return options;
}

void check_status(int status, const std::string& what) {
  if (status == BITNET_OK) return;
  const char* message = bitnet_last_error();
  throw Error(what + ": " + (message != nullptr ? message : bitnet_status_string(status)));
}

std::optional<std::size_t> library_tensor_size(bitnet_type type, int64_t rows, int64_t cols, std::string* why) {
  std::size_t bytes = 0;
  if (bitnet_tensor_size(type, rows, cols, &bytes) != BITNET_OK) {
    const char* message = bitnet_last_error();
    *why = message != nullptr ? message : "invalid shape";
    return std::nullopt;
  }
  return bytes;
}

}  // namespace bitnet_cli
