// The GGUF reader and writer: round trips of every value type and several
// tensor types, the checksum KVs, and hostile inputs (each reader check
// hit on purpose, every truncation of a valid file) giving a clear Error.
#include <gtest/gtest.h>

#include <cstring>

#include "byte_order.h"
#include "checksum.h"
#include "errors.h"
#include "gguf_reader.h"
#include "gguf_writer.h"
#include "raw_gguf.h"
#include "test_util.h"

namespace bitnet_cli::testing {
namespace {

std::vector<GgufKeyValue> sample_kvs() {
  std::vector<uint8_t> bools = {1, 0, 1};
  std::vector<uint8_t> u16s;
  for (uint16_t v : {1, 65535}) append_le(u16s, v);
  return {
      {"general.architecture", GgufValue::string("bitnet")},
      {"general.name", GgufValue::string("t\xC3\xA9st \xE2\x9C\x93")},
      {"a.u8", GgufValue::scalar(GgufType::kUint8, 200)},
      {"a.i8", GgufValue::scalar(GgufType::kInt8, 0x80)},
      {"a.u16", GgufValue::scalar(GgufType::kUint16, 65000)},
      {"a.i16", GgufValue::scalar(GgufType::kInt16, 0xFFFF)},
      {"a.u32", GgufValue::u32(4000000000u)},
      {"a.i32", GgufValue::i32(-7)},
      {"a.f32", GgufValue::f32(1e-5f)},
      {"a.bool", GgufValue::boolean(true)},
      {"a.u64", GgufValue::u64(~uint64_t{0})},
      {"a.i64", GgufValue::scalar(GgufType::kInt64, static_cast<uint64_t>(int64_t{-3}))},
      {"a.f64", GgufValue::scalar(GgufType::kFloat64, 0x400921FB54442D18ull)},
      {"a.empty_string", GgufValue::string("")},
      {"a.strings", GgufValue::string_array({"Ġthe", "", "merges a b"})},
      {"a.empty_array", GgufValue::string_array({})},
      {"a.i32s", GgufValue::i32_array({1, -2, 3})},
      {"a.f32s", GgufValue::f32_array({0.5f, -0.25f})},
      {"a.bools", GgufValue::numeric_array(GgufType::kBool, bools)},
      {"a.u16s", GgufValue::numeric_array(GgufType::kUint16, u16s)},
  };
}

GgufTensorSpec spec(const std::string& name, int32_t type_id, std::vector<int64_t> ne) {
  GgufTensorSpec t;
  t.name = name;
  t.type = find_type(type_id, Provenance::kMainline);
  t.n_dims = static_cast<uint32_t>(ne.size());
  for (std::size_t d = 0; d < ne.size(); ++d) t.ne[d] = ne[d];
  std::string why;
  t.size = tensor_bytes(*t.type, t.ne, &why).value();
  return t;
}

std::vector<GgufTensorSpec> sample_tensors() {
  return {spec("f32", 0, {8, 3}),          spec("f16", 1, {16}),
          spec("tq2", 35, {256, 2}),       spec("i2s", 36, {128, 2}),
          spec("q4k", 12, {256}),          spec("q2_0", 42, {64, 3}),
          spec("bf16.3d", 30, {4, 2, 3}),  spec("tq1", 34, {512, 1, 1, 2})};
}

// Writes kvs and tensors (data from pattern_bytes), `chunk` bytes at a time.
std::vector<std::vector<uint8_t>> write_sample(const std::string& path, std::vector<GgufKeyValue> kvs,
                                               std::vector<GgufTensorSpec> tensors, std::size_t chunk) {
  std::vector<std::vector<uint8_t>> data;
  GgufWriter writer(std::move(kvs), std::move(tensors));
  OutputFile out(path, false);
  writer.begin(out);
  for (std::size_t i = 0; i < writer.tensors().size(); ++i) {
    data.push_back(pattern_bytes(writer.tensors()[i].size, static_cast<uint32_t>(i + 7)));
    for (std::size_t at = 0; at < data.back().size(); at += chunk) {
      writer.write(data.back().data() + at, std::min(chunk, data.back().size() - at));
    }
  }
  writer.finish();
  return data;
}

TEST(GgufWriter, RoundTripsEveryValueTypeAndTensorType) {
  TempDir dir;
  const auto kvs = sample_kvs();
  const auto tensors = sample_tensors();
  const auto data = write_sample(dir.file("a.gguf"), kvs, tensors, 1 << 20);

  const GgufFile file = GgufFile::open(dir.file("a.gguf"));
  ASSERT_EQ(file.kvs().size(), kvs.size() + 2);
  for (std::size_t i = 0; i < kvs.size(); ++i) {
    EXPECT_EQ(file.kvs()[i].key, kvs[i].key);
    EXPECT_TRUE(file.kvs()[i].value == kvs[i].value) << kvs[i].key;
  }
  EXPECT_EQ(file.alignment(), 32u);
  EXPECT_EQ(file.data_offset() % 32, 0u);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  const GgufValue* checksums = file.find(kChecksumKey);
  ASSERT_NE(checksums, nullptr);
  ASSERT_EQ(checksums->element_type(), GgufType::kUint64);
  ASSERT_EQ(checksums->array_size(), tensors.size());
  std::vector<TensorLayoutEntry> layout;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& t = file.tensors()[i];
    EXPECT_EQ(t.name, tensors[i].name);
    EXPECT_EQ(t.type, tensors[i].type);
    EXPECT_EQ(t.n_dims, tensors[i].n_dims);
    for (int d = 0; d < 4; ++d) EXPECT_EQ(t.ne[d], tensors[i].ne[d]);
    EXPECT_EQ(t.size, tensors[i].size);
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ(0, std::memcmp(file.tensor_data(t), data[i].data(), t.size)) << t.name;
    EXPECT_EQ(load_le<uint64_t>(checksums->array_bytes().data() + 8 * i), xxh64(data[i].data(), data[i].size()));
    layout.push_back({&t.name, t.type->id, t.n_dims, t.ne});
  }
  EXPECT_EQ(file.find(kChecksumLayoutKey)->as_uint(), tensor_layout_digest(layout));
  // Every tensor padded, the last one too (as ggml writes).
  const GgufTensorInfo& last = file.tensors().back();
  EXPECT_EQ(file.file_size(), file.data_offset() + (last.offset + last.size + 31) / 32 * 32);
}

TEST(GgufWriter, ChunkedWritesGiveTheSameFile) {
  TempDir dir;
  write_sample(dir.file("whole.gguf"), sample_kvs(), sample_tensors(), 1 << 20);
  write_sample(dir.file("chunks.gguf"), sample_kvs(), sample_tensors(), 7);
  EXPECT_EQ(read_file(dir.file("whole.gguf")), read_file(dir.file("chunks.gguf")));
}

TEST(GgufWriter, HonoursGeneralAlignmentAndReplacesOldChecksums) {
  TempDir dir;
  auto kvs = sample_kvs();
  kvs.push_back({"general.alignment", GgufValue::u32(64)});
  kvs.push_back({kChecksumKey, GgufValue::u64_array({1, 2, 3})});
  write_sample(dir.file("a.gguf"), kvs, sample_tensors(), 1 << 20);
  const GgufFile file = GgufFile::open(dir.file("a.gguf"));
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset() % 64, 0u);
  for (const auto& t : file.tensors()) EXPECT_EQ(t.offset % 64, 0u);
  EXPECT_EQ(file.find(kChecksumKey)->array_size(), sample_tensors().size());
  EXPECT_EQ(file.kvs().size(), kvs.size() + 1);  // the old checksum KV dropped, two added
}

