// Runs a program (the built bitnet-quant) and captures its exit, stdout
// and stderr, for the command-line tests.
#pragma once

#include <string>
#include <vector>

namespace bitnet_cli::testing {

struct ToolResult {
  int exit_code = -1;  // -1 if killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

ToolResult run_tool(const std::string& program, const std::vector<std::string>& args);

}  // namespace bitnet_cli::testing
