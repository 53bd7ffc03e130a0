#include "checksum.h"

#include <xxhash.h>

#include <new>

#include "byte_order.h"

namespace bitnet_cli {

uint64_t xxh64(const void* data, std::size_t size) { return XXH64(data, size, 0); }

struct StreamingXxh64::State {
  XXH64_state_t* xxh = XXH64_createState();
  ~State() { XXH64_freeState(xxh); }
};

StreamingXxh64::StreamingXxh64() : state_(new State) {
  if (state_->xxh == nullptr) throw std::bad_alloc();
  reset();
}
StreamingXxh64::~StreamingXxh64() = default;
void StreamingXxh64::reset() { XXH64_reset(state_->xxh, 0); }
void StreamingXxh64::update(const void* data, std::size_t size) { XXH64_update(state_->xxh, data, size); }
uint64_t StreamingXxh64::digest() const { return XXH64_digest(state_->xxh); }

uint64_t tensor_layout_digest(const std::vector<TensorLayoutEntry>& tensors) {
  std::vector<uint8_t> bytes;
  for (const TensorLayoutEntry& t : tensors) {
    append_bytes(bytes, t.name->data(), t.name->size());
    bytes.push_back(0);
    append_le<int32_t>(bytes, t.type_id);
    append_le<uint32_t>(bytes, t.n_dims);
    for (uint32_t d = 0; d < t.n_dims; ++d) append_le<int64_t>(bytes, t.ne[d]);
  }
  return xxh64(bytes.data(), bytes.size());
}

}  // namespace bitnet_cli
