// One GGUF metadata value (the "V" of a KV): a scalar, a string or a
// one-level array of either, with its exact GGUF type kept so that a value
// copied from one file to another is written back byte for byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bitnet_cli {

enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
constexpr uint32_t kGgufTypeCount = 13;

const char* gguf_type_name(GgufType type);
// Bytes of one value of a scalar type; 0 for kString and kArray.
uint64_t gguf_scalar_size(GgufType type);

class GgufValue {
 public:
  // Scalars, from their little-endian bit pattern (zero-extended).
  static GgufValue scalar(GgufType type, uint64_t bits);
  static GgufValue u32(uint32_t value) { return scalar(GgufType::kUint32, value); }
  static GgufValue i32(int32_t value);
  static GgufValue u64(uint64_t value) { return scalar(GgufType::kUint64, value); }
  static GgufValue f32(float value);
  static GgufValue boolean(bool value) { return scalar(GgufType::kBool, value ? 1 : 0); }
  static GgufValue string(std::string value);
  // Arrays: numeric elements as their little-endian bytes (count * size).
  static GgufValue numeric_array(GgufType element_type, std::vector<uint8_t> bytes);
  static GgufValue string_array(std::vector<std::string> strings);
  static GgufValue i32_array(const std::vector<int32_t>& values);
  static GgufValue f32_array(const std::vector<float>& values);
  static GgufValue u64_array(const std::vector<uint64_t>& values);

  GgufType type() const { return type_; }
  GgufType element_type() const { return element_type_; }  // arrays only
  uint64_t array_size() const;

  // A non-negative integer of any integer type (not bool), else nothing.
  std::optional<uint64_t> as_uint() const;
  std::optional<double> as_float() const;  // float or integer types
  const std::string* as_string() const;
  const std::vector<std::string>* as_strings() const;  // array of strings
  const std::vector<uint8_t>& array_bytes() const { return bytes_; }  // numeric array
  uint64_t bits() const { return bits_; }

  // GGUF encoding of the value (type tag not included).
  void append_encoded(std::vector<uint8_t>& out) const;
  uint64_t encoded_size() const;

  // For inspect: arrays shortened to their first max_items elements.
  std::string to_text(std::size_t max_items) const;
  nlohmann::json to_json(std::size_t max_items) const;

  bool operator==(const GgufValue& other) const;
  bool operator!=(const GgufValue& other) const { return !(*this == other); }

 private:
  GgufType type_ = GgufType::kUint8;
  GgufType element_type_ = GgufType::kUint8;
  uint64_t bits_ = 0;
  std::string text_;
  std::vector<uint8_t> bytes_;
  std::vector<std::string> strings_;
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

}  // namespace bitnet_cli
