// bitnet-quant against mainline llama.cpp (the npm prebuilt, through
// llama-harness): the type table equals ggml's; every synthetic model the
// test tool writes for mainline loads (ggml validating its data) and
// decodes to finite logits; bitnet-quant reads llama_model_quantize's
// TQ1_0/TQ2_0/Q2_0 output back to exactly the codes the model was made of.
// Usage: test_llama BITNET_QUANT LLAMA_HARNESS
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ggml_types.h"
#include "run_tool.h"
#include "synth_model.h"
#include "test_util.h"

namespace bitnet_cli::testing {

std::string g_tool, g_harness;

namespace {

std::string contents_of(const ToolResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

ToolResult harness(const std::vector<std::string>& args) { return run_tool(g_harness, args); }

nlohmann::json inspect_json(const std::string& path) {
  const ToolResult r = run_tool(g_tool, {"inspect", "--json", path});
  EXPECT_EQ(r.exit_code, 0) << contents_of(r);
  return nlohmann::json::parse(r.out);
}

std::map<std::string, nlohmann::json> tensors_by_name(const nlohmann::json& inspect) {
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& t : inspect["tensors"]) by_name[t["name"].get<std::string>()] = t;
  return by_name;
}

TEST(Llama, TypeTableEqualsGgml) {
  const ToolResult r = harness({"types"});
  ASSERT_EQ(r.exit_code, 0) << contents_of(r);
  std::istringstream lines(r.out);
  int checked = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    int id = 0;
    std::string name;
    int64_t block = 0;
    uint64_t size = 0;
    fields >> id >> name >> block >> size;
    const TypeInfo* ours = find_type(id, Provenance::kMainline);
    if (block == 0) {
      // Removed from mainline; 36 is read as bitnet.cpp's I2_S in every file.
      if (id != 36) {
        EXPECT_EQ(ours, nullptr) << "type " << id;
      }
      continue;
    }
    ASSERT_NE(ours, nullptr) << "type " << id << " " << name;
    EXPECT_EQ(ours->block_elements, block) << name;
    EXPECT_EQ(ours->block_bytes, size) << name;
    EXPECT_EQ(find_type_by_name(name, Provenance::kMainline), ours) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 35);  // 43 ids, 8 of them removed
}

struct LoadCase {
  synth::Tokenizer tokenizer;
  synth::WeightType weights;
  synth::WeightType embedding;
};

TEST(Llama, SyntheticModelsLoadAndDecode) {
  TempDir dir;
  const std::vector<LoadCase> cases = {
      {synth::Tokenizer::kNone, synth::WeightType::kF32, synth::WeightType::kF32},
      {synth::Tokenizer::kBpe, synth::WeightType::kF32, synth::WeightType::kF16},
      {synth::Tokenizer::kBpe, synth::WeightType::kF16, synth::WeightType::kBF16},
      {synth::Tokenizer::kNone, synth::WeightType::kBF16, synth::WeightType::kF32},
  };
  for (const LoadCase& c : cases) {
    synth::GgufModelOptions options;
    options.tokenizer = c.tokenizer;
    options.weights = c.weights;
    options.embedding = c.embedding;
    options.hidden_activation = true;
    const std::string path = dir.file("m.gguf");
    synth::write_gguf_model(path, options);
    const ToolResult r = harness({"logits", path, "--tokens", "1,7,42,300,5,9,11,64"});
    EXPECT_EQ(r.exit_code, 0) << contents_of(r);
    EXPECT_NE(r.out.find("n_vocab 512 n_tokens 8 nonfinite 0"), std::string::npos) << r.out;
    if (c.tokenizer == synth::Tokenizer::kBpe) {
      const ToolResult text = harness({"logits", path, "--prompt", "the quick brown fox"});
      EXPECT_EQ(text.exit_code, 0) << contents_of(text);
      EXPECT_NE(text.out.find("tokens 510 "), std::string::npos) << "BOS first: " << text.out;
      EXPECT_EQ(text.err.find("GENERATION QUALITY WILL BE DEGRADED"), std::string::npos) << text.err;
    }
  }
}

TEST(Llama, BitnetCppArchitectureIsNotMainlines) {
  TempDir dir;
  synth::GgufModelOptions options;
  options.arch = synth::Arch::kBitnetCpp;
  synth::write_gguf_model(dir.file("fork.gguf"), options);
  const ToolResult r = harness({"logits", dir.file("fork.gguf"), "--tokens", "1,2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown model architecture: 'bitnet-b1.58'"), std::string::npos) << r.err;
}

// llama_model_quantize of the F32 model must hold exactly the codes of the
// same model packed as I2_S by the test tool: the shares of -1/0/+1 that
// bitnet-quant reads from either file agree tensor by tensor, and every
// block scale is f16(alpha).
TEST(Llama, ReadsLlamaQuantizeOutputBackToTheModelsCodes) {
  TempDir dir;
  synth::GgufModelOptions f32;
  synth::write_gguf_model(dir.file("f32.gguf"), f32);
  synth::GgufModelOptions i2s = f32;
  i2s.weights = synth::WeightType::kI2s;
  synth::write_gguf_model(dir.file("i2s.gguf"), i2s);
  const auto reference = tensors_by_name(inspect_json(dir.file("i2s.gguf")));
  for (const char* ftype : {"tq2_0", "tq1_0", "q2_0"}) {
    SCOPED_TRACE(ftype);
    const std::string out = dir.file(std::string(ftype) + ".gguf");
    const ToolResult q = harness({"quantize", dir.file("f32.gguf"), out, "--ftype", ftype,
                                  "--token-embedding-type", "f32"});
    ASSERT_EQ(q.exit_code, 0) << contents_of(q);
    const ToolResult verify = run_tool(g_tool, {"verify", out});
    EXPECT_EQ(verify.exit_code, 0) << contents_of(verify);
    EXPECT_NE(verify.out.find("note: the recorded checksums describe another tensor list"), std::string::npos);
    const auto quantized = tensors_by_name(inspect_json(out));
    int ternary = 0;
    for (const auto& [name, ref] : reference) {
      if (ref["type"] != "I2_S") continue;
      ++ternary;
      const auto& t = quantized.at(name);
      EXPECT_EQ(t["type"], std::string(ftype) == "tq2_0" ? "TQ2_0" : std::string(ftype) == "tq1_0" ? "TQ1_0" : "Q2_0");
      const auto& a = ref["ternary"];
      const auto& b = t["ternary"];
      EXPECT_EQ(b["invalid_codes"], 0) << name;
      for (const char* share : {"minus", "zero", "plus"}) EXPECT_EQ(a[share], b[share]) << name << " " << share;
      // d = f16(alpha) in every block (no block is all zero here).
      const double alpha = a["scale_min"];
      EXPECT_NEAR(b["scale_min"].get<double>(), alpha, alpha * 1e-3) << name;
      EXPECT_EQ(b["scale_min"], b["scale_max"]) << name;
    }
    EXPECT_EQ(ternary, 14);
    const ToolResult decode = harness({"logits", out, "--tokens", "3,1,4,1,5,9,2,6"});
    EXPECT_EQ(decode.exit_code, 0) << contents_of(decode);
  }
}

}  // namespace
}  // namespace bitnet_cli::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: test_llama BITNET_QUANT LLAMA_HARNESS\n");
    return 2;
  }
  bitnet_cli::testing::g_tool = argv[1];
  bitnet_cli::testing::g_harness = argv[2];
  return RUN_ALL_TESTS();
}
