// bitnet-quant: the command line. Exit codes:
//   0  success (verify: the file passed every check)
//   1  error: unreadable or invalid input, an output that could not be
//      written (nothing is left behind), or another failure
//   2  usage: the command line is wrong or asks for what cannot be done
//      (an unknown type, an existing output without --force, a type a
//      tensor's shape cannot hold, a transcode that would change values)
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

// -q/--quiet and -j/--threads: the last options of every command.
void add_common(CLI::App* command, CommonOptions& common) {
  common.threads = default_threads();
  command->add_flag("-q,--quiet", common.quiet, "No progress output");
  command->add_option("-j,--threads", common.threads, "Worker threads (default: the CPUs online)")
      ->check(CLI::Range(1u, 1024u));
}

// FILE and --json: the first options of the commands that report on a GGUF.
void add_report(CLI::App* command, std::string& path, bool& json) {
  command->add_option("FILE", path, "GGUF file")->required();
  command->add_flag("--json", json, "Print JSON instead of text");
}

// The input, OUT and -t/--type: the first options of the commands that
// write a GGUF (`types` lists the ones the command writes).
void add_rewrite(CLI::App* command, std::string& in_path, std::string& out_path, std::string& type,
                 const char* types, const char* input = "IN", const char* input_help = "Input GGUF") {
  command->add_option(input, in_path, input_help)->required();
  command->add_option("OUT", out_path, "Output GGUF (written atomically)")->required();
  command->add_option("-t,--type", type, types)->required();
}

// -f/--force and the common options: the last options of a command that
// writes a GGUF.
void add_force_and_common(CLI::App* command, bool& force, CommonOptions& common) {
  command->add_flag("-f,--force", force, "Replace an existing OUT");
  add_common(command, common);
}

const char* const kExitCodes =
    "Exit codes: 0 success; 1 error (invalid input or failed output; nothing is left behind); "
    "2 usage error or a request that cannot be honoured (nothing is written); 3 verify found a fault.";

int run(int argc, char** argv) {
  CLI::App app{"bitnet-quant: BitNet b1.58 checkpoints to GGUF files that mainline llama.cpp and bitnet.cpp load."};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("bitnet-quant ") + bitnet_version_string());

  InspectOptions inspect;
  CLI::App* inspect_command = app.add_subcommand(
      "inspect", "List a GGUF file's KVs and tensors (type, shape, bytes, bits per weight; for ternary tensors "
                 "the scale range and the share of -1/0/+1) with totals per type");
  add_report(inspect_command, inspect.path, inspect.json);
  bool header_only = false;
  inspect_command->add_flag("--no-data", header_only, "Read the header only (no ternary statistics)");
  inspect_command->add_option("--max-array", inspect.max_array_items, "Array elements shown per KV (default 8)");
  add_common(inspect_command, inspect.common);

  VerifyOptions verify;
  CLI::App* verify_command = app.add_subcommand(
      "verify", "Check every tensor (placement, sizes, codes no encoder writes, non-finite or negative scales, "
                "non-finite values) and the checksums bitnet-quant records; exit 3 naming the first fault");
  add_report(verify_command, verify.path, verify.json);
  add_common(verify_command, verify.common);

  QuantizeOptions quantize;
  CLI::App* quantize_command = app.add_subcommand(
      "quantize", "Ternarize the linear weights of a BitNet GGUF with F32/F16/BF16 tensors (attn q/k/v/output, "
                  "ffn gate/up/down) into a ternary type; everything else is copied. tq2_0/tq1_0/q2_0 give a "
                  "mainline llama.cpp file (arch bitnet), i2_s a bitnet.cpp file (arch bitnet-b1.58)");
  add_rewrite(quantize_command, quantize.in_path, quantize.out_path, quantize.type, "tq2_0, tq1_0, q2_0 or i2_s");
  quantize_command->add_option("--ternarize", quantize.ternarize,
                               "absmean (default: BitNet b1.58's rule; ternary tensors keep their scale) or none "
                               "(the weights must be ternary already)");
  quantize_command->add_option("--tensor-type", quantize.tensor_types,
                               "REGEX=TYPE: tensors whose name matches get TYPE (first rule wins; repeatable)");
  add_force_and_common(quantize_command, quantize.force, quantize.common);

  TranscodeOptions transcode;
  CLI::App* transcode_command = app.add_subcommand(
      "transcode", "Re-pack the ternary tensors of a GGUF into another ternary type without a float round trip, "
                   "mapping the file between bitnet.cpp (i2_s) and mainline llama.cpp (tq2_0, tq1_0)");
  add_rewrite(transcode_command, transcode.in_path, transcode.out_path, transcode.type, "tq2_0, tq1_0 or i2_s");
  transcode_command->add_flag("--exact-scales", transcode.exact_scales,
                              "Refuse a per-tensor f32 scale that a 256-block's f16 d cannot hold exactly "
                              "(default: round it, as llama_model_quantize does)");
  transcode_command->add_option("--scale", transcode.scale_mode,
                                "block (default): I2_S's scale as each 256-block's f16 d, as llama_model_quantize "
                                "writes; tensor: d = 1 and the exact f32 scale in mainline's blk.N.<proj>.scale");
  add_force_and_common(transcode_command, transcode.force, transcode.common);

  ConvertOptions convert;
  CLI::App* convert_command = app.add_subcommand(
      "convert", "A Hugging Face BitNet b1.58 checkpoint (config.json, tokenizer.json, safetensors: bf16 master "
                 "weights or transformers' packed codes + weight_scale) to a complete GGUF with its BPE vocabulary: "
                 "tq2_0/tq1_0/q2_0 for mainline llama.cpp, i2_s for bitnet.cpp");
  add_rewrite(convert_command, convert.hf_dir, convert.out_path, convert.type, "tq2_0, tq1_0, q2_0 or i2_s",
              "HF_DIR", "Checkpoint folder");
  convert_command->add_option("--embedding-type", convert.embedding_type, "token_embd's type: f16 (default), bf16, f32, q8_0");
  add_force_and_common(convert_command, convert.force, convert.common);

  for (CLI::App* command : app.get_subcommands({})) command->footer(kExitCodes);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (inspect_command->parsed()) {
      inspect.read_data = !header_only;
      return run_inspect(inspect);
    }
    if (quantize_command->parsed()) return run_quantize(quantize);
    if (convert_command->parsed()) return run_convert(convert);
    if (transcode_command->parsed()) return run_transcode(transcode);
    if (verify_command->parsed()) return run_verify(verify);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bitnet-quant: %s\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {  // Error and the rest
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
