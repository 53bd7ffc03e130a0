// Small synthetic BitNet b1.58 models for the tests: GGUF files in
// mainline llama.cpp's arch `bitnet` or bitnet.cpp's `bitnet-b1.58`
// (KV keys and tensor names of gguf-interop.md §2-3), and Hugging Face
// checkpoint folders (config.json, tokenizer.json, safetensors with bf16
// master weights or transformers' packed uint8 + weight_scale).
// Deterministic for a given seed. The linear weights are random and
// absmean-ternarized per tensor (values q·α, α = 1/s as the converters
// compute it); norms and the embedding stay float.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitnet_cli::synth {

enum class Arch { kMainline, kBitnetCpp };         // "bitnet", "bitnet-b1.58"
enum class Tokenizer { kNone, kBpe };               // "none" + vocab_size, or a tiny gpt2 BPE
enum class WeightType { kF32, kF16, kBF16, kI2s };  // storage of the ternary projections in a GGUF
enum class HfWeights { kBf16, kPacked };            // master weights, or uint8 codes + weight_scale

struct ModelShape {
  int layers = 2;
  int hidden = 256;
  int ffn = 512;
  int heads = 4;
  int kv_heads = 1;
  int vocab = 512;
  int context = 256;
  float rope_base = 500000.0f;
  float rms_eps = 1e-5f;
};

struct GgufModelOptions {
  ModelShape shape;
  Arch arch = Arch::kMainline;
  Tokenizer tokenizer = Tokenizer::kNone;
  WeightType weights = WeightType::kF32;
  WeightType embedding = WeightType::kF32;  // kF32, kF16 or kBF16
  bool hidden_activation = false;           // write <arch>.hidden_activation = "relu2"
  // false: the projections hold the master weights the others are
  // ternarized from (float storage only), what quantize's absmean reads.
  bool ternarized = true;
  uint64_t seed = 1;
};

struct HfModelOptions {
  ModelShape shape;
  HfWeights weights = HfWeights::kBf16;
  int shards = 1;  // > 1: model-0000i-of-0000n.safetensors + index
  bool tie_embeddings = true;
  uint64_t seed = 1;
};

void write_gguf_model(const std::string& path, const GgufModelOptions& options);
void write_hf_model(const std::string& directory, const HfModelOptions& options);

// The tiny byte-level BPE both writers use: GPT-2's byte alphabet, merges
// learnt from a fixed text until the vocabulary has `vocab` entries (the
// last two are <|begin_of_text|> and <|end_of_text|>).
struct BpeVocabulary {
  std::vector<std::string> tokens;
  std::vector<std::string> merges;  // "a b"
  int bos = 0;
  int eos = 0;
};
BpeVocabulary tiny_bpe(int vocab);

// The ternary projections of layer l in GGUF order, with their ggml shape
// {cols, rows}; and the absmean ternarization both writers use.
struct TernaryTensor {
  std::vector<int8_t> codes;  // -1, 0, +1, row-major rows x cols
  float alpha = 0;            // value = code * alpha
  float scale = 0;            // s = 1 / max(mean|W|, 1e-5), alpha = 1 / s
};
TernaryTensor absmean_ternarize(const std::vector<float>& weights);

}  // namespace bitnet_cli::synth
