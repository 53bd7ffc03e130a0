// bitnet-quant: the command line. Exit codes:
//   0  success (verify: the file passed every check)
//   1  error: unreadable or invalid input, an output that could not be
//      written (nothing is left behind), or another failure
//   2  usage: the command line is wrong or asks for what cannot be done
//      (an unknown type, an existing output without --force)
//   3  verify: the file is damaged or holds what no engine loads
//   128+N  killed by signal N (e.g. 130 for Ctrl-C); no output is left
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "bitnet_quant.h"
#include "commands.h"
#include "errors.h"

namespace {

using namespace bitnet_cli;

unsigned default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

void add_common(CLI::App* command, CommonOptions& common) {
  command->add_flag("-q,--quiet", common.quiet, "No progress output");
  command->add_option("-j,--threads", common.threads, "Worker threads (default: the CPUs online)")
      ->check(CLI::Range(1u, 1024u));
}

const char* const kExitCodes =
    "Exit codes: 0 success; 1 error (invalid input or failed output; nothing is left behind); "
    "2 usage error; 3 verify found a fault.";

int run(int argc, char** argv) {
  CLI::App app{"bitnet-quant: BitNet b1.58 checkpoints to GGUF files that mainline llama.cpp and bitnet.cpp load."};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("bitnet-quant ") + bitnet_version_string());

  CommonOptions common;
  common.threads = default_threads();

  InspectOptions inspect;
  CLI::App* inspect_command = app.add_subcommand(
      "inspect", "List a GGUF file's KVs and tensors (type, shape, bytes, bits per weight; for ternary tensors "
                 "the scale range and the share of -1/0/+1) with totals per type");
  inspect_command->add_option("FILE", inspect.path, "GGUF file")->required();
  inspect_command->add_flag("--json", inspect.json, "Print JSON instead of text");
  bool header_only = false;
  inspect_command->add_flag("--no-data", header_only, "Read the header only (no ternary statistics)");
  inspect_command->add_option("--max-array", inspect.max_array_items, "Array elements shown per KV (default 8)");
  add_common(inspect_command, common);

  VerifyOptions verify;
  CLI::App* verify_command = app.add_subcommand(
      "verify", "Check every tensor (placement, sizes, codes no encoder writes, non-finite or negative scales, "
                "non-finite values) and the checksums bitnet-quant records; exit 3 naming the first fault");
  verify_command->add_option("FILE", verify.path, "GGUF file")->required();
  verify_command->add_flag("--json", verify.json, "Print JSON instead of text");
  add_common(verify_command, common);

  for (CLI::App* command : app.get_subcommands({})) command->footer(kExitCodes);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (inspect_command->parsed()) {
      inspect.common = common;
      inspect.read_data = !header_only;
      return run_inspect(inspect);
    }
    if (verify_command->parsed()) {
      verify.common = common;
      return run_verify(verify);
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bitnet-quant: %s\n", e.what());
    return kExitUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "bitnet-quant: %s\n", e.what());
    return kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitnet-quant: %s\n", e.what());
    return kExitError;
  }
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // e.g. out of memory while building the command line
    std::fprintf(stderr, "bitnet-quant: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "bitnet-quant: unknown error\n");
  }
  return kExitError;
}
