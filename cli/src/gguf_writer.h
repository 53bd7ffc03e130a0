// GGUF v3 writer. Every size is known from the shapes, so the header goes
// first; tensor data then streams in tensor-info order (in chunks if the
// caller likes), each tensor padded to the alignment, its XXH64 computed
// on the way and patched into the checksums KV at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checksum.h"
#include "ggml_types.h"
#include "gguf_reader.h"
#include "gguf_value.h"
#include "output_file.h"

namespace bitnet_cli {

struct GgufTensorSpec {
  std::string name;
  const TypeInfo* type = nullptr;
  uint32_t n_dims = 0;
  int64_t ne[kGgufMaxDims] = {1, 1, 1, 1};
  uint64_t size = 0;  // bytes, by the type's size rule (checked)
};

class GgufWriter {
 public:
  // kvs: written in this order, except that earlier checksum KVs are
  // dropped and fresh ones appended; general.alignment, if present, sets
  // the alignment (a uint32 power of two).
  GgufWriter(std::vector<GgufKeyValue> kvs, std::vector<GgufTensorSpec> tensors);

  const std::vector<GgufTensorSpec>& tensors() const { return tensors_; }
  uint64_t file_size() const { return file_size_; }

  // Writes the header into `out` (which must outlive the writer's use).
  void begin(OutputFile& out);
  // The next bytes of the current tensor (tensors in order).
  void write(const void* data, std::size_t size);
  // Index of the tensor the next write() belongs to (== count when done).
  std::size_t current_tensor() const { return current_; }
  // Checks that every tensor is complete, patches the checksums, commits.
  void finish();

 private:
  void close_finished_tensors();

  std::vector<GgufKeyValue> kvs_;
  std::vector<GgufTensorSpec> tensors_;
  uint64_t alignment_ = kGgufDefaultAlignment;
  std::vector<uint64_t> offsets_;  // relative to the data section
  uint64_t data_offset_ = 0;
  uint64_t checksums_offset_ = 0;  // absolute offset of the checksum array's elements
  uint64_t file_size_ = 0;
  std::vector<uint8_t> header_;

  OutputFile* out_ = nullptr;
  std::size_t current_ = 0;
  uint64_t written_in_current_ = 0;
  StreamingXxh64 hash_;
  std::vector<uint64_t> checksums_;
};

}  // namespace bitnet_cli
