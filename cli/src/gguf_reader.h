// GGUF v3 reader over a read-only mapping. Every count, length, size and
// offset is checked against the bytes actually there before it is used;
// anything a well-formed file cannot contain is an Error whose message
// names the file, the item (KV key, tensor name, index) and the offset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ggml_types.h"
#include "gguf_value.h"
#include "mapped_file.h"

namespace bitnet_cli {

constexpr uint64_t kGgufDefaultAlignment = 32;
constexpr int kGgufMaxDims = 4;

struct GgufTensorInfo {
  std::string name;
  const TypeInfo* type = nullptr;  // never null in a parsed file
  uint32_t n_dims = 0;
  int64_t ne[kGgufMaxDims] = {1, 1, 1, 1};  // ggml order: ne[0] is the row length
  uint64_t offset = 0;  // from the start of the data section, as stored
  uint64_t size = 0;    // bytes, by the type's size rule
  uint64_t index = 0;   // position in the file's tensor-info list

  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t cols() const { return ne[0]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_text() const;  // "2560 x 6912" (ne order)
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path);
  static GgufFile parse(const std::shared_ptr<MappedFile>& mapping);
  // Parses bytes the caller keeps alive for the object's lifetime.
  static GgufFile parse(const uint8_t* data, uint64_t size, std::string name);

  const std::string& name() const { return name_; }
  uint64_t file_size() const { return size_; }
  const std::vector<GgufKeyValue>& kvs() const { return kvs_; }
  const GgufValue* find(std::string_view key) const;
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

  uint64_t alignment() const { return alignment_; }
  uint64_t header_size() const { return header_size_; }  // end of the tensor infos
  uint64_t data_offset() const { return data_offset_; }  // start of the data section
  const std::string& architecture() const { return architecture_; }  // "" if absent
  Provenance provenance() const { return provenance_; }

  const uint8_t* tensor_data(const GgufTensorInfo& tensor) const {
    return data_ + data_offset_ + tensor.offset;
  }
  uint64_t tensor_file_offset(const GgufTensorInfo& tensor) const {
    return data_offset_ + tensor.offset;
  }
  // The mapping of a file opened with open(), else nullptr.
  const MappedFile* mapping() const { return mapping_.get(); }

 private:
  GgufFile() = default;
  void parse_all();

  std::shared_ptr<MappedFile> mapping_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string name_;
  std::vector<GgufKeyValue> kvs_;
  std::unordered_map<std::string, std::size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, std::size_t> tensor_index_;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t header_size_ = 0;
  uint64_t data_offset_ = 0;
  std::string architecture_;
  Provenance provenance_ = Provenance::kMainline;
};

}  // namespace bitnet_cli
