#include "gguf_reader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "byte_order.h"
#include "errors.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;            // empty key, type, smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim, type, offset

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// Reads the header front to back; every read is checked against the end.
// Messages name the item being read: a context ("KV 3 ('general.name')")
// set by the caller, an optional array index and what part of it.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& file) : data_(data), size_(size), file_(file) {}

  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  void set_context(std::string context) {
    context_ = std::move(context);
    index_ = kNoIndex;
  }
  void set_index(uint64_t index) { index_ = index; }
  const std::string& context() const { return context_; }

  [[noreturn]] void fail(const std::string& what) const {
    std::string where = context_;
    if (index_ != kNoIndex) where += "[" + std::to_string(index_) + "]";
    if (!where.empty()) where += ": ";
    throw Error(file_ + ": " + where + what + " (at byte offset " + std::to_string(pos_) + ")");
  }

  void need(uint64_t bytes, const char* item) const {
    if (bytes > remaining()) {
      fail(std::string("truncated file: the ") + item + " needs " + std::to_string(bytes) + " bytes, only " +
           std::to_string(remaining()) + " left");
    }
  }

  template <typename T>
  T read(const char* item) {
    need(sizeof(T), item);
    const T value = load_le<T>(data_ + pos_);
    pos_ += sizeof(T);
    return value;
  }

  // A GGUF string (uint64 length, bytes), checked to be UTF-8.
  std::string read_string(const char* item) {
    const uint64_t length = read<uint64_t>(item);
    if (length > remaining()) {
      fail(std::string("the ") + item + " claims " + std::to_string(length) + " bytes, but only " +
           std::to_string(remaining()) + " are left in the file (truncated file or a lying length)");
    }
    std::string text(reinterpret_cast<const char*>(data_ + pos_), length);
    if (!is_valid_utf8(text)) fail(std::string("the ") + item + " " + printable(text) + " is not valid UTF-8");
    pos_ += length;
    return text;
  }

  std::vector<uint8_t> read_bytes(uint64_t length, const char* item) {
    need(length, item);
    std::vector<uint8_t> bytes(data_ + pos_, data_ + pos_ + length);
    pos_ += length;
    return bytes;
  }

 private:
  static constexpr uint64_t kNoIndex = ~uint64_t{0};
  const uint8_t* data_;
  uint64_t size_;
  const std::string& file_;
  uint64_t pos_ = 0;
  std::string context_;
  uint64_t index_ = kNoIndex;
};

GgufType read_value_type(Cursor& cursor, const char* item) {
  const auto raw = cursor.read<uint32_t>(item);
  if (raw >= kGgufTypeCount) {
    cursor.fail(std::string("the ") + item + " " + std::to_string(raw) + " is not a GGUF value type");
  }
  return static_cast<GgufType>(raw);
}

void check_bool(const Cursor& cursor, uint8_t value) {
  if (value > 1) cursor.fail("bool value " + std::to_string(value) + " is neither 0 nor 1");
}

GgufValue read_value(Cursor& cursor, GgufType type) {
  switch (type) {
    case GgufType::kString:
      return GgufValue::string(cursor.read_string("string value"));
    case GgufType::kArray: {
      const GgufType element = read_value_type(cursor, "array element type");
      if (element == GgufType::kArray) cursor.fail("arrays of arrays are not supported (nor read by llama.cpp)");
      const auto count = cursor.read<uint64_t>("array length");
      const uint64_t size = element == GgufType::kString ? 8 : gguf_scalar_size(element);
      if (count > cursor.remaining() / size) {
        cursor.fail("an array of " + std::to_string(count) + " " + gguf_type_name(element) +
                    " cannot fit in the " + std::to_string(cursor.remaining()) +
                    " bytes left in the file (truncated file or a lying count)");
      }
      if (element == GgufType::kString) {
        std::vector<std::string> strings;
        strings.reserve(count);
        for (uint64_t i = 0; i < count; ++i) {
          cursor.set_index(i);
          strings.push_back(cursor.read_string("string"));
        }
        return GgufValue::string_array(std::move(strings));
      }
      std::vector<uint8_t> bytes = cursor.read_bytes(count * size, "array");
      if (element == GgufType::kBool) {
        for (uint64_t i = 0; i < count; ++i) {
          cursor.set_index(i);
          check_bool(cursor, bytes[i]);
        }
      }
      return GgufValue::numeric_array(element, std::move(bytes));
    }
    default: {
      const uint64_t size = gguf_scalar_size(type);
      const std::vector<uint8_t> bytes = cursor.read_bytes(size, "value");
      uint64_t bits = 0;
      std::memcpy(&bits, bytes.data(), size);
      if (type == GgufType::kBool) check_bool(cursor, static_cast<uint8_t>(bits));
      return GgufValue::scalar(type, bits);
    }
  }
}

}  // namespace

