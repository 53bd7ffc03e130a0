// libFuzzer harness for the GGUF reader: any input either parses or gives
// bitnet_cli::Error; a parsed file's tensors lie inside the input (every
// byte of every tensor is read by the statistics and the checksum, so
// ASan sees any range the reader got wrong) and its KVs re-encode to the
// sizes they claim.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "checksum.h"
#include "errors.h"
#include "gguf_reader.h"
#include "ternary_stats.h"

using namespace bitnet_cli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so that ASan flags a read one past it.
  const std::vector<uint8_t> input(data, data + size);
  try {
    const GgufFile file = GgufFile::parse(input.data(), input.size(), "fuzz.gguf");
    if (file.data_offset() > size || file.data_offset() % file.alignment() != 0) std::abort();
    for (const GgufKeyValue& kv : file.kvs()) {
      std::vector<uint8_t> encoded;
      kv.value.append_encoded(encoded);
      if (encoded.size() != kv.value.encoded_size()) std::abort();
      (void)kv.value.to_text(4);
      (void)kv.value.to_json(4).dump();
    }
    for (const GgufTensorInfo& t : file.tensors()) {
      if (file.tensor_file_offset(t) + t.size > size) std::abort();
      (void)tensor_stats(*t.type, file.tensor_data(t), t.size, t.ne);
      (void)xxh64(file.tensor_data(t), t.size);
    }
  } catch (const Error&) {
    // A clear rejection is the expected outcome for most inputs.
  }
  return 0;
}
