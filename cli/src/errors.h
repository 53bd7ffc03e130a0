// Errors of the bitnet-quant tool. Every message names what was wrong and
// where (file, KV, tensor, offset); main() prints it and picks the exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace bitnet_cli {

// A file that is not what it claims to be, or a system call that failed:
// exit code 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A request the command line cannot have meant (a --type that a tensor's
// shape cannot hold, an unknown name): exit code 2, like a parse error.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "what: strerror(err)".
std::string system_error_message(const std::string& what, int err);

}  // namespace bitnet_cli
