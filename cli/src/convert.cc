// bitnet-quant convert HF_DIR OUT.gguf --type T: a Hugging Face BitNet
// b1.58 checkpoint (config.json, tokenizer.json, tokenizer_config.json,
// one or sharded safetensors) to a complete GGUF: hyper-parameters, the BPE
// vocabulary and merges, and the tensors under their GGUF names. bf16/f16/
// f32 master weights of the projections are absmean-ternarized into T by
// bitnet_tensor_quantize; transformers' packed uint8 codes with their
// weight_scale are re-packed by bitnet_tensor_transcode (HF_BITNET), so
// their codes and scales are kept and nothing is ternarized twice. Norms
// become F32, the embedding --embedding-type (F16 by default, as both
// engines' converters write it).
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "errors.h"
#include "library.h"
#include "model_rewrite.h"
#include "safetensors.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

using json = nlohmann::json;

json read_json(const std::string& path, bool required) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!required) return json();
    throw Error(system_error_message("cannot open " + path, errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
}

int64_t config_int(const json& config, const char* key, const std::string& path) {
  const auto it = config.find(key);
  if (it == config.end() || !it->is_number_integer() || it->get<int64_t>() <= 0) {
    throw Error(path + ": \"" + key + "\" is missing or not a positive integer");
  }
  return it->get<int64_t>();
}

float config_float(const json& config, const char* key, float fallback) {
  const auto it = config.find(key);
  return it != config.end() && it->is_number() ? it->get<float>() : fallback;
}

std::optional<int64_t> token_id(const json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_array() && !value.empty() && value[0].is_number_integer()) return value[0].get<int64_t>();
  return std::nullopt;
}

struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;  // llama.cpp's token types: 1 normal, 3 control, 4 user-defined, 5 unused
  std::vector<std::string> merges;
};

Vocabulary read_bpe(const json& tokenizer, const std::string& path, int64_t vocab_size) {
  const json& model = tokenizer.value("model", json::object());
  if (model.value("type", "") != "BPE" || !model.contains("vocab") || !model["vocab"].is_object()) {
    throw UsageError(path + ": the tokenizer is not a BPE model with a vocab (SentencePiece and other models are "
                     "not supported)");
  }
  std::vector<std::pair<int64_t, std::pair<std::string, int32_t>>> entries;
  for (const auto& [token, id] : model["vocab"].items()) entries.push_back({id.get<int64_t>(), {token, 1}});
  for (const json& added : tokenizer.value("added_tokens", json::array())) {
    entries.push_back({added.at("id").get<int64_t>(),
                       {added.at("content").get<std::string>(), added.value("special", false) ? 3 : 4}});
  }
  int64_t n = vocab_size;
  for (const auto& e : entries) {
    if (e.first < 0 || e.first > (int64_t{1} << 24)) throw Error(path + ": token id " + std::to_string(e.first) + " is out of range");
    n = std::max(n, e.first + 1);
  }
  Vocabulary v;
  v.tokens.resize(static_cast<std::size_t>(n));
  v.types.assign(static_cast<std::size_t>(n), 5);
  for (auto& [id, token] : entries) {
    v.tokens[static_cast<std::size_t>(id)] = std::move(token.first);
    v.types[static_cast<std::size_t>(id)] = token.second;
  }
  for (std::size_t id = 0; id < v.tokens.size(); ++id) {
    if (v.types[id] == 5) v.tokens[id] = "[PAD" + std::to_string(id) + "]";
  }
  for (const json& merge : model.value("merges", json::array())) {
    if (merge.is_string()) {
      v.merges.push_back(merge.get<std::string>());
    } else if (merge.is_array() && merge.size() == 2) {
      v.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
    } else {
      throw Error(path + ": a merge is neither \"a b\" nor [a, b]");
    }
  }
  if (v.merges.empty()) throw Error(path + ": the BPE model has no merges");
  return v;
}

// A tensor of the output: its GGUF name, the checkpoint tensor, its role.
enum class Role { kEmbedding, kNorm, kProjection };
struct Planned {
  std::string gguf_name;
  std::string hf_name;
  Role role;
  int64_t rows;  // 1 for vectors
  int64_t cols;
};

