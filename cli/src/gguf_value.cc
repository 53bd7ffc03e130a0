#include "gguf_value.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "byte_order.h"
#include "utf8.h"

namespace bitnet_cli {

const char* gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::kUint8: return "uint8";
    case GgufType::kInt8: return "int8";
    case GgufType::kUint16: return "uint16";
    case GgufType::kInt16: return "int16";
    case GgufType::kUint32: return "uint32";
    case GgufType::kInt32: return "int32";
    case GgufType::kFloat32: return "float32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "uint64";
    case GgufType::kInt64: return "int64";
    case GgufType::kFloat64: return "float64";
  }
  return "?";
}

uint64_t gguf_scalar_size(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

namespace {

// The value of a scalar's bits as a signed or unsigned integer, or a double.
struct Number {
  bool is_float = false;
  bool is_signed = false;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
};

Number decode_number(GgufType type, uint64_t bits) {
  Number n;
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kUint16:
    case GgufType::kUint32:
    case GgufType::kUint64:
    case GgufType::kBool:
      n.u = bits;
      break;
    case GgufType::kInt8:
      n.is_signed = true;
      n.i = (bits & 0x80u) != 0 ? static_cast<int64_t>(bits & 0xFFu) - 256 : static_cast<int64_t>(bits & 0xFFu);
      break;
    case GgufType::kInt16:
      n.is_signed = true;
      n.i = static_cast<int16_t>(bits);
      break;
    case GgufType::kInt32:
      n.is_signed = true;
      n.i = static_cast<int32_t>(bits);
      break;
    case GgufType::kInt64:
      n.is_signed = true;
      n.i = static_cast<int64_t>(bits);
      break;
    case GgufType::kFloat32: {
      float f;
      const auto b = static_cast<uint32_t>(bits);
      std::memcpy(&f, &b, sizeof f);
      n.is_float = true;
      n.f = f;
      break;
    }
    case GgufType::kFloat64:
      n.is_float = true;
      std::memcpy(&n.f, &bits, sizeof n.f);
      break;
    case GgufType::kString:
    case GgufType::kArray:
      break;
  }
  return n;
}

uint64_t element_bits(const std::vector<uint8_t>& bytes, uint64_t size, std::size_t index) {
  uint64_t bits = 0;
  std::memcpy(&bits, bytes.data() + index * size, size);
  return bits;
}

std::string scalar_text(GgufType type, uint64_t bits) {
  if (type == GgufType::kBool) return bits != 0 ? "true" : "false";
  const Number n = decode_number(type, bits);
  char text[40];
  if (n.is_float) {
    std::snprintf(text, sizeof text, "%.9g", n.f);
  } else if (n.is_signed) {
    std::snprintf(text, sizeof text, "%" PRId64, n.i);
  } else {
    std::snprintf(text, sizeof text, "%" PRIu64, n.u);
  }
  return text;
}

nlohmann::json scalar_json(GgufType type, uint64_t bits) {
  if (type == GgufType::kBool) return bits != 0;
  const Number n = decode_number(type, bits);
  if (n.is_float) return n.f;
  if (n.is_signed) return n.i;
  return n.u;
}

}  // namespace

GgufValue GgufValue::scalar(GgufType type, uint64_t bits) {
  GgufValue v;
  v.type_ = type;
  v.bits_ = bits;
  return v;
}

GgufValue GgufValue::i32(int32_t value) {
  return scalar(GgufType::kInt32, static_cast<uint32_t>(value));
}

GgufValue GgufValue::f32(float value) {
  uint32_t pattern;
  std::memcpy(&pattern, &value, sizeof pattern);
  return scalar(GgufType::kFloat32, pattern);
}

GgufValue GgufValue::string(std::string value) {
  GgufValue v;
  v.type_ = GgufType::kString;
  v.text_ = std::move(value);
  return v;
}

GgufValue GgufValue::numeric_array(GgufType element_type, std::vector<uint8_t> bytes) {
  GgufValue v;
  v.type_ = GgufType::kArray;
  v.element_type_ = element_type;
  v.bytes_ = std::move(bytes);
  return v;
}

GgufValue GgufValue::string_array(std::vector<std::string> strings) {
  GgufValue v;
  v.type_ = GgufType::kArray;
  v.element_type_ = GgufType::kString;
  v.strings_ = std::move(strings);
  return v;
}

GgufValue GgufValue::i32_array(const std::vector<int32_t>& values) {
  std::vector<uint8_t> bytes;
  for (int32_t x : values) append_le(bytes, x);
  return numeric_array(GgufType::kInt32, std::move(bytes));
}

GgufValue GgufValue::f32_array(const std::vector<float>& values) {
  std::vector<uint8_t> bytes;
  for (float x : values) append_le(bytes, x);
  return numeric_array(GgufType::kFloat32, std::move(bytes));
}

