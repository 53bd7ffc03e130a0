#include "safetensors_writer.h"

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "byte_order.h"

namespace bitnet_cli::synth {

std::vector<uint8_t> encode_safetensors(const std::vector<SafetensorsEntry>& tensors,
                                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafetensorsEntry& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<uint8_t> out;
  append_le<uint64_t>(out, text.size());
  append_bytes(out, text.data(), text.size());
  for (const SafetensorsEntry& t : tensors) append_bytes(out, t.data.data(), t.data.size());
  return out;
}

void write_binary_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace bitnet_cli::synth
