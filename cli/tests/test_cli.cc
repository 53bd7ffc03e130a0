// The bitnet-quant program end to end: usage, inspect, verify, and a table
// of damaged inputs, each of which must give its exit code and a message
// naming what is wrong (never a crash).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>

#include <nlohmann/json.hpp>

#include "byte_order.h"
#include "raw_gguf.h"
#include "run_tool.h"
#include "safetensors_writer.h"
#include "synth_model.h"
#include "test_util.h"

namespace bitnet_cli::testing {

std::string g_tool;  // path of bitnet-quant (argv[1])

namespace {

ToolResult tool(const std::vector<std::string>& args) { return run_tool(g_tool, args); }

std::string contents_of(const ToolResult& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) + "\nstdout:\n" + r.out +
         "\nstderr:\n" + r.err;
}

TEST(Cli, Usage) {
  EXPECT_EQ(tool({}).exit_code, 2);
  EXPECT_EQ(tool({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(tool({"inspect"}).exit_code, 2);  // FILE missing
  EXPECT_EQ(tool({"verify", "x", "--bogus"}).exit_code, 2);
  EXPECT_EQ(tool({"verify", "x", "-j", "0"}).exit_code, 2);
  for (const char* command : {"inspect", "verify"}) {
    const ToolResult help = tool({command, "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("Exit codes:"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find(std::string("Usage: ")), std::string::npos);
  }
  const ToolResult version = tool({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("bitnet-quant ", 0), 0u) << version.out;
}

class CliFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    synth::GgufModelOptions mainline;
    mainline.tokenizer = synth::Tokenizer::kBpe;
    synth::write_gguf_model(dir_->file("mainline.gguf"), mainline);
    synth::GgufModelOptions fork;
    fork.arch = synth::Arch::kBitnetCpp;
    fork.weights = synth::WeightType::kI2s;
    fork.embedding = synth::WeightType::kF16;
    synth::write_gguf_model(dir_->file("fork.gguf"), fork);
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
};
TempDir* CliFiles::dir_ = nullptr;

TEST_F(CliFiles, InspectText) {
  const ToolResult r = tool({"inspect", dir_->file("fork.gguf")});
  ASSERT_EQ(r.exit_code, 0) << contents_of(r);
  EXPECT_NE(r.out.find("bitnet.cpp (architecture 'bitnet-b1.58')"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blk.1.ffn_down.weight"), std::string::npos);
  EXPECT_NE(r.out.find("I2_S        14 tensors"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;  // no progress when not on a terminal
}

TEST_F(CliFiles, InspectJson) {
  const ToolResult r = tool({"inspect", "--json", "--max-array", "3", dir_->file("fork.gguf")});
  ASSERT_EQ(r.exit_code, 0) << contents_of(r);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "bitnet-b1.58");
  EXPECT_EQ(j["engine"], "bitnet.cpp");
  EXPECT_EQ(j["tensors"].size(), 24u);
  uint64_t ternary = 0;
  for (const auto& t : j["tensors"]) {
    if (t["type"] != "I2_S") continue;
    ++ternary;
    const auto& s = t["ternary"];
    EXPECT_EQ(s["invalid_codes"], 0);
    EXPECT_EQ(s["scales"], 1);
    EXPECT_GT(s["scale_min"].get<double>(), 0.01);
    const uint64_t n = s["minus"].get<uint64_t>() + s["zero"].get<uint64_t>() + s["plus"].get<uint64_t>();
    EXPECT_EQ(n, t["shape"][0].get<uint64_t>() * t["shape"][1].get<uint64_t>());
  }
  EXPECT_EQ(ternary, 14u);
  EXPECT_EQ(j["totals"]["by_type"]["I2_S"]["tensors"], 14);
  EXPECT_EQ(j["kvs"][0]["key"], "general.architecture");
  const ToolResult header_only = tool({"inspect", "--json", "--no-data", dir_->file("fork.gguf")});
  ASSERT_EQ(header_only.exit_code, 0);
  EXPECT_FALSE(nlohmann::json::parse(header_only.out)["tensors"][3].contains("ternary"));
}

TEST_F(CliFiles, VerifyGoodFiles) {
  for (const char* name : {"mainline.gguf", "fork.gguf"}) {
    for (const char* threads : {"1", "3"}) {
      const ToolResult r = tool({"verify", "-j", threads, dir_->file(name)});
      EXPECT_EQ(r.exit_code, 0) << contents_of(r);
      EXPECT_NE(r.out.find("OK: 24 tensors checked, 24 checksums match"), std::string::npos) << r.out;
    }
  }
}

// ---- damaged inputs ---------------------------------------------------------

std::vector<uint8_t> tq2_block(uint8_t code_byte, uint16_t d) {
  std::vector<uint8_t> block(64, code_byte);
  append_le(block, d);
  return block;
}

struct BadInput {
  const char* name;
  std::function<std::vector<uint8_t>(const std::vector<uint8_t>& good)> make;  // from the mainline model's bytes
  std::vector<std::string> commands;  // which commands see it: "inspect", "verify"
  int inspect_exit;
  int verify_exit;
  const char* message;
};

RawGguf raw_with(const std::string& name, int32_t type, std::vector<int64_t> ne, std::vector<uint8_t> data) {
  RawGguf raw;
  raw.add_kv("general.architecture", GgufValue::string("bitnet"));
  raw.add_tensor_with(name, type, ne, data);
  return raw;
}

const std::vector<BadInput>& bad_inputs() {
  static const std::vector<BadInput> cases = [] {
    std::vector<BadInput> list;
    const auto truncate_to = [](std::size_t keep) {
      return [keep](const std::vector<uint8_t>& good) {
        return std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(std::min(keep, good.size())));
      };
    };
    list.push_back({"empty file", truncate_to(0), {}, 1, 3, "not a GGUF file: only 0 bytes"});
    list.push_back({"truncated in the header", truncate_to(3000), {}, 1, 3,
                    "KV 15 ('tokenizer.ggml.tokens'): an array of 512 string cannot fit in the 2298 bytes left in "
                    "the file (truncated file or a lying count)"});
    list.push_back({"truncated in a KV", truncate_to(500), {}, 1, 3,
                    "KV 11: the key claims 39 bytes, but only 18 are left in the file (truncated file or a lying "
                    "length)"});
    list.push_back({"truncated in the data",
                    [](const std::vector<uint8_t>& good) {
                      return std::vector<uint8_t>(good.begin(), good.end() - 100000);
                    },
                    {}, 1, 3, "runs past the end of the file"});
    list.push_back({"GGUF v2",
                    [](const std::vector<uint8_t>& good) {
                      auto bytes = good;
                      bytes[4] = 2;
                      return bytes;
                    },
                    {}, 1, 3, "GGUF version 2 is not supported"});
    list.push_back({"big-endian",
                    [](const std::vector<uint8_t>& good) {
                      auto bytes = good;
                      bytes[4] = 0;
                      bytes[7] = 3;
                      return bytes;
                    },
                    {}, 1, 3, "big-endian GGUF file"});
    list.push_back({"huge tensor count",
                    [](const std::vector<uint8_t>& good) {
                      auto bytes = good;
                      std::memset(bytes.data() + 8, 0xFF, 8);
                      return bytes;
                    },
                    {}, 1, 3, "header claims 18446744073709551615 tensors"});
    list.push_back({"lying offset",
                    [](const std::vector<uint8_t>& /*good*/) {
                      RawGguf raw;
                      raw.add_tensor("a", 0, {8}, 32);
                      raw.add_tensor("b", 0, {8}, 32, uint64_t{1} << 50);
                      return raw.bytes();
                    },
                    {}, 1, 3, "tensor 'b' (F32, 8, 32 bytes at data offset 1125899906842624) runs past the end"});
    list.push_back({"bad UTF-8 name",
                    [](const std::vector<uint8_t>& /*good*/) {
                      RawGguf raw;
                      raw.add_tensor("bad\xC3(", 0, {8}, 32);
                      return raw.bytes();
                    },
                    {}, 1, 3, "is not valid UTF-8"});
    list.push_back({"duplicate tensor",
                    [](const std::vector<uint8_t>& /*good*/) {
                      RawGguf raw;
                      raw.add_tensor("a", 0, {8}, 32);
                      raw.add_tensor("a", 0, {8}, 32);
                      return raw.bytes();
                    },
                    {}, 1, 3, "duplicate tensor name"});
    list.push_back({"TL2 in a bitnet.cpp file",
                    [](const std::vector<uint8_t>& /*good*/) {
                      RawGguf raw;
                      raw.add_kv("general.architecture", GgufValue::string("bitnet-b1.58"));
                      raw.add_tensor("t", 39, {128}, 64);
                      return raw.bytes();
                    },
                    {}, 1, 3, "bitnet.cpp's TL2"});
    // Parsed fine; only verify's data checks find these.
    list.push_back({"TQ2_0 code 3",
                    [](const std::vector<uint8_t>& /*good*/) {
                      auto block = tq2_block(0x55, 0x3C00);
                      block[37] = 0x55 | 0xC0;  // field 3 of byte 37: element 128 + 96 + 5
                      return raw_with("w", 35, {256}, block).bytes();
                    },
                    {}, 0, 3, "tensor 'w' (TQ2_0, 256): element 229 (block 0) has code 3"});
    list.push_back({"TQ2_0 NaN scale",
                    [](const std::vector<uint8_t>& /*good*/) {
                      auto data = tq2_block(0x55, 0x3C00);
                      const auto second = tq2_block(0x55, 0x7E00);
                      data.insert(data.end(), second.begin(), second.end());
                      return raw_with("w", 35, {256, 2}, data).bytes();
                    },
                    {}, 0, 3, "block 1 has a non-finite scale"});
    list.push_back({"TQ2_0 negative scale",
                    [](const std::vector<uint8_t>& /*good*/) {
                      return raw_with("w", 35, {256}, tq2_block(0x55, 0xBC00)).bytes();
                    },
                    {}, 0, 3, "block 0 has a negative scale (-1"});
    list.push_back({"TQ1_0 byte no encoder writes",
                    [](const std::vector<uint8_t>& /*good*/) {
                      std::vector<uint8_t> block(52, 0);
                      block[7] = 1;  // ceil(v·256/243) skips 1
                      append_le<uint16_t>(block, 0x3C00);
                      return raw_with("w", 34, {256}, block).bytes();
                    },
                    {}, 0, 3, "block 0 byte 7 is 1, a value the TQ1_0 encoder never writes"});
    list.push_back({"Q2_0 code 3",
                    [](const std::vector<uint8_t>& /*good*/) {
                      std::vector<uint8_t> block;
                      append_le<uint16_t>(block, 0x3C00);
                      block.resize(18, 0x55);
                      block[2 + 3] = 0x57;  // field 0 of byte 3: element 12
                      return raw_with("w", 42, {64}, block).bytes();
                    },
                    {}, 0, 3, "element 12 (block 0) has code 3"});
    list.push_back({"I2_S code 3",
                    [](const std::vector<uint8_t>& /*good*/) {
                      std::vector<uint8_t> data(32 + 32, 0x55);
                      data[32 + 9] = 0x55 | 0x30;  // byte 9 at shift 4: element 32 + 9
                      const float scale = 0.5f;
                      std::memcpy(data.data() + 32, &scale, 4);
                      data[9] = 0x75;
                      return raw_with("w", 36, {128}, data).bytes();
                    },
                    {}, 0, 3, "element 41 (block 0) has code 3"});
    list.push_back({"I2_S infinite scale",
                    [](const std::vector<uint8_t>& /*good*/) {
                      std::vector<uint8_t> data(32, 0x55);
                      append_le<uint32_t>(data, 0x7F800000u);
                      data.resize(64, 0);
                      return raw_with("w", 36, {128}, data).bytes();
                    },
                    {}, 0, 3, "tensor 'w' (I2_S, 128): the tensor's scale is not finite"});
    list.push_back({"I2_S not whole blocks",
                    [](const std::vector<uint8_t>& /*good*/) {
                      return raw_with("w", 36, {64}, std::vector<uint8_t>(64 / 4 + 32, 0x55)).bytes();
                    },
                    {}, 0, 3, "I2_S holds a multiple of 128 elements"});
    list.push_back({"F32 NaN",
                    [](const std::vector<uint8_t>& /*good*/) {
                      std::vector<uint8_t> data;
                      for (uint32_t v : {0x3F800000u, 0x7FC00000u}) append_le(data, v);
                      return raw_with("norm", 0, {2}, data).bytes();
                    },
                    {}, 0, 3, "tensor 'norm' (F32, 2): element 1 is not finite"});
    list.push_back({"gap between tensors",
                    [](const std::vector<uint8_t>& /*good*/) {
                      RawGguf raw;
                      raw.add_tensor("a", 0, {8}, 32);
                      raw.add_tensor_bytes(std::vector<uint8_t>(64, 0));
                      raw.add_tensor("b", 0, {8}, 32);
                      return raw.bytes();
                    },
                    {}, 0, 3, "is at data offset 96, where ggml's loader requires 32"});
    list.push_back({"name too long for ggml",
                    [](const std::vector<uint8_t>& /*good*/) {
                      RawGguf raw;
                      raw.add_tensor(std::string(64, 'n'), 0, {8}, 32);
                      return raw.bytes();
                    },
                    {}, 0, 3, "the name has 64 bytes; ggml allows at most 63"});
    list.push_back({"tensor data changed after writing",
                    [](const std::vector<uint8_t>& good) {
                      auto bytes = good;
                      bytes[bytes.size() - 100] ^= 1;  // inside blk.1.ffn_sub_norm.weight
                      return bytes;
                    },
                    {}, 0, 3, "tensor 'blk.1.ffn_sub_norm.weight' (F32, 512): XXH64"});
    return list;
  }();
  return cases;
}

TEST_F(CliFiles, BadInputs) {
  const std::vector<uint8_t> good = read_file(dir_->file("mainline.gguf"));
  for (const BadInput& c : bad_inputs()) {
    SCOPED_TRACE(c.name);
    const std::string path = dir_->file("bad.gguf");
    synth::write_binary_file(path, c.make(good));
    const ToolResult inspect = tool({"inspect", path});
    EXPECT_EQ(inspect.exit_code, c.inspect_exit) << contents_of(inspect);
    if (c.inspect_exit != 0) {
      EXPECT_NE(inspect.err.find(c.message), std::string::npos) << contents_of(inspect);
      EXPECT_NE(inspect.err.find(path), std::string::npos) << "the message names the file";
    }
    const ToolResult verify = tool({"verify", path});
    EXPECT_EQ(verify.exit_code, c.verify_exit) << contents_of(verify);
    EXPECT_NE(verify.out.find(path + ": fault: "), std::string::npos) << contents_of(verify);
    EXPECT_NE(verify.out.find(c.message), std::string::npos) << contents_of(verify);
    const ToolResult json = tool({"verify", "--json", path});
    EXPECT_EQ(json.exit_code, c.verify_exit);
    const auto j = nlohmann::json::parse(json.out);
    EXPECT_FALSE(j["ok"].get<bool>());
    EXPECT_NE(j["faults"][0].get<std::string>().find(c.message), std::string::npos) << json.out;
  }
}

TEST_F(CliFiles, MissingFileIsAnErrorNotAFault) {
  for (const char* command : {"inspect", "verify"}) {
    const ToolResult r = tool({command, dir_->file("no-such.gguf")});
    EXPECT_EQ(r.exit_code, 1) << contents_of(r);
    EXPECT_NE(r.err.find("cannot open " + dir_->file("no-such.gguf") + ": No such file or directory"),
              std::string::npos)
        << r.err;
  }
  const ToolResult directory = tool({"inspect", dir_->path()});
  EXPECT_EQ(directory.exit_code, 1);
  EXPECT_NE(directory.err.find("not a regular file"), std::string::npos);
}

TEST_F(CliFiles, ChecksumsOfAnotherTensorListAreANote) {
  std::vector<uint8_t> bytes = read_file(dir_->file("mainline.gguf"));
  const std::string from = "blk.0.attn_q.weight";
  const auto at = std::search(bytes.begin(), bytes.end(), from.begin(), from.end());
  ASSERT_NE(at, bytes.end());
  *(at + 4) = '9';  // blk.9.attn_q.weight: same length, another tensor list
  synth::write_binary_file(dir_->file("renamed.gguf"), bytes);
  const ToolResult r = tool({"verify", dir_->file("renamed.gguf")});
  EXPECT_EQ(r.exit_code, 0) << contents_of(r);
  EXPECT_NE(r.out.find("note: the recorded checksums describe another tensor list"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OK: 24 tensors checked, 0 checksums match"), std::string::npos) << r.out;
}

// ---- the writing commands: quantize, transcode --------------------------------

std::vector<uint8_t> f32_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes;
  for (float v : values) append_le(bytes, v);
  return bytes;
}

// A bitnet file with one projection of the given F32 values (cols x rows).
std::vector<uint8_t> one_projection(const std::vector<float>& values, int64_t cols) {
  return raw_with("blk.0.attn_q.weight", 0, {cols, static_cast<int64_t>(values.size()) / cols}, f32_bytes(values))
      .bytes();
}

std::vector<float> gaussian_like(std::size_t n) {
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = 0.01f * static_cast<float>(static_cast<int>((i * 7919) % 41) - 20);
  return values;
}

struct BadWrite {
  const char* name;
  std::string input;  // file in the suite's directory, made by the row if `make` is set
  std::function<std::vector<uint8_t>()> make;
  std::vector<std::string> args;  // after "COMMAND IN OUT"
  const char* command;
  int exit_code;
  std::string message;
};

TEST_F(CliFiles, WritingCommandsRefuseBadRequestsAndLeaveNothing) {
  const std::vector<uint8_t> good = read_file(dir_->file("mainline.gguf"));
  std::vector<uint8_t> two_scales = tq2_block(0x55 | 0x02, 0x3C00);  // d = 1 and d = 2: one tensor scale cannot hold both
  const auto second = tq2_block(0x66, 0x4000);
  two_scales.insert(two_scales.end(), second.begin(), second.end());
  std::vector<float> nan_weights = gaussian_like(512);
  nan_weights[300] = std::nanf("");
  const std::vector<BadWrite> rows = {
      {"missing file", "no-such.gguf", nullptr, {"--type", "tq2_0"}, "quantize", 1,
       "cannot open " + dir_->file("no-such.gguf") + ": No such file or directory"},
      {"wrong type name", "mainline.gguf", nullptr, {"--type", "tq3_0"}, "quantize", 2,
       "--type 'tq3_0' is not a type name; quantize writes tq2_0, tq1_0, q2_0 or i2_s"},
      {"not a ternary type", "mainline.gguf", nullptr, {"--type", "q8_0"}, "quantize", 2,
       "--type Q8_0 is not a ternary type that quantize writes"},
      {"transcode to Q2_0", "fork.gguf", nullptr, {"--type", "q2_0"}, "transcode", 2,
       "--type Q2_0 is not a ternary type that transcode writes; it writes tq2_0, tq1_0 or i2_s"},
      {"unknown rule", "mainline.gguf", nullptr, {"--type", "tq2_0", "--ternarize", "absmax"}, "quantize", 2,
       "--ternarize 'absmax' is not a rule; use absmean or none"},
      {"truncated GGUF", "truncated.gguf",
       [&] { return std::vector<uint8_t>(good.begin(), good.end() - 100000); }, {"--type", "tq2_0"}, "quantize", 1,
       "runs past the end of the file"},
      {"not ternary with --ternarize none", "gauss.gguf", [] { return one_projection(gaussian_like(512), 256); },
       {"--type", "tq2_0", "--ternarize", "none"}, "quantize", 2,
       "tensor 'blk.0.attn_q.weight' (F32, 256 x 2) is not ternary (element 1 is"},
      {"row length TQ2_0 cannot hold", "narrow.gguf", [] { return one_projection(gaussian_like(512), 64); },
       {"--type", "tq2_0"}, "quantize", 2,
       "tensor 'blk.0.attn_q.weight' (F32, 64 x 8) cannot be stored as TQ2_0"},
      {"NaN weight", "nan.gguf", [&] { return one_projection(nan_weights, 256); }, {"--type", "tq1_0"}, "quantize",
       1, "tensor 'blk.0.attn_q.weight' (F32, 256 x 2) to TQ1_0: "},
      {"nothing to ternarize", "norm.gguf",
       [] { return raw_with("output_norm.weight", 0, {256}, f32_bytes(gaussian_like(256))).bytes(); },
       {"--type", "tq2_0"}, "quantize", 2, "has no tensor to ternarize"},
      {"ternary input to quantize", "fork.gguf", nullptr, {"--type", "tq2_0"}, "quantize", 2,
       "tensor 'blk.0.attn_q.weight' (I2_S, 256 x 256) is ternary already; bitnet-quant transcode re-packs"},
      {"float input to transcode", "mainline.gguf", nullptr, {"--type", "tq2_0"}, "transcode", 2,
       "holds no ternary tensor; bitnet-quant quantize ternarizes float weights"},
      {"two block scales into I2_S", "two_scales.gguf",
       [&] { return raw_with("blk.0.attn_q.weight", 35, {256, 2}, two_scales).bytes(); }, {"--type", "i2_s"},
       "transcode", 2, "tensor 'blk.0.attn_q.weight' (TQ2_0, 256 x 2) to I2_S refused, the values would change: "},
      {"unknown scale mode", "fork.gguf", nullptr, {"--type", "tq2_0", "--scale", "row"}, "transcode", 2,
       "--scale 'row' is not a scale mode; use block or tensor"},
      {"tensor scales into I2_S", "fork.gguf", nullptr, {"--type", "i2_s", "--scale", "tensor"}, "transcode", 2,
       "--scale tensor writes mainline's .scale tensors"},
      {"tensor scales from block scales", "two_scales.gguf", nullptr, {"--type", "tq1_0", "--scale", "tensor"},
       "transcode", 2, "has block scales"},
      {"code 3 into TQ1_0", "code3.gguf",
       [] { return raw_with("blk.0.attn_q.weight", 35, {256}, tq2_block(0xFF, 0x3C00)).bytes(); },
       {"--type", "tq1_0"}, "transcode", 2, "to TQ1_0 refused, the values would change: "},
  };
  TempDir out_dir;
  for (const BadWrite& row : rows) {
    SCOPED_TRACE(row.name);
    if (row.make) synth::write_binary_file(dir_->file(row.input), row.make());
    std::vector<std::string> args = {row.command, dir_->file(row.input), out_dir.file("out.gguf")};
    args.insert(args.end(), row.args.begin(), row.args.end());
    const ToolResult r = tool(args);
    EXPECT_EQ(r.exit_code, row.exit_code) << contents_of(r);
    EXPECT_NE(r.err.find(row.message), std::string::npos) << contents_of(r);
    EXPECT_TRUE(out_dir.entries().empty()) << "an output file was left behind";
  }
}

TEST_F(CliFiles, WritingCommandsKeepAnExistingOutputAndNeedAWritableDirectory) {
  TempDir out_dir;
  const std::string existing = out_dir.file("existing.gguf");
  synth::write_binary_file(existing, {1, 2, 3});
  for (const char* command : {"quantize", "transcode"}) {
    SCOPED_TRACE(command);
    const std::string in = dir_->file(std::string(command) == "quantize" ? "mainline.gguf" : "fork.gguf");
    const ToolResult refused = tool({command, in, existing, "--type", "tq2_0"});
    EXPECT_EQ(refused.exit_code, 2) << contents_of(refused);
    EXPECT_NE(refused.err.find(existing + " exists; pass --force to replace it"), std::string::npos) << refused.err;
    EXPECT_EQ(read_file(existing), (std::vector<uint8_t>{1, 2, 3}));
    const ToolResult unwritable = tool({command, in, out_dir.file("no-dir/out.gguf"), "--type", "tq2_0"});
    EXPECT_EQ(unwritable.exit_code, 1) << contents_of(unwritable);
    EXPECT_NE(unwritable.err.find("cannot create a temporary file in " + out_dir.file("no-dir")), std::string::npos)
        << unwritable.err;
    EXPECT_EQ(out_dir.entries(), std::vector<std::string>{"existing.gguf"});
  }
}

// convert refuses what it cannot turn into a BitNet GGUF, naming it, and
// leaves nothing behind.
TEST_F(CliFiles, ConvertRefusesBadCheckpoints) {
  TempDir work;
  synth::HfModelOptions hf;
  synth::write_hf_model(work.file("good"), hf);
  hf.tie_embeddings = false;
  synth::write_hf_model(work.file("untied"), hf);
  const std::vector<uint8_t> config_bytes = read_file(work.file("good/config.json"));
  const std::string good_config(config_bytes.begin(), config_bytes.end());
  const auto variant = [&](const std::string& name, const std::string& from, const std::string& to) {
    hf.tie_embeddings = true;
    synth::write_hf_model(work.file(name), hf);
    std::string text = good_config;
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    synth::write_binary_file(work.file(name + "/config.json"), std::vector<uint8_t>(text.begin(), text.end()));
  };
  variant("llama", "BitNetForCausalLM", "LlamaForCausalLM");
  variant("no_layers", "\"num_hidden_layers\"", "\"layers\"");
  variant("wrong_shape", "\"intermediate_size\": 512", "\"intermediate_size\": 768");
  {
    hf.tie_embeddings = true;
    synth::write_hf_model(work.file("bad_token"), hf);
    const std::vector<uint8_t> bytes = read_file(work.file("bad_token/tokenizer.json"));
    std::string text(bytes.begin(), bytes.end());
    const std::size_t at = text.find("\"id\": 510");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, std::strlen("\"id\": 510"), "\"id\": \"x\"");
    synth::write_binary_file(work.file("bad_token/tokenizer.json"), std::vector<uint8_t>(text.begin(), text.end()));
  }
  struct Row {
    const char* name;
    std::string dir;
    std::vector<std::string> extra;
    int exit_code;
    std::string message;
  };
  const std::vector<Row> rows = {
      {"missing folder", work.file("nothing"), {}, 1, "cannot open " + work.file("nothing/config.json")},
      {"not BitNet", work.file("llama"), {}, 2, "names no BitNetForCausalLM"},
      {"missing hyper-parameter", work.file("no_layers"), {}, 1, "\"num_hidden_layers\" is missing"},
      {"shape against config", work.file("wrong_shape"), {}, 1,
       "checkpoint tensor 'model.layers.0.mlp.gate_proj.weight' has shape [512, 256] where config.json implies [768, 256]"},
      {"untied output", work.file("untied"), {}, 2, "has its own lm_head.weight"},
      {"token id not a number", work.file("bad_token"), {}, 1,
       work.file("bad_token") + ": config.json or tokenizer.json is not what a BitNet checkpoint holds"},
      {"embedding type", work.file("good"), {"--embedding-type", "tq2_0"}, 2, "is not a type for the embedding"},
  };
  TempDir out_dir;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    std::vector<std::string> args = {"convert", row.dir, out_dir.file("out.gguf"), "--type", "tq2_0"};
    args.insert(args.end(), row.extra.begin(), row.extra.end());
    const ToolResult r = tool(args);
    EXPECT_EQ(r.exit_code, row.exit_code) << contents_of(r);
    EXPECT_NE(r.err.find(row.message), std::string::npos) << contents_of(r);
    EXPECT_TRUE(out_dir.entries().empty());
  }
  const ToolResult good = tool({"convert", "-q", work.file("good"), out_dir.file("out.gguf"), "--type", "q2_0"});
  EXPECT_EQ(good.exit_code, 0) << contents_of(good);
}

// Ctrl-C in the middle of a quantize: the program is stopped after its
// first progress line (one tensor of 354 written), interrupted, and
// leaves no file, neither a new one nor a change to an existing target.
TEST(CliInterrupt, QuantizeInterruptedLeavesNothing) {
  TempDir in_dir;
  synth::GgufModelOptions model;
  model.shape.layers = 32;
  synth::write_gguf_model(in_dir.file("m.gguf"), model);
  TempDir out_dir;
  synth::write_binary_file(out_dir.file("kept.gguf"), {7, 7, 7});
  for (const char* name : {"new.gguf", "kept.gguf"}) {
    SCOPED_TRACE(name);
    int err_pipe[2];
    ASSERT_EQ(::pipe(err_pipe), 0);
    const std::string out = out_dir.file(name);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::dup2(err_pipe[1], 2);
      ::close(err_pipe[0]);
      ::execl(g_tool.c_str(), g_tool.c_str(), "quantize", "-j", "1", "-f", in_dir.file("m.gguf").c_str(), out.c_str(),
              "--type", "tq1_0", static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(err_pipe[1]);
    std::string first_line;
    char c = 0;
    while (::read(err_pipe[0], &c, 1) == 1 && c != '\n') first_line += c;
    ::kill(pid, SIGSTOP);
    EXPECT_EQ(first_line.rfind("[1/354] token_embd.weight", 0), 0u) << first_line;
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, WUNTRACED), pid);
    ASSERT_TRUE(WIFSTOPPED(status)) << "the program finished before it could be interrupted";
    ::kill(pid, SIGINT);
    ::kill(pid, SIGCONT);
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ::close(err_pipe[0]);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status;
    EXPECT_EQ(out_dir.entries(), std::vector<std::string>{"kept.gguf"});
    EXPECT_EQ(read_file(out_dir.file("kept.gguf")), (std::vector<uint8_t>{7, 7, 7}));
  }
}

// Plain progress lines when stderr is not a terminal, nothing with --quiet;
// the output verifies with its own checksums; --tensor-type rules win over
// --type, and a row length TQ2_0 cannot hold goes to Q2_0 on request.
TEST_F(CliFiles, QuantizeProgressRulesAndOutput) {
  TempDir out_dir;
  const ToolResult r = tool({"quantize", dir_->file("mainline.gguf"), out_dir.file("a.gguf"), "--type", "tq2_0",
                             "--tensor-type", "token_embd=q8_0", "--tensor-type", "ffn_down=q2_0"});
  ASSERT_EQ(r.exit_code, 0) << contents_of(r);
  EXPECT_NE(r.err.find("[1/24] token_embd.weight F32 -> Q8_0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("] blk.0.attn_q.weight F32 -> TQ2_0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("] blk.0.ffn_down.weight F32 -> Q2_0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("] blk.0.attn_norm.weight F32 copied"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("quantize: 24 tensors (15 quantized)"), std::string::npos) << r.err;
  const ToolResult verify = tool({"verify", out_dir.file("a.gguf")});
  EXPECT_EQ(verify.exit_code, 0) << contents_of(verify);
  EXPECT_NE(verify.out.find("OK: 24 tensors checked, 24 checksums match"), std::string::npos) << verify.out;
  const auto j = nlohmann::json::parse(tool({"inspect", "--json", out_dir.file("a.gguf")}).out);
  EXPECT_EQ(j["totals"]["by_type"]["TQ2_0"]["tensors"], 12);
  EXPECT_EQ(j["totals"]["by_type"]["Q2_0"]["tensors"], 2);
  EXPECT_EQ(j["totals"]["by_type"]["Q8_0"]["tensors"], 1);

  const ToolResult quiet = tool({"quantize", "-q", dir_->file("mainline.gguf"), out_dir.file("b.gguf"), "-t", "q2_0"});
  EXPECT_EQ(quiet.exit_code, 0) << contents_of(quiet);
  EXPECT_TRUE(quiet.err.empty()) << quiet.err;

  synth::write_binary_file(dir_->file("narrow.gguf"), one_projection(gaussian_like(512), 64));
  const ToolResult narrow = tool({"quantize", dir_->file("narrow.gguf"), out_dir.file("c.gguf"), "--type", "q2_0"});
  EXPECT_EQ(narrow.exit_code, 0) << contents_of(narrow);
  for (const char* command : {"quantize", "transcode", "convert"}) {
    const ToolResult help = tool({command, "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("Exit codes:"), std::string::npos) << help.out;
  }
}

}  // namespace
}  // namespace bitnet_cli::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: test_cli PATH/TO/bitnet-quant\n");
    return 2;
  }
  bitnet_cli::testing::g_tool = argv[1];
  return RUN_ALL_TESTS();
}