GgufValue GgufValue::u64_array(const std::vector<uint64_t>& values) {
  std::vector<uint8_t> bytes;
  for (uint64_t x : values) append_le(bytes, x);
  return numeric_array(GgufType::kUint64, std::move(bytes));
}

uint64_t GgufValue::array_size() const {
  if (type_ != GgufType::kArray) return 0;
  if (element_type_ == GgufType::kString) return strings_.size();
  const uint64_t size = gguf_scalar_size(element_type_);
  return size == 0 ? 0 : bytes_.size() / size;
}

std::optional<uint64_t> GgufValue::as_uint() const {
  if (type_ == GgufType::kBool || gguf_scalar_size(type_) == 0) return std::nullopt;
  const Number n = decode_number(type_, bits_);
  if (n.is_float) return std::nullopt;
  if (n.is_signed) return n.i < 0 ? std::nullopt : std::optional<uint64_t>(static_cast<uint64_t>(n.i));
  return n.u;
}

std::optional<double> GgufValue::as_float() const {
  if (type_ == GgufType::kBool || gguf_scalar_size(type_) == 0) return std::nullopt;
  const Number n = decode_number(type_, bits_);
  if (n.is_float) return n.f;
  return n.is_signed ? static_cast<double>(n.i) : static_cast<double>(n.u);
}

const std::string* GgufValue::as_string() const {
  return type_ == GgufType::kString ? &text_ : nullptr;
}

const std::vector<std::string>* GgufValue::as_strings() const {
  return type_ == GgufType::kArray && element_type_ == GgufType::kString ? &strings_ : nullptr;
}

void GgufValue::append_encoded(std::vector<uint8_t>& out) const {
  const auto append_string = [&out](const std::string& s) {
    append_le<uint64_t>(out, s.size());
    append_bytes(out, s.data(), s.size());
  };
  switch (type_) {
    case GgufType::kString:
      append_string(text_);
      return;
    case GgufType::kArray:
      append_le<uint32_t>(out, static_cast<uint32_t>(element_type_));
      append_le<uint64_t>(out, array_size());
      if (element_type_ == GgufType::kString) {
        for (const std::string& s : strings_) append_string(s);
      } else {
        append_bytes(out, bytes_.data(), bytes_.size());
      }
      return;
    default:
      append_bytes(out, &bits_, gguf_scalar_size(type_));
      return;
  }
}

uint64_t GgufValue::encoded_size() const {
  switch (type_) {
    case GgufType::kString:
      return 8 + text_.size();
    case GgufType::kArray: {
      uint64_t size = 4 + 8;
      if (element_type_ == GgufType::kString) {
        for (const std::string& s : strings_) size += 8 + s.size();
      } else {
        size += bytes_.size();
      }
      return size;
    }
    default:
      return gguf_scalar_size(type_);
  }
}

std::string GgufValue::to_text(std::size_t max_items) const {
  switch (type_) {
    case GgufType::kString:
      return printable(text_, 200);
    case GgufType::kArray: {
      const uint64_t count = array_size();
      std::string text = "[";
      for (uint64_t i = 0; i < count && i < max_items; ++i) {
        if (i) text += ", ";
        if (element_type_ == GgufType::kString) {
          text += printable(strings_[i], 40);
        } else {
          const uint64_t size = gguf_scalar_size(element_type_);
          text += scalar_text(element_type_, element_bits(bytes_, size, i));
        }
      }
      if (count > max_items) text += ", ...";
      return text + "] (" + std::to_string(count) + " " + gguf_type_name(element_type_) + ")";
    }
    default:
      return scalar_text(type_, bits_);
  }
}

nlohmann::json GgufValue::to_json(std::size_t max_items) const {
  nlohmann::json j;
  j["type"] = gguf_type_name(type_);
  switch (type_) {
    case GgufType::kString:
      j["value"] = text_;
      break;
    case GgufType::kArray: {
      const uint64_t count = array_size();
      j["element_type"] = gguf_type_name(element_type_);
      j["count"] = count;
      nlohmann::json items = nlohmann::json::array();
      for (uint64_t i = 0; i < count && i < max_items; ++i) {
        if (element_type_ == GgufType::kString) {
          items.push_back(strings_[i]);
        } else {
          const uint64_t size = gguf_scalar_size(element_type_);
          items.push_back(scalar_json(element_type_, element_bits(bytes_, size, i)));
        }
      }
      j["value"] = std::move(items);
      if (count > max_items) j["truncated"] = true;
      break;
    }
    default:
      j["value"] = scalar_json(type_, bits_);
      break;
  }
  return j;
}

bool GgufValue::operator==(const GgufValue& other) const {
  return type_ == other.type_ && (type_ != GgufType::kArray || element_type_ == other.element_type_) &&
         bits_ == other.bits_ && text_ == other.text_ && bytes_ == other.bytes_ &&
         strings_ == other.strings_;
}

}  // namespace bitnet_cli
