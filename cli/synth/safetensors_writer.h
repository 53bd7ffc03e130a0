// Writes safetensors files (the synthetic HF checkpoints of the tests).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bitnet_cli::synth {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // "F32", "BF16", "U8", ...
  std::vector<int64_t> shape;  // outermost first
  std::vector<uint8_t> data;
};

// Header JSON (padded with spaces to a multiple of 8, as the safetensors
// library does), then the tensors' bytes in the order given.
std::vector<uint8_t> encode_safetensors(const std::vector<SafetensorsEntry>& tensors,
                                        const std::map<std::string, std::string>& metadata = {});
void write_binary_file(const std::string& path, const std::vector<uint8_t>& bytes);
void write_text_file(const std::string& path, const std::string& text);

}  // namespace bitnet_cli::synth
