// llama-harness: mainline llama.cpp (the npm prebuilt in third_party/llama,
// v0.5.0) as an oracle for the tests. Built against that build's own
// headers and linked to its libraries; nothing of it is committed.
//   llama-harness types
//       every ggml type id: name, block size, type size (one line each)
//   llama-harness logits MODEL [--tokens 1,2,3 | --prompt TEXT] [--out FILE] [-t N]
//       loads MODEL, decodes the tokens in one batch, prints the token ids,
//       writes all logits (n_tokens x n_vocab float32) to FILE
//   llama-harness quantize IN OUT --ftype tq2_0|tq1_0|q2_0|... [--token-embedding-type T]
//       [--output-tensor-type T] [--allow-requantize] [--pure] [-t N]
//       llama_model_quantize with those parameters
// Exit 0 on success, 1 with llama.cpp's messages on stderr otherwise.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

namespace {

bool g_verbose = false;

// llama.cpp's log: warnings and errors always (the tests look for them),
// the rest with --verbose.
void log_callback(enum ggml_log_level level, const char* text, void* /*user*/) {
  if (g_verbose || level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) std::fputs(text, stderr);
}

ggml_type type_from_name(const std::string& name) {
  for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
    const char* n = ggml_type_name(static_cast<ggml_type>(t));
    if (n != nullptr && ggml_blck_size(static_cast<ggml_type>(t)) > 0 && strcasecmp(n, name.c_str()) == 0) {
      return static_cast<ggml_type>(t);
    }
  }
  throw std::runtime_error("unknown ggml type " + name);
}

llama_ftype ftype_from_name(const std::string& name) {
  static const std::map<std::string, llama_ftype> ftypes = {
      {"f32", LLAMA_FTYPE_ALL_F32},        {"f16", LLAMA_FTYPE_MOSTLY_F16},     {"bf16", LLAMA_FTYPE_MOSTLY_BF16},
      {"q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},   {"tq1_0", LLAMA_FTYPE_MOSTLY_TQ1_0}, {"tq2_0", LLAMA_FTYPE_MOSTLY_TQ2_0},
      {"q2_0", LLAMA_FTYPE_MOSTLY_Q2_0},   {"q4_k", LLAMA_FTYPE_MOSTLY_Q4_K_M},
  };
  const auto it = ftypes.find(name);
  if (it == ftypes.end()) throw std::runtime_error("unknown ftype " + name);
  return it->second;
}

int print_types() {
  for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
    const auto type = static_cast<ggml_type>(t);
    const char* name = ggml_type_name(type);
    std::printf("%d %s %" PRId64 " %zu\n", t, name != nullptr && ggml_blck_size(type) > 0 ? name : "-",
                ggml_blck_size(type), ggml_type_size(type));
  }
  return 0;
}

struct Model {
  llama_model* model = nullptr;
  llama_context* context = nullptr;
  ~Model() {
    if (context != nullptr) llama_free(context);
    if (model != nullptr) llama_model_free(model);
  }
};