TEST(GgufWriter, RejectsInconsistentSpecs) {
  auto tensors = sample_tensors();
  tensors[2].size += 1;
  EXPECT_THROW(GgufWriter({}, tensors), Error);
  tensors = sample_tensors();
  tensors[1].name = tensors[0].name;
  EXPECT_THROW(GgufWriter({}, tensors), Error);
}

TEST(GgufReader, TypesDependOnTheArchitecture) {
  RawGguf fork;
  fork.add_kv("general.architecture", GgufValue::string("bitnet-b1.58"));
  fork.add_tensor("tl1", 38, {128, 4}, 128 + 32);
  fork.add_tensor("i2s", 36, {256, 2}, 128 + 32);
  const auto fork_bytes = fork.bytes();
  const GgufFile f = GgufFile::parse(fork_bytes.data(), fork_bytes.size(), "fork");
  EXPECT_EQ(f.provenance(), Provenance::kBitnetCpp);
  EXPECT_STREQ(f.tensors()[0].type->name, "TL1");
  EXPECT_STREQ(f.tensors()[1].type->name, "I2_S");

  RawGguf mainline;
  mainline.add_kv("general.architecture", GgufValue::string("bitnet"));
  mainline.add_tensor("mx", 39, {64}, 34);
  mainline.add_tensor("i2s", 36, {128}, 64);
  const auto main_bytes = mainline.bytes();
  const GgufFile m = GgufFile::parse(main_bytes.data(), main_bytes.size(), "main");
  EXPECT_STREQ(m.tensors()[0].type->name, "MXFP4");
  EXPECT_EQ(m.tensors()[1].size, 128 / 4 + 32u);
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    GgufFile::parse(bytes.data(), bytes.size(), "bad.gguf");
    ADD_FAILURE() << "parsed, expected an error containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("bad.gguf: ", 0), 0u) << "message: " << e.what();
  }
}

