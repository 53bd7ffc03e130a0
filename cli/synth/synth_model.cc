#include "synth_model.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "byte_order.h"
#include "ggml_types.h"
#include "gguf_writer.h"
#include "safetensors_writer.h"

namespace bitnet_cli::synth {
namespace {

// ---- the model's tensors, shared by the GGUF and HF writers -----------------

enum class Role { kEmbedding, kNorm, kProjection };

struct LogicalTensor {
  std::string gguf_name;
  std::string hf_name;
  Role role;
  int64_t rows;  // outermost (HF dim 0); 1 for vectors
  int64_t cols;
};

std::vector<LogicalTensor> model_tensors(const ModelShape& s) {
  const int64_t head_dim = s.hidden / s.heads;
  const int64_t kv = head_dim * s.kv_heads;
  std::vector<LogicalTensor> list = {
      {"token_embd.weight", "model.embed_tokens.weight", Role::kEmbedding, s.vocab, s.hidden},
      {"output_norm.weight", "model.norm.weight", Role::kNorm, 1, s.hidden},
  };
  for (int l = 0; l < s.layers; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".";
    const std::string h = "model.layers." + std::to_string(l) + ".";
    const std::vector<LogicalTensor> layer = {
        {g + "attn_norm.weight", h + "input_layernorm.weight", Role::kNorm, 1, s.hidden},
        {g + "attn_q.weight", h + "self_attn.q_proj.weight", Role::kProjection, s.hidden, s.hidden},
        {g + "attn_k.weight", h + "self_attn.k_proj.weight", Role::kProjection, kv, s.hidden},
        {g + "attn_v.weight", h + "self_attn.v_proj.weight", Role::kProjection, kv, s.hidden},
        {g + "attn_output.weight", h + "self_attn.o_proj.weight", Role::kProjection, s.hidden, s.hidden},
        {g + "attn_sub_norm.weight", h + "self_attn.attn_sub_norm.weight", Role::kNorm, 1, s.hidden},
        {g + "ffn_norm.weight", h + "post_attention_layernorm.weight", Role::kNorm, 1, s.hidden},
        {g + "ffn_gate.weight", h + "mlp.gate_proj.weight", Role::kProjection, s.ffn, s.hidden},
        {g + "ffn_up.weight", h + "mlp.up_proj.weight", Role::kProjection, s.ffn, s.hidden},
        {g + "ffn_down.weight", h + "mlp.down_proj.weight", Role::kProjection, s.hidden, s.ffn},
        {g + "ffn_sub_norm.weight", h + "mlp.ffn_sub_norm.weight", Role::kNorm, 1, s.ffn},
    };
    list.insert(list.end(), layer.begin(), layer.end());
  }
  return list;
}

float round_to_bf16(float x) {  // round half to even, as torch does
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  bits &= 0xFFFF0000u;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

uint16_t bf16_bits(float x) {  // x already a bf16 value
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return static_cast<uint16_t>(bits >> 16);
}

uint16_t f16_bits(float x) {  // round half to even
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (magnitude >= 0x47800000u) return sign | 0x7C00u;  // >= 65536: Inf
  if (magnitude < 0x38800000u) {                        // below 2^-14: subnormal or zero
    return sign | static_cast<uint16_t>(std::nearbyint(std::fabs(x) * 16777216.0f));
  }
  const uint32_t odd = (magnitude >> 13) & 1u;
  return sign | static_cast<uint16_t>((magnitude - (112u << 23) + 0xFFFu + odd) >> 13);
}

// Values of one tensor: bf16-representable, so that the HF checkpoint's
// bf16 master weights and a GGUF model of the same seed hold one model.
std::vector<float> tensor_values(const LogicalTensor& t, uint64_t seed, std::size_t index) {
  std::mt19937_64 rng(seed * 1000003u + index);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<std::size_t>(t.rows * t.cols));
  for (float& v : values) {
    const float x = normal(rng);
    switch (t.role) {
      case Role::kEmbedding:
        v = round_to_bf16(0.5f * x);
        break;
      case Role::kNorm:
        v = round_to_bf16(1.0f + 0.1f * x);
        break;
      case Role::kProjection:
        v = round_to_bf16(0.02f * x);
        break;
    }
  }
  return values;
}

std::vector<uint8_t> float_bytes(const std::vector<float>& values, WeightType type) {
  std::vector<uint8_t> out;
  out.reserve(values.size() * 4);
  for (float v : values) {
    switch (type) {
      case WeightType::kF32:
        append_le(out, v);
        break;
      case WeightType::kF16:
        append_le(out, f16_bits(v));
        break;
      case WeightType::kBF16:
        append_le(out, bf16_bits(round_to_bf16(v)));
        break;
      case WeightType::kI2s:
        throw std::runtime_error("I2_S is not a float storage");
    }
  }
  return out;
}

// bitnet.cpp's I2_S (bitnet-cpp-ggml-formats.md §2.2): 128-blocks of 32
// bytes, weight j of a block in byte j % 32 at shift 6 - 2·(j / 32), code
// q + 1; then a 32-byte tail, the f32 scale first.
std::vector<uint8_t> i2s_bytes(const TernaryTensor& t) {
  const std::size_t n = t.codes.size();
  if (n % 128 != 0) throw std::runtime_error("I2_S needs a multiple of 128 elements");
  std::vector<uint8_t> out(n / 4 + 32, 0);
  for (std::size_t e = 0; e < n; ++e) {
    const std::size_t block = e / 128, j = e % 128;
    out[32 * block + j % 32] |= static_cast<uint8_t>((t.codes[e] + 1) << (6 - 2 * (j / 32)));
  }
  std::memcpy(out.data() + n / 4, &t.alpha, sizeof t.alpha);
  return out;
}

int file_type_of(WeightType weights) {
  switch (weights) {
    case WeightType::kF32:
      return 0;   // ALL_F32
    case WeightType::kF16:
      return 1;   // MOSTLY_F16
    case WeightType::kBF16:
      return 32;  // MOSTLY_BF16
    case WeightType::kI2s:
      return 40;  // bitnet.cpp MOSTLY_I2_S
  }
  return 0;
}

int32_t ggml_type_of(WeightType weights) {
  switch (weights) {
    case WeightType::kF32:
      return 0;
    case WeightType::kF16:
      return 1;
    case WeightType::kBF16:
      return 30;
    case WeightType::kI2s:
      return 36;
  }
  return 0;
}

const char* const kCorpus =
    "the quick brown fox jumps over the lazy dog while the small model learns to count ternary weights "
    "minus one zero and plus one are all a bit net layer needs to multiply the activations of every token "
    "in the sentence so that the engine can read the packed codes and the scale of each block from the file "
    "mainline llama cpp and bitnet cpp load these files and decode a few tokens to compare their logits "
    "with the reference quantizer bit for bit the tests check that every tensor keeps its codes and scales "
    "when a model is converted transcoded quantized inspected or verified by the command line tool "
    "hello world this is a tiny vocabulary built from plain english text with spaces punctuation and numbers "
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december morning evening afternoon yesterday tomorrow tonight";

// GPT-2's byte-to-character map of its byte-level BPE.
std::vector<std::string> byte_alphabet() {
  std::vector<std::string> chars(256);
  const auto utf8 = [](int cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    chars[b] = utf8(printable ? b : 256 + extra++);
  }
  return chars;
}

std::string hf_config(const HfModelOptions& options) {
  const ModelShape& s = options.shape;
  nlohmann::ordered_json config = {
      {"architectures", {"BitNetForCausalLM"}},
      {"model_type", "bitnet"},
      {"hidden_act", "relu2"},
      {"hidden_size", s.hidden},
      {"intermediate_size", s.ffn},
      {"num_attention_heads", s.heads},
      {"num_hidden_layers", s.layers},
      {"num_key_value_heads", s.kv_heads},
      {"max_position_embeddings", s.context},
      {"rms_norm_eps", s.rms_eps},
      {"rope_theta", s.rope_base},
      {"tie_word_embeddings", options.tie_embeddings},
      {"vocab_size", s.vocab},
      {"bos_token_id", s.vocab - 2},
      {"eos_token_id", s.vocab - 1},
      {"torch_dtype", "bfloat16"},
  };
  if (options.weights == HfWeights::kPacked) {
    config["quantization_config"] = {{"linear_class", "autobitlinear"},
                                     {"quant_method", "bitnet"},
                                     {"quantization_mode", "offline"},
                                     {"modules_to_not_convert", nullptr},
                                     {"use_rms_norm", false}};
  }
  return config.dump(2) + "\n";
}

std::string hf_tokenizer(const BpeVocabulary& bpe) {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  const int specials = 2;
  for (std::size_t i = 0; i + specials < bpe.tokens.size(); ++i) vocab[bpe.tokens[i]] = i;
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (int id : {bpe.bos, bpe.eos}) {
    added.push_back({{"id", id},
                     {"content", bpe.tokens[static_cast<std::size_t>(id)]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  nlohmann::ordered_json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", bpe.merges}}},
  };
  return tokenizer.dump(2) + "\n";
}

std::string hf_tokenizer_config(const BpeVocabulary& bpe) {
  nlohmann::ordered_json config = {
      {"bos_token", bpe.tokens[static_cast<std::size_t>(bpe.bos)]},
      {"eos_token", bpe.tokens[static_cast<std::size_t>(bpe.eos)]},
      {"add_bos_token", true},
      {"add_eos_token", false},
      {"chat_template",
       "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}"},
      {"tokenizer_class", "PreTrainedTokenizerFast"},
  };
  return config.dump(2) + "\n";
}

// transformers' offline BitNet layout: uint8 [rows/4, cols], byte (r, c)
// holds the codes of rows s·rows/4 + r at bits 2s (code = q + 1).
std::vector<uint8_t> hf_packed(const TernaryTensor& t, int64_t rows, int64_t cols) {
  if (rows % 4 != 0) throw std::runtime_error("the packed layout needs rows divisible by 4");
  const int64_t quarter = rows / 4;
  std::vector<uint8_t> out(static_cast<std::size_t>(quarter * cols), 0);
  for (int64_t s = 0; s < 4; ++s) {
    for (int64_t r = 0; r < quarter; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const int8_t q = t.codes[static_cast<std::size_t>((s * quarter + r) * cols + c)];
        out[static_cast<std::size_t>(r * cols + c)] |= static_cast<uint8_t>((q + 1) << (2 * s));
      }
    }
  }
  return out;
}

void make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw std::runtime_error("cannot create " + path);
}

}  // namespace

TernaryTensor absmean_ternarize(const std::vector<float>& weights) {
  double sum = 0;
  for (float w : weights) sum += std::fabs(static_cast<double>(w));
  const auto mean = static_cast<float>(sum / static_cast<double>(weights.size()));
  TernaryTensor t;
  t.scale = 1.0f / std::max(mean, 1e-5f);
  t.alpha = 1.0f / t.scale;
  t.codes.reserve(weights.size());
  for (float w : weights) {
    const float q = std::nearbyint(w * t.scale);  // round half to even
    t.codes.push_back(static_cast<int8_t>(std::clamp(q, -1.0f, 1.0f)));
  }
  return t;
}

BpeVocabulary tiny_bpe(int vocab) {
  const std::vector<std::string> alphabet = byte_alphabet();
  BpeVocabulary bpe;
  bpe.tokens = alphabet;
  // Words with their leading space (as byte-level BPE sees them), as symbol lists.
  std::map<std::vector<std::string>, int> words;
  const std::string corpus = kCorpus;
  for (std::size_t i = 0; i < corpus.size();) {
    std::size_t j = corpus.find(' ', i + 1);
    if (j == std::string::npos) j = corpus.size();
    std::vector<std::string> symbols;
    for (std::size_t k = i; k < j; ++k) symbols.push_back(alphabet[static_cast<uint8_t>(corpus[k])]);
    ++words[symbols];
    i = j;
  }
  while (static_cast<int>(bpe.tokens.size()) < vocab - 2) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [symbols, count] : words) {
      for (std::size_t k = 0; k + 1 < symbols.size(); ++k) pairs[{symbols[k], symbols[k + 1]}] += count;
    }
    if (pairs.empty()) throw std::runtime_error("the tiny BPE corpus cannot fill a vocabulary of " + std::to_string(vocab));
    const auto best = std::max_element(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
      return a.second < b.second;  // ties: the first pair in sorted order
    });
    const auto [left, right] = best->first;
    bpe.merges.push_back(left + " " + right);
    bpe.tokens.push_back(left + right);
    std::map<std::vector<std::string>, int> merged;
    for (const auto& [symbols, count] : words) {
      std::vector<std::string> next;
      for (std::size_t k = 0; k < symbols.size(); ++k) {
        if (k + 1 < symbols.size() && symbols[k] == left && symbols[k + 1] == right) {
          next.push_back(left + right);
          ++k;
        } else {
          next.push_back(symbols[k]);
        }
      }
      merged[next] += count;
    }
    words = std::move(merged);
  }
  bpe.bos = static_cast<int>(bpe.tokens.size());
  bpe.tokens.push_back("<|begin_of_text|>");
  bpe.eos = static_cast<int>(bpe.tokens.size());
  bpe.tokens.push_back("<|end_of_text|>");
  return bpe;
}

