// Safetensors reader for Hugging Face checkpoints: one file, or shards
// listed by model.safetensors.index.json. The header JSON is parsed with
// nlohmann-json (which rejects invalid UTF-8); duplicate keys, unknown
// dtypes, shapes that disagree with the byte ranges, and byte ranges that
// leave the buffer, overlap or leave holes (the safetensors library's own
// rule) are Errors naming the file and the tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mapped_file.h"

namespace bitnet_cli {

enum class SafetensorsDtype { kBool, kU8, kI8, kU16, kI16, kF16, kBF16, kU32, kI32, kF32, kU64, kI64, kF64, kF8E4M3, kF8E5M2 };

const char* safetensors_dtype_name(SafetensorsDtype dtype);
uint64_t safetensors_dtype_size(SafetensorsDtype dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;  // outermost first, as torch prints it
  uint64_t offset = 0;         // from the start of the file
  uint64_t size = 0;           // bytes
  const uint8_t* data = nullptr;
  const MappedFile* file = nullptr;  // for paging hints; null for parsed buffers

  int64_t elements() const;
  std::string shape_text() const;  // "[2560, 6912]"
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  // Parses bytes the caller keeps alive for the object's lifetime.
  static SafetensorsFile parse(const uint8_t* data, uint64_t size, std::string name);

  const std::string& name() const { return name_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // in file order
  const SafetensorsTensor* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  void parse_all();

  std::shared_ptr<MappedFile> mapping_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string name_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// The shard file of each tensor, from a model.safetensors.index.json.
// Shard names must be plain file names in the checkpoint's directory.
std::map<std::string, std::string> parse_safetensors_index(const std::string& json_text, const std::string& name);

// All tensors of a checkpoint: DIR/model.safetensors, or the shards of
// DIR/model.safetensors.index.json, or one .safetensors file.
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open(const std::string& path);

  const SafetensorsTensor* find(const std::string& name) const;
  std::vector<const SafetensorsTensor*> tensors() const;  // sorted by name
  const std::string& description() const { return description_; }

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, const SafetensorsTensor*> by_name_;
  std::string description_;
};

}  // namespace bitnet_cli