RawGguf valid_raw() {
  RawGguf raw;
  raw.add_kv("general.architecture", GgufValue::string("bitnet"));
  raw.add_kv("tokenizer.ggml.tokens", GgufValue::string_array({"a", "b", "c"}));
  raw.add_tensor("token_embd.weight", 0, {4, 3}, 48);
  raw.add_tensor("blk.0.attn_q.weight", 35, {256, 2}, 132);
  return raw;
}

std::vector<uint8_t> kv_bytes(const std::string& key, uint32_t type, const std::vector<uint8_t>& value) {
  std::vector<uint8_t> out = encode_string(key);
  append_le(out, type);
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

TEST(GgufReader, EveryTruncationIsAnError) {
  const std::vector<uint8_t> bytes = valid_raw().bytes();
  (void)GgufFile::parse(bytes.data(), bytes.size(), "ok");
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_THROW(GgufFile::parse(prefix.data(), prefix.size(), "bad.gguf"), Error) << "length " << length;
  }
}

TEST(GgufReader, HeaderFaults) {
  std::vector<uint8_t> bytes = valid_raw().bytes();
  expect_error({}, "only 0 bytes");
  auto wrong_magic = bytes;
  wrong_magic[0] = 'X';
  expect_error(wrong_magic, "does not start with the magic 'GGUF'");
  std::vector<uint8_t> safetensors(16, ' ');
  safetensors[8] = '{';
  expect_error(safetensors, "looks like a safetensors file");
  for (uint32_t version : {1u, 2u}) {
    RawGguf raw = valid_raw();
    raw.version = version;
    expect_error(raw.bytes(), "GGUF version " + std::to_string(version) + " is not supported");
  }
  RawGguf big = valid_raw();
  big.version = 0x03000000;
  expect_error(big.bytes(), "big-endian GGUF file");
  RawGguf future = valid_raw();
  future.version = 4;
  expect_error(future.bytes(), "unknown GGUF version 4");
  RawGguf many_kvs = valid_raw();
  many_kvs.claimed_kvs = uint64_t{1} << 60;
  expect_error(many_kvs.bytes(), "header claims 1152921504606846976 KVs");
  RawGguf many_tensors = valid_raw();
  many_tensors.claimed_tensors = ~uint64_t{0};
  expect_error(many_tensors.bytes(), "header claims 18446744073709551615 tensors");
  RawGguf fewer_kvs = valid_raw();
  fewer_kvs.claimed_kvs = 1;  // the second KV is then read as a tensor info
  expect_error(fewer_kvs.bytes(), "tensor");
}