std::vector<Planned> plan_tensors(int64_t layers, int64_t hidden, int64_t ffn, int64_t kv, int64_t vocab) {
  std::vector<Planned> list = {
      {"token_embd.weight", "model.embed_tokens.weight", Role::kEmbedding, vocab, hidden},
      {"output_norm.weight", "model.norm.weight", Role::kNorm, 1, hidden},
  };
  for (int64_t l = 0; l < layers; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".";
    const std::string h = "model.layers." + std::to_string(l) + ".";
    const std::vector<Planned> layer = {
        {g + "attn_norm.weight", h + "input_layernorm.weight", Role::kNorm, 1, hidden},
        {g + "attn_q.weight", h + "self_attn.q_proj.weight", Role::kProjection, hidden, hidden},
        {g + "attn_k.weight", h + "self_attn.k_proj.weight", Role::kProjection, kv, hidden},
        {g + "attn_v.weight", h + "self_attn.v_proj.weight", Role::kProjection, kv, hidden},
        {g + "attn_output.weight", h + "self_attn.o_proj.weight", Role::kProjection, hidden, hidden},
        {g + "attn_sub_norm.weight", h + "self_attn.attn_sub_norm.weight", Role::kNorm, 1, hidden},
        {g + "ffn_norm.weight", h + "post_attention_layernorm.weight", Role::kNorm, 1, hidden},
        {g + "ffn_gate.weight", h + "mlp.gate_proj.weight", Role::kProjection, ffn, hidden},
        {g + "ffn_up.weight", h + "mlp.up_proj.weight", Role::kProjection, ffn, hidden},
        {g + "ffn_down.weight", h + "mlp.down_proj.weight", Role::kProjection, hidden, ffn},
        {g + "ffn_sub_norm.weight", h + "mlp.ffn_sub_norm.weight", Role::kNorm, 1, ffn},
    };
    list.insert(list.end(), layer.begin(), layer.end());
  }
  return list;
}

bitnet_type float_type_of(const SafetensorsTensor& t) {
  switch (t.dtype) {
    case SafetensorsDtype::kF32:
      return BITNET_TYPE_F32;
    case SafetensorsDtype::kF16:
      return BITNET_TYPE_F16;
    case SafetensorsDtype::kBF16:
      return BITNET_TYPE_BF16;
    default:
      throw UsageError("checkpoint tensor " + printable(t.name) + " is " + safetensors_dtype_name(t.dtype) +
                       "; convert reads F32, F16 or BF16 (or transformers' packed U8 projections)");
  }
}

std::string shape_error(const SafetensorsTensor& t, const std::string& expected) {
  return "checkpoint tensor " + printable(t.name) + " has shape " + t.shape_text() + " where config.json implies " +
         expected;
}

// The f32 value of a one-element weight_scale tensor.
float scale_value(const SafetensorsTensor& t) {
  if (t.elements() != 1) throw Error(shape_error(t, "one element"));
  const bitnet_type type = float_type_of(t);
  float value = 0;
  const bitnet_tensor_options options = tensor_options(1);
  std::vector<uint8_t> copy(t.data, t.data + t.size);  // element alignment for the library
  check_status(bitnet_tensor_quantize(BITNET_TYPE_F32, &options, type, copy.data(), 1, 1, &value, sizeof value),
               "checkpoint tensor " + printable(t.name));
  return value;
}

int run_convert_checked(const ConvertOptions& options);

}  // namespace

// JSON of the wrong shape (a string where a number belongs) is named with
// the folder, not left as a bare nlohmann message.
int run_convert(const ConvertOptions& options) {
  try {
    return run_convert_checked(options);
  } catch (const nlohmann::json::exception& e) {
    throw Error(options.hf_dir + ": config.json or tokenizer.json is not what a BitNet checkpoint holds: " + e.what());
  }
}