void write_gguf_model(const std::string& path, const GgufModelOptions& options) {
  const ModelShape& s = options.shape;
  const std::string arch = options.arch == Arch::kMainline ? "bitnet" : "bitnet-b1.58";
  const auto u32 = [](int v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  std::vector<GgufKeyValue> kvs = {
      {"general.architecture", GgufValue::string(arch)},
      {"general.name", GgufValue::string("synthetic BitNet b1.58")},
      {"general.file_type", u32(file_type_of(options.weights))},
      {arch + ".vocab_size", u32(s.vocab)},
      {arch + ".context_length", u32(s.context)},
      {arch + ".embedding_length", u32(s.hidden)},
      {arch + ".block_count", u32(s.layers)},
      {arch + ".feed_forward_length", u32(s.ffn)},
      {arch + ".rope.dimension_count", u32(s.hidden / s.heads)},
      {arch + ".attention.head_count", u32(s.heads)},
      {arch + ".attention.head_count_kv", u32(s.kv_heads)},
      {arch + ".attention.layer_norm_rms_epsilon", GgufValue::f32(s.rms_eps)},
      {arch + ".rope.freq_base", GgufValue::f32(s.rope_base)},
  };
  if (options.hidden_activation) kvs.push_back({arch + ".hidden_activation", GgufValue::string("relu2")});
  if (options.tokenizer == Tokenizer::kNone) {
    kvs.push_back({"tokenizer.ggml.model", GgufValue::string("none")});
  } else {
    const BpeVocabulary bpe = tiny_bpe(s.vocab);
    std::vector<int32_t> types(bpe.tokens.size(), 1);  // normal
    types[static_cast<std::size_t>(bpe.bos)] = types[static_cast<std::size_t>(bpe.eos)] = 3;  // control
    kvs.push_back({"tokenizer.ggml.model", GgufValue::string("gpt2")});
    // bitnet.cpp's converter writes no pre-tokenizer (gguf-interop.md §3).
    if (options.arch == Arch::kMainline) kvs.push_back({"tokenizer.ggml.pre", GgufValue::string("llama-bpe")});
    kvs.push_back({"tokenizer.ggml.tokens", GgufValue::string_array(bpe.tokens)});
    kvs.push_back({"tokenizer.ggml.token_type", GgufValue::i32_array(types)});
    kvs.push_back({"tokenizer.ggml.merges", GgufValue::string_array(bpe.merges)});
    kvs.push_back({"tokenizer.ggml.bos_token_id", u32(bpe.bos)});
    kvs.push_back({"tokenizer.ggml.eos_token_id", u32(bpe.eos)});
  }

  // Sizes first (the header), then each tensor made and written in turn:
  // memory stays around one tensor whatever the model's size.
  const std::vector<LogicalTensor> logical = model_tensors(s);
  const Provenance provenance = options.arch == Arch::kMainline ? Provenance::kMainline : Provenance::kBitnetCpp;
  std::vector<GgufTensorSpec> specs;
  for (const LogicalTensor& t : logical) {
    GgufTensorSpec spec;
    spec.name = t.gguf_name;
    spec.n_dims = t.rows == 1 ? 1 : 2;
    spec.ne[0] = t.cols;
    spec.ne[1] = t.rows;
    const WeightType storage = t.role == Role::kNorm        ? WeightType::kF32
                               : t.role == Role::kEmbedding ? options.embedding
                                                            : options.weights;
    spec.type = find_type(ggml_type_of(storage), provenance);
    std::string why;
    spec.size = tensor_bytes(*spec.type, spec.ne, &why).value_or(0);
    specs.push_back(std::move(spec));
  }
  GgufWriter writer(std::move(kvs), std::move(specs));
  OutputFile out(path, true);
  writer.begin(out);
  for (std::size_t i = 0; i < logical.size(); ++i) {
    const LogicalTensor& t = logical[i];
    const std::vector<float> values = tensor_values(t, options.seed, i);
    std::vector<uint8_t> data;
    switch (t.role) {
      case Role::kNorm:
        data = float_bytes(values, WeightType::kF32);
        break;
      case Role::kEmbedding:
        data = float_bytes(values, options.embedding);
        break;
      case Role::kProjection: {
        if (!options.ternarized && options.weights != WeightType::kI2s) {
          data = float_bytes(values, options.weights);
          break;
        }
        const TernaryTensor ternary = absmean_ternarize(values);
        if (options.weights == WeightType::kI2s) {
          data = i2s_bytes(ternary);
        } else {
          std::vector<float> dequantized(ternary.codes.size());
          for (std::size_t k = 0; k < dequantized.size(); ++k) dequantized[k] = ternary.codes[k] * ternary.alpha;
          data = float_bytes(dequantized, options.weights);
        }
        break;
      }
    }
    writer.write(data.data(), data.size());
  }
  writer.finish();
}

void write_hf_model(const std::string& directory, const HfModelOptions& options) {
  make_directory(directory);
  const BpeVocabulary bpe = tiny_bpe(options.shape.vocab);
  write_text_file(directory + "/config.json", hf_config(options));
  write_text_file(directory + "/tokenizer.json", hf_tokenizer(bpe));
  write_text_file(directory + "/tokenizer_config.json", hf_tokenizer_config(bpe));

  const std::vector<LogicalTensor> logical = model_tensors(options.shape);
  std::vector<SafetensorsEntry> entries;
  for (std::size_t i = 0; i < logical.size(); ++i) {
    const LogicalTensor& t = logical[i];
    const std::vector<float> values = tensor_values(t, options.seed, i);
    const std::vector<int64_t> shape =
        t.rows == 1 ? std::vector<int64_t>{t.cols} : std::vector<int64_t>{t.rows, t.cols};
    if (t.role == Role::kProjection && options.weights == HfWeights::kPacked) {
      const TernaryTensor ternary = absmean_ternarize(values);
      entries.push_back({t.hf_name, "U8", {t.rows / 4, t.cols}, hf_packed(ternary, t.rows, t.cols)});
      std::vector<uint8_t> scale;
      append_le(scale, bf16_bits(round_to_bf16(ternary.scale)));
      const std::string base = t.hf_name.substr(0, t.hf_name.size() - std::string("weight").size());
      entries.push_back({base + "weight_scale", "BF16", {1}, scale});
    } else {
      entries.push_back({t.hf_name, "BF16", shape, float_bytes(values, WeightType::kBF16)});
    }
  }
  if (!options.tie_embeddings) {
    const LogicalTensor head{"", "lm_head.weight", Role::kEmbedding, options.shape.vocab, options.shape.hidden};
    entries.push_back({head.hf_name, "BF16", {head.rows, head.cols},
                       float_bytes(tensor_values(head, options.seed, logical.size()), WeightType::kBF16)});
  }

  if (options.shards <= 1) {
    write_binary_file(directory + "/model.safetensors", encode_safetensors(entries, {{"format", "pt"}}));
    return;
  }
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  uint64_t total = 0;
  const std::size_t per_shard = (entries.size() + static_cast<std::size_t>(options.shards) - 1) / static_cast<std::size_t>(options.shards);
  for (int shard = 0; shard < options.shards; ++shard) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", shard + 1, options.shards);
    const std::size_t begin = std::min(entries.size(), static_cast<std::size_t>(shard) * per_shard);
    const std::size_t end = std::min(entries.size(), begin + per_shard);
    const std::vector<SafetensorsEntry> part(entries.begin() + static_cast<std::ptrdiff_t>(begin),
                                             entries.begin() + static_cast<std::ptrdiff_t>(end));
    for (const SafetensorsEntry& e : part) {
      weight_map[e.name] = name;
      total += e.data.size();
    }
    write_binary_file(directory + "/" + name, encode_safetensors(part, {{"format", "pt"}}));
  }
  const nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_text_file(directory + "/model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace bitnet_cli::synth
