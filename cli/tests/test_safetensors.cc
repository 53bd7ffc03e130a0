// The safetensors reader: round trips, sharded checkpoints, and hostile
// headers (each check hit on purpose, every truncation) giving an Error.
#include <gtest/gtest.h>

#include <cstring>

#include "byte_order.h"
#include "errors.h"
#include "safetensors.h"
#include "safetensors_writer.h"
#include "test_util.h"

namespace bitnet_cli::testing {
namespace {

using synth::encode_safetensors;
using synth::SafetensorsEntry;

std::vector<uint8_t> bytes_of(std::size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + 31 * i);
  return out;
}

std::vector<SafetensorsEntry> sample() {
  return {{"model.layers.0.self_attn.q_proj.weight", "BF16", {4, 8}, bytes_of(64, 1)},
          {"model.layers.0.self_attn.q_proj.weight_scale", "F32", {1}, bytes_of(4, 2)},
          {"packed", "U8", {2, 8}, bytes_of(16, 3)},
          {"scalar", "I64", {}, bytes_of(8, 4)},
          {"empty", "F16", {0, 5}, {}},
          {"f32", "F32", {3}, bytes_of(12, 5)}};
}

TEST(Safetensors, RoundTrip) {
  const auto entries = sample();
  const auto bytes = encode_safetensors(entries, {{"format", "pt"}});
  const SafetensorsFile file = SafetensorsFile::parse(bytes.data(), bytes.size(), "a.safetensors");
  ASSERT_EQ(file.tensors().size(), entries.size());
  EXPECT_EQ(file.metadata().at("format"), "pt");
  for (const SafetensorsEntry& e : entries) {
    const SafetensorsTensor* t = file.find(e.name);
    ASSERT_NE(t, nullptr) << e.name;
    EXPECT_EQ(safetensors_dtype_name(t->dtype), e.dtype);
    EXPECT_EQ(t->shape, e.shape);
    ASSERT_EQ(t->size, e.data.size());
    EXPECT_EQ(0, e.data.empty() ? 0 : std::memcmp(t->data, e.data.data(), t->size));
  }
  EXPECT_EQ(file.find("packed")->shape_text(), "[2, 8]");
  EXPECT_EQ(file.find("scalar")->elements(), 1);
}

std::vector<uint8_t> raw_file(const std::string& header, std::size_t data_bytes) {
  std::vector<uint8_t> out;
  append_le<uint64_t>(out, header.size());
  append_bytes(out, header.data(), header.size());
  out.resize(out.size() + data_bytes, 0x5A);
  return out;
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    SafetensorsFile::parse(bytes.data(), bytes.size(), "bad.safetensors");
    ADD_FAILURE() << "parsed, expected an error containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

TEST(Safetensors, EveryTruncationIsAnError) {
  const auto bytes = encode_safetensors(sample());
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_THROW(SafetensorsFile::parse(prefix.data(), prefix.size(), "bad"), Error) << "length " << length;
  }
}

TEST(Safetensors, HeaderFaults) {
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    const char* message;
  };
  std::vector<uint8_t> huge_length;
  append_le<uint64_t>(huge_length, ~uint64_t{0});
  huge_length.push_back('{');
  const std::vector<Case> cases = {
      {"short", {1, 2, 3}, "only 3 bytes"},
      {"gguf", {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0}, "it is a GGUF file"},
      {"lying header length", huge_length, "the header claims 18446744073709551615 bytes"},
      {"not an object", raw_file("[1,2]", 0), "not a JSON object"},
      {"invalid JSON", raw_file("{\"t\":", 0), "invalid JSON"},
      {"invalid UTF-8", raw_file("{\"t\xFF\":{}}", 0), "invalid JSON"},
      {"number overflow", raw_file(R"({"t":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}})", 4),
       "number overflow"},
      {"duplicate tensor", raw_file("{" + ok_entry + "," + ok_entry + "}", 8), "duplicate JSON key 't'"},
      {"duplicate field", raw_file(R"({"t":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8),
       "duplicate JSON key 'dtype'"},
      {"unknown dtype", raw_file(R"({"t":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype 'F31'"},
      {"dtype number", raw_file(R"({"t":{"dtype":5,"shape":[2],"data_offsets":[0,8]}})", 8), "dtype is a number"},
      {"no shape", raw_file(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", 8), "no \"shape\""},
      {"entry not object", raw_file(R"({"t":[1]})", 0), "entry is not an object"},
      {"shape not array", raw_file(R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8), "shape is not an array"},
      {"negative shape", raw_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "shape entry must be a non-negative integer"},
      {"float shape", raw_file(R"({"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8),
       "shape entry must be a non-negative integer"},
      {"overflowing shape",
       raw_file(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       "overflows 63 bits"},
      {"huge shape entry", raw_file(R"({"t":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", 8),
       "overflows 63 bits"},
      {"offsets length", raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8),
       "data_offsets is not [begin, end]"},
      {"begin after end", raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
       "do not lie within the 8-byte data buffer"},
      {"end past buffer", raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
       "do not lie within the 4-byte data buffer"},
      {"size mismatch", raw_file(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "needs 3 x 4 bytes, but data_offsets span 8"},
      {"size overflow", raw_file(R"({"t":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", 8),
       "needs 4611686018427387904 x 8 bytes"},
      {"overlap",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                12),
       "where 8 was expected"},
      {"hole",
       raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                12),
       "where 4 was expected"},
      {"trailing bytes", raw_file("{" + ok_entry + "}", 12), "cover 8 of the 12 data bytes"},
      {"metadata not object", raw_file(R"({"__metadata__":[1]})", 0), "__metadata__ is not an object"},
      {"metadata value", raw_file(R"({"__metadata__":{"a":1}})", 0), "__metadata__ value of 'a' is not a string"},
      {"deep nesting", raw_file("{\"t\":" + std::string(100000, '[') + std::string(100000, ']') + "}", 0),
       "entry is not an object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    expect_error(c.bytes, c.message);
  }
}

class CheckpointTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::vector<SafetensorsEntry>& tensors) {
    synth::write_binary_file(dir.file(name), encode_safetensors(tensors));
  }
  void index(const std::string& json) { synth::write_text_file(dir.file("model.safetensors.index.json"), json); }
  void expect_open_error(const std::string& needle) {
    try {
      SafetensorsCheckpoint::open(dir.path());
      ADD_FAILURE() << "opened, expected: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  TempDir dir;
  std::vector<SafetensorsEntry> a{{"a", "F32", {1}, bytes_of(4, 1)}};
  std::vector<SafetensorsEntry> b{{"b", "F32", {1}, bytes_of(4, 2)}, {"c", "U8", {2}, bytes_of(2, 3)}};
};

TEST_F(CheckpointTest, SingleFile) {
  write("model.safetensors", b);
  const auto checkpoint = SafetensorsCheckpoint::open(dir.path());
  ASSERT_EQ(checkpoint.tensors().size(), 2u);
  EXPECT_EQ(checkpoint.tensors()[0]->name, "b");
  EXPECT_NE(checkpoint.find("c"), nullptr);
  EXPECT_EQ(SafetensorsCheckpoint::open(dir.file("model.safetensors")).tensors().size(), 2u);
}

TEST_F(CheckpointTest, Shards) {
  write("m-1.safetensors", a);
  write("m-2.safetensors", b);
  index(R"({"metadata":{"total_size":10},"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors","c":"m-2.safetensors"}})");
  const auto checkpoint = SafetensorsCheckpoint::open(dir.path());
  ASSERT_EQ(checkpoint.tensors().size(), 3u);
  EXPECT_EQ(checkpoint.find("c")->data[0], bytes_of(2, 3)[0]);
}

TEST_F(CheckpointTest, ShardFaults) {
  expect_open_error("neither model.safetensors nor model.safetensors.index.json");
  write("m-1.safetensors", a);
  write("m-2.safetensors", b);
  index(R"({"weight_map":{"a":"../m-1.safetensors"}})");
  expect_open_error("is not a plain file name");
  index(R"({"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors"}})");
  expect_open_error("tensor 'c' is not listed for this shard");
  index(R"({"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors","c":"m-2.safetensors","d":"m-2.safetensors"}})");
  expect_open_error("the index lists 'd' in m-2.safetensors, which does not hold it");
  index(R"({"weight_map":{"a":"m-1.safetensors","b":"m-3.safetensors"}})");
  expect_open_error("m-3.safetensors");
  index(R"({"weights":{}})");
  expect_open_error("no \"weight_map\" object");
  index(R"({"weight_map":{"a":"m-1.safetensors","a":"m-2.safetensors"}})");
  expect_open_error("duplicate JSON key 'a'");
}

}  // namespace
}  // namespace bitnet_cli::testing