int logits(const std::string& path, std::vector<llama_token> tokens, const std::string& prompt,
           const std::string& out_path, int threads) {
  Model m;
  llama_model_params model_params = llama_model_default_params();
  model_params.check_tensors = true;  // ggml validates every tensor's data as it loads
  m.model = llama_model_load_from_file(path.c_str(), model_params);
  if (m.model == nullptr) {
    std::fprintf(stderr, "llama-harness: llama_model_load_from_file failed for %s\n", path.c_str());
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(m.model);
  const int32_t n_vocab = llama_vocab_n_tokens(vocab);
  if (!prompt.empty()) {
    tokens.resize(prompt.size() + 8);
    const int32_t n = llama_tokenize(vocab, prompt.c_str(), static_cast<int32_t>(prompt.size()), tokens.data(),
                                     static_cast<int32_t>(tokens.size()), true, false);
    if (n < 0) {
      std::fprintf(stderr, "llama-harness: tokenizing the prompt failed\n");
      return 1;
    }
    tokens.resize(static_cast<std::size_t>(n));
  }
  if (tokens.empty()) {
    std::fprintf(stderr, "llama-harness: no tokens\n");
    return 1;
  }
  llama_context_params context_params = llama_context_default_params();
  context_params.n_ctx = static_cast<uint32_t>(std::max<std::size_t>(tokens.size(), 32));
  context_params.n_batch = context_params.n_ctx;
  context_params.n_ubatch = context_params.n_ctx;
  context_params.n_threads = threads;
  context_params.n_threads_batch = threads;
  context_params.no_perf = true;
  m.context = llama_init_from_model(m.model, context_params);
  if (m.context == nullptr) {
    std::fprintf(stderr, "llama-harness: llama_init_from_model failed\n");
    return 1;
  }
  llama_batch batch = llama_batch_init(static_cast<int32_t>(tokens.size()), 0, 1);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    batch.token[i] = tokens[i];
    batch.pos[i] = static_cast<llama_pos>(i);
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;  // every position's logits
  }
  batch.n_tokens = static_cast<int32_t>(tokens.size());
  const int32_t rc = llama_decode(m.context, batch);
  llama_batch_free(batch);
  if (rc != 0) {
    std::fprintf(stderr, "llama-harness: llama_decode returned %d\n", rc);
    return 1;
  }
  std::ofstream out;
  if (!out_path.empty()) out.open(out_path, std::ios::binary | std::ios::trunc);
  std::size_t nonfinite = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const float* row = llama_get_logits_ith(m.context, static_cast<int32_t>(i));
    if (row == nullptr) {
      std::fprintf(stderr, "llama-harness: no logits for position %zu\n", i);
      return 1;
    }
    for (int32_t v = 0; v < n_vocab; ++v) nonfinite += !std::isfinite(row[v]);
    if (out.is_open()) {
      std::vector<char> bytes(sizeof(float) * static_cast<std::size_t>(n_vocab));
      std::memcpy(bytes.data(), row, bytes.size());
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
  }
  if (out.is_open() && !out) {
    std::fprintf(stderr, "llama-harness: cannot write %s\n", out_path.c_str());
    return 1;
  }
  std::printf("n_vocab %d n_tokens %zu nonfinite %zu tokens", n_vocab, tokens.size(), nonfinite);
  for (llama_token t : tokens) std::printf(" %d", t);
  std::printf("\n");
  return nonfinite == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"llama-harness: mainline llama.cpp as a test oracle"};
  app.require_subcommand(1);
  app.add_flag("-v,--verbose", g_verbose, "All of llama.cpp's log");
  int threads = 1;

  app.add_subcommand("types", "ggml type ids, names, block and type sizes");

  std::string model, prompt, out_path, tokens_text;
  CLI::App* logits_command = app.add_subcommand("logits", "Decode tokens and dump the logits");
  logits_command->add_option("MODEL", model)->required();
  logits_command->add_option("--tokens", tokens_text, "Comma-separated token ids");
  logits_command->add_option("--prompt", prompt, "Text to tokenize (with BOS) instead");
  logits_command->add_option("--out", out_path, "File for the float32 logits");
  logits_command->add_option("-t,--threads", threads);

  std::string in_path, quantized_path, ftype, embedding_type, output_type;
  bool allow_requantize = false, pure = false;
  CLI::App* quantize_command = app.add_subcommand("quantize", "llama_model_quantize");
  quantize_command->add_option("IN", in_path)->required();
  quantize_command->add_option("OUT", quantized_path)->required();
  quantize_command->add_option("--ftype", ftype)->required();
  quantize_command->add_option("--token-embedding-type", embedding_type);
  quantize_command->add_option("--output-tensor-type", output_type);
  quantize_command->add_flag("--allow-requantize", allow_requantize);
  quantize_command->add_flag("--pure", pure);
  quantize_command->add_option("-t,--threads", threads);

  CLI11_PARSE(app, argc, argv);

  llama_log_set(log_callback, nullptr);
  llama_backend_init();
  // The prebuilt's CPU backends are libggml-cpu-<isa>.so next to libggml.
  ggml_backend_load_all_from_path(BITNET_LLAMA_LIB_DIR);
  int rc = 1;
  try {
    if (app.got_subcommand("types")) {
      rc = print_types();
    } else if (logits_command->parsed()) {
      std::vector<llama_token> tokens;
      std::stringstream list(tokens_text);
      for (std::string item; std::getline(list, item, ',');) tokens.push_back(std::stoi(item));
      rc = logits(model, tokens, prompt, out_path, threads);
    } else {
      llama_model_quantize_params params = llama_model_quantize_default_params();
      params.nthread = threads;
      params.ftype = ftype_from_name(ftype);
      if (!embedding_type.empty()) params.token_embedding_type = type_from_name(embedding_type);
      if (!output_type.empty()) params.output_tensor_type = type_from_name(output_type);
      params.allow_requantize = allow_requantize;
      params.pure = pure;
      rc = llama_model_quantize(in_path.c_str(), quantized_path.c_str(), &params) == 0 ? 0 : 1;
      if (rc != 0) std::fprintf(stderr, "llama-harness: llama_model_quantize failed\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llama-harness: %s\n", e.what());
    rc = 1;
  }
  llama_backend_free();
  return rc;
}