namespace {

int run_convert_checked(const ConvertOptions& options) {
  const bitnet_type target = ternary_target_type(options.type, "convert");
  const Provenance engine = engine_of(target);
  bitnet_type embedding_type = 0;
  if (bitnet_type_from_name(options.embedding_type.c_str(), &embedding_type) != BITNET_OK ||
      find_type(embedding_type, engine) == nullptr || !library_type_info(embedding_type).can_quantize ||
      library_type_info(embedding_type).ternary) {
    throw UsageError("--embedding-type " + printable(options.embedding_type) +
                     " is not a type for the embedding (f16, bf16, f32, q8_0)");
  }
  const std::string& dir = options.hf_dir;
  const std::string config_path = dir + "/config.json";
  const json config = read_json(config_path, true);
  const std::string tokenizer_path = dir + "/tokenizer.json";
  const json tokenizer = read_json(tokenizer_path, true);
  const json tokenizer_config = read_json(dir + "/tokenizer_config.json", false);

  bool bitnet = false;
  for (const json& a : config.value("architectures", json::array())) {
    bitnet |= a.is_string() && (a == "BitNetForCausalLM" || a == "BitnetForCausalLM");
  }
  if (!bitnet) {
    throw UsageError(config_path + ": \"architectures\" names no BitNetForCausalLM; convert reads BitNet b1.58 "
                     "checkpoints");
  }
  const int64_t hidden = config_int(config, "hidden_size", config_path);
  const int64_t ffn = config_int(config, "intermediate_size", config_path);
  const int64_t heads = config_int(config, "num_attention_heads", config_path);
  const int64_t layers = config_int(config, "num_hidden_layers", config_path);
  const int64_t kv_heads = config.contains("num_key_value_heads") ? config_int(config, "num_key_value_heads", config_path) : heads;
  const int64_t vocab_size = config_int(config, "vocab_size", config_path);
  const int64_t context = config_int(config, "max_position_embeddings", config_path);
  if (hidden % heads != 0 || heads % kv_heads != 0) {
    throw Error(config_path + ": hidden_size must be a multiple of num_attention_heads, and that of num_key_value_heads");
  }
  const bool packed = config.contains("quantization_config") &&
                      config["quantization_config"].value("quant_method", "") == "bitnet";
  const Vocabulary vocabulary = read_bpe(tokenizer, tokenizer_path, vocab_size);
  const auto n_vocab = static_cast<int64_t>(vocabulary.tokens.size());

  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(dir);
  if (checkpoint.find("lm_head.weight") != nullptr && !config.value("tie_word_embeddings", true)) {
    throw UsageError(dir + ": the checkpoint has its own lm_head.weight (tie_word_embeddings false); the BitNet "
                     "graphs of llama.cpp and bitnet.cpp use the embedding as the output and load no other");
  }

  // KVs, as both engines' converters write them.
  const std::string arch = engine == Provenance::kMainline ? "bitnet" : "bitnet-b1.58";
  const auto u32 = [](int64_t v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  std::string name = config.value("_name_or_path", "");
  if (name.empty()) name = dir.substr(dir.find_last_of('/') == std::string::npos ? 0 : dir.find_last_of('/') + 1);
  std::vector<GgufKeyValue> kvs = {
      {"general.architecture", GgufValue::string(arch)},
      {"general.name", GgufValue::string(name)},
      {"general.file_type", u32(file_type_of(target))},
      {"general.quantization_version", u32(2)},
      {arch + ".vocab_size", u32(n_vocab)},
      {arch + ".context_length", u32(context)},
      {arch + ".embedding_length", u32(hidden)},
      {arch + ".block_count", u32(layers)},
      {arch + ".feed_forward_length", u32(ffn)},
      {arch + ".rope.dimension_count", u32(hidden / heads)},
      {arch + ".attention.head_count", u32(heads)},
      {arch + ".attention.head_count_kv", u32(kv_heads)},
      {arch + ".attention.layer_norm_rms_epsilon", GgufValue::f32(config_float(config, "rms_norm_eps", 1e-5f))},
      {arch + ".rope.freq_base", GgufValue::f32(config_float(config, "rope_theta", 10000.0f))},
  };
  if (config.contains("hidden_act") && config["hidden_act"].is_string()) {
    kvs.push_back({arch + ".hidden_activation", GgufValue::string(config["hidden_act"].get<std::string>())});
  }
  kvs.push_back({"tokenizer.ggml.model", GgufValue::string("gpt2")});
  if (engine == Provenance::kMainline) kvs.push_back({"tokenizer.ggml.pre", GgufValue::string("llama-bpe")});
  kvs.push_back({"tokenizer.ggml.tokens", GgufValue::string_array(vocabulary.tokens)});
  kvs.push_back({"tokenizer.ggml.token_type", GgufValue::i32_array(vocabulary.types)});
  kvs.push_back({"tokenizer.ggml.merges", GgufValue::string_array(vocabulary.merges)});
  for (const char* which : {"bos", "eos"}) {
    std::optional<int64_t> id;
    if (config.contains(std::string(which) + "_token_id")) id = token_id(config[std::string(which) + "_token_id"]);
    if (id && *id >= 0 && *id < n_vocab) kvs.push_back({std::string("tokenizer.ggml.") + which + "_token_id", u32(*id)});
  }
  if (tokenizer_config.is_object()) {
    if (tokenizer_config.contains("add_bos_token") && tokenizer_config["add_bos_token"].is_boolean()) {
      kvs.push_back({"tokenizer.ggml.add_bos_token", GgufValue::boolean(tokenizer_config["add_bos_token"].get<bool>())});
    }
    if (tokenizer_config.contains("chat_template") && tokenizer_config["chat_template"].is_string()) {
      kvs.push_back({"tokenizer.chat_template", GgufValue::string(tokenizer_config["chat_template"].get<std::string>())});
    }
  }

  const TypeInfo& target_type = *find_type(target, engine);
  const TypeInfo& f32 = *find_type(BITNET_TYPE_F32, engine);
  const TypeInfo& embedding = *find_type(embedding_type, engine);
  const int64_t kv = hidden / heads * kv_heads;
  std::vector<TensorJob> jobs;
  for (const Planned& p : plan_tensors(layers, hidden, ffn, kv, n_vocab)) {
    const SafetensorsTensor* t = checkpoint.find(p.hf_name);
    if (t == nullptr) throw Error(checkpoint.description() + ": no tensor " + p.hf_name);
    TensorJob job;
    job.kind = TensorJob::Kind::kProduce;
    job.out.name = p.gguf_name;
    job.out.n_dims = p.rows == 1 ? 1 : 2;
    job.out.ne[0] = p.cols;
    job.out.ne[1] = p.rows;
    const TypeInfo& out_type = p.role == Role::kNorm ? f32 : p.role == Role::kEmbedding ? embedding : target_type;
    job.out.type = &out_type;
    std::string why;
    const auto out_bytes = tensor_bytes(out_type, job.out.ne, &why);
    if (!out_bytes) throw UsageError(p.gguf_name + " (" + std::to_string(p.cols) + " x " + std::to_string(p.rows) +
                                     ") cannot be stored as " + out_type.name + ": " + why);
    job.out.size = *out_bytes;
    const unsigned threads = options.common.threads;
    const int64_t rows = p.rows, cols = p.cols;
    const std::string what = "checkpoint tensor " + printable(p.hf_name) + " to " + out_type.name;

    if (p.role == Role::kProjection && packed) {
      const std::string base = p.hf_name.substr(0, p.hf_name.size() - std::strlen("weight"));
      const SafetensorsTensor* scale = checkpoint.find(base + "weight_scale");
      if (scale == nullptr) throw Error(checkpoint.description() + ": no tensor " + base + "weight_scale for the packed " + p.hf_name);
      if (t->dtype != SafetensorsDtype::kU8 || t->shape != std::vector<int64_t>{rows / 4, cols} || rows % 4 != 0) {
        throw Error(shape_error(*t, "U8 [" + std::to_string(rows / 4) + ", " + std::to_string(cols) + "] (packed codes)"));
      }
      const float weight_scale = scale_value(*scale);
      job.in_bytes = t->size;
      job.detail = "packed U8 -> " + std::string(out_type.name);
      job.produce = [t, weight_scale, rows, cols, threads, what, &out_type, size = job.out.size](uint8_t* dst) {
        // HF_BITNET: the packed codes, then the f32 weight_scale.
        std::vector<uint8_t> source(t->data, t->data + t->size);
        source.resize(t->size + sizeof weight_scale);
        std::memcpy(source.data() + t->size, &weight_scale, sizeof weight_scale);
        const bitnet_tensor_options o = tensor_options(threads, BITNET_TENSOR_ALLOW_SCALE_ROUNDING);
        const int status = bitnet_tensor_transcode(out_type.id, &o, BITNET_TYPE_HF_BITNET, source.data(), source.size(),
                                                   rows, cols, dst, size);
        refuse_changed_values(status, what);
        check_status(status, what);
        if (t->file != nullptr) t->file->release(t->offset, t->size);
      };
    } else {
      const bitnet_type source_type = float_type_of(*t);
      const std::vector<int64_t> expected = rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{rows, cols};
      if (t->shape != expected) {
        std::string text = "[";
        for (std::size_t d = 0; d < expected.size(); ++d) text += (d ? ", " : "") + std::to_string(expected[d]);
        throw Error(shape_error(*t, text + "]"));
      }
      job.in_bytes = t->size;
      job.detail = std::string(safetensors_dtype_name(t->dtype)) + " -> " + out_type.name;
      const int32_t ternarize = p.role == Role::kProjection ? BITNET_TERNARIZE_ABSMEAN : BITNET_TERNARIZE_NONE;
      job.produce = [t, source_type, ternarize, rows, cols, threads, what, &out_type, size = job.out.size](uint8_t* dst) {
        std::vector<uint8_t> copy;
        const void* src = t->data;
        if (reinterpret_cast<uintptr_t>(src) % 4 != 0) {  // safetensors data need not be aligned
          copy.assign(t->data, t->data + t->size);
          src = copy.data();
        }
        const bitnet_tensor_options o = tensor_options(threads, 0, ternarize);
        check_status(bitnet_tensor_quantize(out_type.id, &o, source_type, src, rows, cols, dst, size), what);
        if (t->file != nullptr) t->file->release(t->offset, t->size);
      };
    }
    jobs.push_back(std::move(job));
  }
  WriteSettings settings{"convert", options.out_path, options.force, options.common};
  write_model(std::move(kvs), jobs, settings);
  return kExitOk;
}

}  // namespace
}  // namespace bitnet_cli
