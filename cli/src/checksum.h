// The per-tensor checksums this tool records in every file it writes, and
// `verify` checks:
//   bitnet_quant.tensor_xxh64         array of uint64, one per tensor in
//                                     tensor-info order: XXH64 (seed 0) of
//                                     the tensor's data bytes (its size, no
//                                     padding)
//   bitnet_quant.tensor_layout_xxh64  uint64: XXH64 (seed 0) of, for each
//                                     tensor in order, its name, a 0 byte,
//                                     its type id (int32), dimension count
//                                     (uint32) and dimensions (int64 each),
//                                     all little-endian
// The layout digest tells a file rewritten by another tool that copied the
// KVs (llama-quantize does) from a damaged one. XXH64 comes from Debian's
// libxxhash.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bitnet_cli {

constexpr char kChecksumKey[] = "bitnet_quant.tensor_xxh64";
constexpr char kChecksumLayoutKey[] = "bitnet_quant.tensor_layout_xxh64";

uint64_t xxh64(const void* data, std::size_t size);

class StreamingXxh64 {
 public:
  StreamingXxh64();
  ~StreamingXxh64();
  StreamingXxh64(const StreamingXxh64&) = delete;
  StreamingXxh64& operator=(const StreamingXxh64&) = delete;
  void reset();
  void update(const void* data, std::size_t size);
  uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct TensorLayoutEntry {
  const std::string* name;
  int32_t type_id;
  uint32_t n_dims;
  const int64_t* ne;
};
uint64_t tensor_layout_digest(const std::vector<TensorLayoutEntry>& tensors);

}  // namespace bitnet_cli
