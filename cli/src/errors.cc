#include "errors.h"

#include <cstring>

namespace bitnet_cli {

std::string system_error_message(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

}  // namespace bitnet_cli