struct KvCase {
  const char* name;
  std::vector<uint8_t> kv;
  const char* message;
};

TEST(GgufReader, KvFaults) {
  std::vector<uint8_t> huge_string;
  append_le<uint64_t>(huge_string, uint64_t{1} << 62);
  std::vector<uint8_t> huge_string_array;
  append_le<uint32_t>(huge_string_array, 8);
  append_le<uint64_t>(huge_string_array, uint64_t{1} << 61);
  std::vector<uint8_t> huge_u64_array;
  append_le<uint32_t>(huge_u64_array, 10);
  append_le<uint64_t>(huge_u64_array, uint64_t{1} << 61);
  std::vector<uint8_t> nested;
  append_le<uint32_t>(nested, 9);
  append_le<uint64_t>(nested, 1);
  std::vector<uint8_t> bad_element;
  append_le<uint32_t>(bad_element, 13);
  append_le<uint64_t>(bad_element, 1);
  std::vector<uint8_t> bool_array;
  append_le<uint32_t>(bool_array, 7);
  append_le<uint64_t>(bool_array, 2);
  bool_array.push_back(1);
  bool_array.push_back(5);
  std::vector<uint8_t> bad_utf8_array;
  append_le<uint32_t>(bad_utf8_array, 8);
  append_le<uint64_t>(bad_utf8_array, 2);
  for (const std::string s : {"ok", "\xC0\xAF"}) {
    const auto e = encode_string(s);
    bad_utf8_array.insert(bad_utf8_array.end(), e.begin(), e.end());
  }
  std::vector<uint8_t> alignment3;
  append_le<uint32_t>(alignment3, 3);
  std::vector<uint8_t> alignment0;
  append_le<uint32_t>(alignment0, 0);
  std::vector<uint8_t> arch_number;
  append_le<uint32_t>(arch_number, 1);

  const std::vector<KvCase> cases = {
      {"empty key", kv_bytes("", 4, {0, 0, 0, 0}), "empty key"},
      {"duplicate key", kv_bytes("general.architecture", 8, encode_string("llama")), "duplicate key"},
      {"bad UTF-8 key", kv_bytes("k\xFF", 4, {0, 0, 0, 0}), "is not valid UTF-8"},
      {"surrogate in a value", kv_bytes("k", 8, encode_string("\xED\xA0\x80")), "is not valid UTF-8"},
      {"overlong in a value", kv_bytes("k", 8, encode_string("\xE0\x80\xAF")), "is not valid UTF-8"},
      {"bad UTF-8 in an array", kv_bytes("k", 9, bad_utf8_array), "KV 2 ('k')[1]: the string"},
      {"unknown value type", kv_bytes("k", 13, {0}), "is not a GGUF value type"},
      {"huge string", kv_bytes("k", 8, huge_string), "claims 4611686018427387904 bytes"},
      {"huge string array", kv_bytes("k", 9, huge_string_array), "array of 2305843009213693952 string cannot fit"},
      {"huge numeric array", kv_bytes("k", 9, huge_u64_array), "array of 2305843009213693952 uint64 cannot fit"},
      {"nested array", kv_bytes("k", 9, nested), "arrays of arrays are not supported"},
      {"bad element type", kv_bytes("k", 9, bad_element), "is not a GGUF value type"},
      {"bool 2", kv_bytes("k", 7, {2}), "bool value 2 is neither 0 nor 1"},
      {"bool array 5", kv_bytes("k", 9, bool_array), "[1]: bool value 5"},
      {"alignment 3", kv_bytes("general.alignment", 4, alignment3), "general.alignment 3 is not a power of two"},
      {"alignment 0", kv_bytes("general.alignment", 4, alignment0), "general.alignment 0 is not a power of two"},
      {"alignment u64", kv_bytes("general.alignment", 10, {64, 0, 0, 0, 0, 0, 0, 0}), "must be a uint32"},
  };
  for (const KvCase& c : cases) {
    SCOPED_TRACE(c.name);
    RawGguf raw = valid_raw();
    raw.add_kv_bytes(c.kv);
    expect_error(raw.bytes(), c.message);
  }
  RawGguf arch;
  arch.add_kv_bytes(kv_bytes("general.architecture", 4, arch_number));
  expect_error(arch.bytes(), "general.architecture must be a string");
}

