// The subcommands of bitnet-quant, each a function of its parsed options
// returning the process exit code (documented in main.cc and the README).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

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

struct QuantizeOptions {
  CommonOptions common;
  std::string in_path;
  std::string out_path;
  std::string type;                       // tq2_0, tq1_0, q2_0, i2_s
  std::string ternarize = "absmean";      // or "none": the weights are ternary already
  std::vector<std::string> tensor_types;  // REGEX=TYPE, first match wins
  bool force = false;
};
int run_quantize(const QuantizeOptions& options);

struct TranscodeOptions {
  CommonOptions common;
  std::string in_path;
  std::string out_path;
  std::string type;  // tq2_0, tq1_0, i2_s
  bool exact_scales = false;  // refuse rounding an f32 scale to f16
  std::string scale_mode = "block";  // or "tensor": d = 1 and a .scale tensor (mainline)
  bool force = false;
};
int run_transcode(const TranscodeOptions& options);

struct ConvertOptions {
  CommonOptions common;
  std::string hf_dir;
  std::string out_path;
  std::string type;                   // tq2_0, tq1_0, q2_0, i2_s
  std::string embedding_type = "f16";  // token_embd
  bool force = false;
};
int run_convert(const ConvertOptions& options);

}  // namespace bitnet_cli
