// The subcommands of bitnet-quant, each a function of its parsed options
// returning the process exit code (documented in main.cc and the README).
#pragma once

#include <cstddef>
#include <string>

namespace bitnet_cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,  // unreadable or invalid input, failed output, nothing written
  kExitUsage = 2,  // a command line that cannot be honoured
  kExitFault = 3,  // verify: the file is damaged or not what an engine loads
};

struct CommonOptions {
  bool quiet = false;
  unsigned threads = 1;
};

struct InspectOptions {
  CommonOptions common;
  std::string path;
  bool json = false;
  bool read_data = true;        // scale range and -1/0/+1 shares of ternary tensors
  std::size_t max_array_items = 8;
};
int run_inspect(const InspectOptions& options);

struct VerifyOptions {
  CommonOptions common;
  std::string path;
  bool json = false;
};
int run_verify(const VerifyOptions& options);

}  // namespace bitnet_cli