TEST(GgufReader, TensorInfoFaults) {
  struct Case {
    const char* name;
    std::function<void(RawGguf&)> build;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"duplicate name", [](RawGguf& r) { r.add_tensor("token_embd.weight", 0, {4}, 16); },
       "duplicate tensor name"},
      {"bad UTF-8 name", [](RawGguf& r) { r.add_tensor("x\x80", 0, {4}, 16); }, "is not valid UTF-8"},
      {"empty name", [](RawGguf& r) { r.add_tensor("", 0, {4}, 16); }, "empty name"},
      {"0 dims", [](RawGguf& r) { r.add_tensor("t", 0, {}, 0); }, "0 dimensions (1 to 4 allowed)"},
      {"5 dims", [](RawGguf& r) { r.add_tensor("t", 0, {1, 1, 1, 1, 1}, 4); }, "5 dimensions"},
      {"negative dim", [](RawGguf& r) { r.add_tensor("t", 0, {4, -1}, 16); }, "dimension 1 is negative"},
      {"overflowing dims", [](RawGguf& r) { r.add_tensor("t", 0, {int64_t{1} << 40, int64_t{1} << 40}, 0, 0); },
       "overflows 63 bits"},
      {"overflowing bytes", [](RawGguf& r) { r.add_tensor("t", 0, {int64_t{1} << 62, 1}, 0, 0); },
       "overflows 64 bits"},
      {"zero hides an overflow", [](RawGguf& r) { r.add_tensor("t", 0, {0, int64_t{1} << 40, int64_t{1} << 40}, 0, 0); },
       "overflows 63 bits"},
      {"unknown type", [](RawGguf& r) { r.add_tensor("t", 99, {4}, 4); }, "ggml type 99 is unknown to mainline"},
      {"removed type", [](RawGguf& r) { r.add_tensor("t", 31, {4}, 4); }, "ggml type 31 was removed"},
      {"row not a block multiple", [](RawGguf& r) { r.add_tensor("t", 35, {255, 2}, 132); },
       "TQ2_0 needs a row length (ne[0] = 255) that is a multiple of 256"},
      {"misaligned offset", [](RawGguf& r) { r.add_tensor("t", 0, {4}, 16, 200); },
       "offset 200 is not a multiple of the alignment 32"},
      {"offset past the end", [](RawGguf& r) { r.add_tensor("t", 0, {4}, 16, uint64_t{1} << 40); },
       "runs past the end of the file"},
      {"offset wraps around", [](RawGguf& r) { r.add_tensor("t", 0, {4}, 16, ~uint64_t{31}); },
       "runs past the end of the file"},
      {"size past the end", [](RawGguf& r) { r.add_tensor("t", 0, {1 << 20}, 0, 192); },
       "runs past the end of the file"},
      {"overlap", [](RawGguf& r) { r.add_tensor("t", 0, {8}, 32, 32); }, "overlap"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RawGguf raw = valid_raw();
    c.build(raw);
    expect_error(raw.bytes(), c.message);
  }
  RawGguf tl2;
  tl2.add_kv("general.architecture", GgufValue::string("bitnet-b1.58"));
  tl2.add_tensor("t", 39, {128}, 64);
  expect_error(tl2.bytes(), "bitnet.cpp's TL2");
  RawGguf i8s;
  i8s.add_kv("general.architecture", GgufValue::string("bitnet-25"));
  i8s.add_tensor("t", 37, {128}, 64);
  expect_error(i8s.bytes(), "I8_S, an activation type");
  RawGguf truncated_data = valid_raw();
  std::vector<uint8_t> bytes = truncated_data.bytes();
  bytes.pop_back();
  expect_error(bytes, "runs past the end of the file");
}

}  // namespace
}  // namespace bitnet_cli::testing
