// libFuzzer harness for the safetensors reader and the shard index parser:
// any input either parses or gives bitnet_cli::Error; a parsed file's
// tensors tile its data buffer exactly and every byte of them is read.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "safetensors.h"

using namespace bitnet_cli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> input(data, data + size);
  try {
    const SafetensorsFile file = SafetensorsFile::parse(input.data(), input.size(), "fuzz.safetensors");
    uint64_t header = 0;
    std::memcpy(&header, input.data(), sizeof header);  // parsed, so at least 8 bytes
    uint64_t covered = 0;
    unsigned sum = 0;
    for (const SafetensorsTensor& t : file.tensors()) {
      if (t.offset < 8 + header || t.offset + t.size > size) std::abort();
      for (uint64_t i = 0; i < t.size; ++i) sum += t.data[i];
      covered += t.size;
      (void)t.shape_text();
    }
    if (covered != size - 8 - header) std::abort();  // the ranges tile the buffer
    (void)sum;
  } catch (const Error&) {
  }
  try {
    (void)parse_safetensors_index(std::string(input.begin(), input.end()), "fuzz.index.json");
  } catch (const Error&) {
  }
  return 0;
}
