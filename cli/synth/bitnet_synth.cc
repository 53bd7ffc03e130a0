// bitnet-synth: writes the small synthetic BitNet models the tests use
// (not installed). See synth_model.h.
//   bitnet-synth gguf OUT.gguf [--arch bitnet|bitnet-b1.58] [--tokenizer none|bpe]
//                [--weights f32|f16|bf16|i2_s] [--embedding f32|f16|bf16] [--master-weights]
//                [shape options]
//   bitnet-synth hf DIR [--weights bf16|packed] [--shards N] [--untied] [shape options]
#include <cstdio>
#include <map>

#include <CLI/CLI.hpp>

#include "synth_model.h"

using namespace bitnet_cli::synth;

namespace {

void add_shape(CLI::App* command, ModelShape& s, uint64_t& seed) {
  command->add_option("--layers", s.layers, "Transformer blocks")->check(CLI::Range(1, 1024));
  command->add_option("--hidden", s.hidden, "Embedding width")->check(CLI::Range(4, 1 << 16));
  command->add_option("--ffn", s.ffn, "Feed-forward width")->check(CLI::Range(4, 1 << 17));
  command->add_option("--heads", s.heads, "Attention heads")->check(CLI::Range(1, 1024));
  command->add_option("--kv-heads", s.kv_heads, "Key/value heads")->check(CLI::Range(1, 1024));
  command->add_option("--vocab", s.vocab, "Vocabulary size")->check(CLI::Range(260, 1 << 20));
  command->add_option("--context", s.context, "Context length")->check(CLI::Range(1, 1 << 20));
  command->add_option("--rope-base", s.rope_base, "RoPE frequency base");
  command->add_option("--seed", seed, "Random seed");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bitnet-synth: small synthetic BitNet b1.58 models for the tests"};
  app.require_subcommand(1);

  GgufModelOptions gguf;
  std::string gguf_path;
  CLI::App* gguf_command = app.add_subcommand("gguf", "A GGUF model");
  gguf_command->add_option("OUT", gguf_path, "Output file (replaced if it exists)")->required();
  gguf_command->add_option("--arch", gguf.arch, "Architecture")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Arch>{{"bitnet", Arch::kMainline},
                                                                      {"bitnet-b1.58", Arch::kBitnetCpp}}));
  gguf_command->add_option("--tokenizer", gguf.tokenizer, "Vocabulary")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Tokenizer>{{"none", Tokenizer::kNone},
                                                                           {"bpe", Tokenizer::kBpe}}));
  const std::map<std::string, WeightType> weight_types{
      {"f32", WeightType::kF32}, {"f16", WeightType::kF16}, {"bf16", WeightType::kBF16}, {"i2_s", WeightType::kI2s}};
  gguf_command->add_option("--weights", gguf.weights, "Storage of the ternary projections")
      ->transform(CLI::CheckedTransformer(weight_types));
  gguf_command->add_option("--embedding", gguf.embedding, "Storage of token_embd")
      ->transform(CLI::CheckedTransformer(std::map<std::string, WeightType>{
          {"f32", WeightType::kF32}, {"f16", WeightType::kF16}, {"bf16", WeightType::kBF16}}));
  gguf_command->add_flag("--hidden-activation", gguf.hidden_activation, "Write <arch>.hidden_activation = relu2");
  bool master_weights = false;
  gguf_command->add_flag("--master-weights", master_weights,
                         "Projections hold the random master weights, not their ternarization (float storage)");
  add_shape(gguf_command, gguf.shape, gguf.seed);

  HfModelOptions hf;
  std::string hf_path;
  bool untied = false;
  CLI::App* hf_command = app.add_subcommand("hf", "A Hugging Face checkpoint folder");
  hf_command->add_option("DIR", hf_path, "Output folder (created)")->required();
  hf_command->add_option("--weights", hf.weights, "bf16 master weights or packed uint8 + weight_scale")
      ->transform(CLI::CheckedTransformer(std::map<std::string, HfWeights>{{"bf16", HfWeights::kBf16},
                                                                           {"packed", HfWeights::kPacked}}));
  hf_command->add_option("--shards", hf.shards, "Safetensors shards (>1 writes an index)")->check(CLI::Range(1, 99));
  hf_command->add_flag("--untied", untied, "A separate lm_head.weight");
  add_shape(hf_command, hf.shape, hf.seed);

  CLI11_PARSE(app, argc, argv);
  try {
    if (gguf_command->parsed()) {
      gguf.ternarized = !master_weights;
      write_gguf_model(gguf_path, gguf);
    } else {
      hf.tie_embeddings = !untied;
      write_hf_model(hf_path, hf);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitnet-synth: %s\n", e.what());
    return 1;
  }
  return 0;
}