std::string GgufTensorInfo::shape_text() const {
  std::string text;
  for (uint32_t i = 0; i < n_dims; ++i) {
    if (i) text += " x ";
    text += std::to_string(ne[i]);
  }
  return text;
}

GgufFile GgufFile::open(const std::string& path) { return parse(std::make_shared<MappedFile>(path)); }

GgufFile GgufFile::parse(const std::shared_ptr<MappedFile>& mapping) {
  GgufFile file;
  file.mapping_ = mapping;
  file.data_ = mapping->data();
  file.size_ = mapping->size();
  file.name_ = file.mapping_->path();
  file.parse_all();
  return file;
}

GgufFile GgufFile::parse(const uint8_t* data, uint64_t size, std::string name) {
  GgufFile file;
  file.data_ = data;
  file.size_ = size;
  file.name_ = std::move(name);
  file.parse_all();
  return file;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GgufFile::parse_all() {
  Cursor cursor(data_, size_, name_);
  if (size_ < 4 || std::memcmp(data_, "GGUF", 4) != 0) {
    std::string what = "not a GGUF file: it does not start with the magic 'GGUF'";
    if (size_ >= 9 && data_[8] == '{') what += " (it looks like a safetensors file)";
    if (size_ < 4) what = "not a GGUF file: only " + std::to_string(size_) + " bytes";
    throw Error(name_ + ": " + what);
  }
  (void)cursor.read<uint32_t>("magic");
  const auto version = cursor.read<uint32_t>("version");
  if (version != kGgufVersion) {
    const uint32_t swapped = __builtin_bswap32(version);
    if (swapped >= 1 && swapped <= 3) {
      cursor.fail("big-endian GGUF file (version field " + hex(version) + " is " + std::to_string(swapped) +
                  " byte-swapped); only little-endian GGUF is supported");
    }
    if (version == 1 || version == 2) {
      cursor.fail("GGUF version " + std::to_string(version) +
                  " is not supported; this tool reads version 3 (re-save the file with a current llama.cpp)");
    }
    cursor.fail("unknown GGUF version " + std::to_string(version) + " (expected 3)");
  }
  const auto n_tensors = cursor.read<uint64_t>("tensor count");
  const auto n_kv = cursor.read<uint64_t>("KV count");
  if (n_kv > cursor.remaining() / kMinKvBytes) {
    cursor.fail("header claims " + std::to_string(n_kv) + " KVs, but the file has room for at most " +
                std::to_string(cursor.remaining() / kMinKvBytes));
  }

  for (uint64_t i = 0; i < n_kv; ++i) {
    cursor.set_context("KV " + std::to_string(i));
    std::string key = cursor.read_string("key");
    if (key.empty()) cursor.fail("empty key");
    cursor.set_context(cursor.context() + " (" + printable(key) + ")");
    if (kv_index_.count(key)) cursor.fail("duplicate key");
    const GgufType type = read_value_type(cursor, "value type");
    GgufValue value = read_value(cursor, type);
    kv_index_.emplace(key, kvs_.size());
    kvs_.push_back({std::move(key), std::move(value)});
  }
  cursor.set_context("");

  if (const GgufValue* alignment_kv = find("general.alignment")) {
    const auto value = alignment_kv->as_uint();
    if (alignment_kv->type() != GgufType::kUint32 || !value) {
      throw Error(name_ + ": general.alignment must be a uint32, not " + gguf_type_name(alignment_kv->type()));
    }
    if (*value == 0 || (*value & (*value - 1)) != 0) {
      throw Error(name_ + ": general.alignment " + std::to_string(*value) + " is not a power of two");
    }
    alignment_ = *value;
  }
  if (const GgufValue* architecture_kv = find("general.architecture")) {
    const std::string* text = architecture_kv->as_string();
    if (text == nullptr) {
      throw Error(name_ + ": general.architecture must be a string, not " + gguf_type_name(architecture_kv->type()));
    }
    architecture_ = *text;
  }
  provenance_ = provenance_of_architecture(architecture_);

  if (n_tensors > cursor.remaining() / kMinTensorInfoBytes) {
    cursor.fail("header claims " + std::to_string(n_tensors) + " tensors, but the file has room for at most " +
                std::to_string(cursor.remaining() / kMinTensorInfoBytes) + " tensor infos");
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo tensor;
    tensor.index = i;
    cursor.set_context("tensor " + std::to_string(i));
    tensor.name = cursor.read_string("name");
    if (tensor.name.empty()) cursor.fail("empty name");
    cursor.set_context(cursor.context() + " (" + printable(tensor.name) + ")");
    if (tensor_index_.count(tensor.name)) cursor.fail("duplicate tensor name");
    tensor.n_dims = cursor.read<uint32_t>("dimension count");
    if (tensor.n_dims < 1 || tensor.n_dims > kGgufMaxDims) {
      cursor.fail(std::to_string(tensor.n_dims) + " dimensions (1 to 4 allowed)");
    }
    for (uint32_t d = 0; d < tensor.n_dims; ++d) tensor.ne[d] = cursor.read<int64_t>("dimension");
    const auto type_id = static_cast<int32_t>(cursor.read<uint32_t>("type"));
    tensor.type = find_type(type_id, provenance_);
    if (tensor.type == nullptr) cursor.fail(unsupported_type_reason(type_id, provenance_));
    tensor.offset = cursor.read<uint64_t>("offset");
    std::string why;
    const auto size = tensor_bytes(*tensor.type, tensor.ne, &why);
    if (!size) cursor.fail("shape " + tensor.shape_text() + ": " + why);
    tensor.size = *size;
    tensor_index_.emplace(tensor.name, tensors_.size());
    tensors_.push_back(std::move(tensor));
  }
  cursor.set_context("");

  header_size_ = cursor.position();
  const uint64_t padding = (alignment_ - header_size_ % alignment_) % alignment_;
  data_offset_ = header_size_ + padding;  // header_size_ <= size_, padding < 2^32: no overflow
  if (data_offset_ > size_) {
    throw Error(name_ + ": truncated file: the data section would start at byte " + std::to_string(data_offset_) +
                " (header end " + std::to_string(header_size_) + " padded to " + std::to_string(alignment_) +
                "), but the file has " + std::to_string(size_) + " bytes");
  }
  const uint64_t data_size = size_ - data_offset_;
  for (const GgufTensorInfo& tensor : tensors_) {
    const std::string what = "tensor " + printable(tensor.name);
    if (tensor.offset % alignment_ != 0) {
      throw Error(name_ + ": " + what + ": offset " + std::to_string(tensor.offset) +
                  " is not a multiple of the alignment " + std::to_string(alignment_));
    }
    if (tensor.offset > data_size || tensor.size > data_size - tensor.offset) {
      throw Error(name_ + ": " + what + " (" + tensor.type->name + ", " + tensor.shape_text() + ", " +
                  std::to_string(tensor.size) + " bytes at data offset " + std::to_string(tensor.offset) +
                  ") runs past the end of the file: the data section has " + std::to_string(data_size) +
                  " bytes (truncated file or a lying offset)");
    }
  }
  std::vector<std::size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [this](std::size_t a, std::size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (std::size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& before = tensors_[order[k - 1]];
    const GgufTensorInfo& after = tensors_[order[k]];
    if (before.size > 0 && after.size > 0 && before.offset + before.size > after.offset) {
      throw Error(name_ + ": tensors " + printable(before.name) + " (data bytes " + std::to_string(before.offset) +
                  ".." + std::to_string(before.offset + before.size) + ") and " + printable(after.name) +
                  " (from " + std::to_string(after.offset) + ") overlap");
    }
  }
}

}  // namespace bitnet_cli
