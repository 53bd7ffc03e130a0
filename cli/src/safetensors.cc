#include "safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "byte_order.h"
#include "errors.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

// The safetensors library refuses headers above 100 MB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeEntry {
  SafetensorsDtype dtype;
  const char* name;
  uint64_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {SafetensorsDtype::kBool, "BOOL", 1},      {SafetensorsDtype::kU8, "U8", 1},
    {SafetensorsDtype::kI8, "I8", 1},          {SafetensorsDtype::kU16, "U16", 2},
    {SafetensorsDtype::kI16, "I16", 2},        {SafetensorsDtype::kF16, "F16", 2},
    {SafetensorsDtype::kBF16, "BF16", 2},      {SafetensorsDtype::kU32, "U32", 4},
    {SafetensorsDtype::kI32, "I32", 4},        {SafetensorsDtype::kF32, "F32", 4},
    {SafetensorsDtype::kU64, "U64", 8},        {SafetensorsDtype::kI64, "I64", 8},
    {SafetensorsDtype::kF64, "F64", 8},        {SafetensorsDtype::kF8E4M3, "F8_E4M3", 1},
    {SafetensorsDtype::kF8E5M2, "F8_E5M2", 1},
};

const DtypeEntry& entry(SafetensorsDtype dtype) {
  for (const DtypeEntry& e : kDtypes) {
    if (e.dtype == dtype) return e;
  }
  return kDtypes[0];  // unreachable: every enumerator is in the table
}

// nlohmann::json::parse with duplicate keys as an error (the default keeps
// the last value silently, which would hide a second tensor of one name).
nlohmann::json parse_json(const std::string& text, const std::string& name) {
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  const auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    switch (event) {
      case nlohmann::json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case nlohmann::json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case nlohmann::json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text, callback);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e999
    throw Error(name + ": invalid JSON: " + printable(e.what(), 300));
  }
  if (!duplicate.empty()) throw Error(name + ": duplicate JSON key " + printable(duplicate));
  return json;
}

uint64_t json_uint(const nlohmann::json& value, const std::string& what) {
  if (!value.is_number_unsigned()) {
    throw Error(what + " must be a non-negative integer, not a " + value.type_name() + " value");
  }
  return value.get<uint64_t>();
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string in_directory(const std::string& directory, const std::string& name) { return directory + "/" + name; }

[[noreturn]] void missing_from_shard(const std::string& path, const std::string& tensor, const std::string& shard) {
  throw Error(path + ": the index lists " + printable(tensor) + " in " + shard + ", which does not hold it");
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

const char* safetensors_dtype_name(SafetensorsDtype dtype) { return entry(dtype).name; }
uint64_t safetensors_dtype_size(SafetensorsDtype dtype) { return entry(dtype).size; }

int64_t SafetensorsTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string SafetensorsTensor::shape_text() const {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto mapping = std::make_shared<MappedFile>(path);
  SafetensorsFile file;
  file.mapping_ = mapping;
  file.data_ = mapping->data();
  file.size_ = mapping->size();
  file.name_ = path;
  file.parse_all();
  return file;
}

SafetensorsFile SafetensorsFile::parse(const uint8_t* data, uint64_t size, std::string name) {
  SafetensorsFile file;
  file.data_ = data;
  file.size_ = size;
  file.name_ = std::move(name);
  file.parse_all();
  return file;
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::parse_all() {
  if (size_ < 8) throw Error(name_ + ": not a safetensors file: only " + std::to_string(size_) + " bytes");
  if (std::equal(data_, data_ + 4, "GGUF")) {
    throw Error(name_ + ": not a safetensors file (it is a GGUF file)");
  }
  const auto header_size = load_le<uint64_t>(data_);
  if (header_size > size_ - 8) {
    throw Error(name_ + ": the header claims " + std::to_string(header_size) + " bytes, but only " +
                std::to_string(size_ - 8) + " follow (truncated file, or not a safetensors file)");
  }
  if (header_size > kMaxHeaderBytes) {
    throw Error(name_ + ": header of " + std::to_string(header_size) + " bytes exceeds the 100 MB limit");
  }
  if (header_size < 2 || data_[8] != '{') throw Error(name_ + ": the header is not a JSON object");
  const std::string text(reinterpret_cast<const char*>(data_ + 8), header_size);
  const nlohmann::json header = parse_json(text, name_ + " header");
  if (!header.is_object()) throw Error(name_ + ": the header is not a JSON object");

  const uint64_t data_start = 8 + header_size;
  const uint64_t buffer_size = size_ - data_start;
  for (const auto& [key, value] : header.items()) {
    const std::string what = name_ + ": tensor " + printable(key);
    if (key == "__metadata__") {
      if (!value.is_object()) throw Error(name_ + ": __metadata__ is not an object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) {
          throw Error(name_ + ": __metadata__ value of " + printable(meta_key) + " is not a string");
        }
        metadata_[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) throw Error(what + ": entry is not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!value.contains(field)) throw Error(what + ": no \"" + field + "\"");
    }
    SafetensorsTensor tensor;
    tensor.name = key;
    tensor.file = mapping_.get();
    const nlohmann::json& dtype = value["dtype"];
    if (!dtype.is_string()) throw Error(what + ": dtype is a " + dtype.type_name() + ", not a string");
    const std::string dtype_name = dtype.get<std::string>();
    const DtypeEntry* found = nullptr;
    for (const DtypeEntry& e : kDtypes) {
      if (dtype_name == e.name) found = &e;
    }
    if (found == nullptr) throw Error(what + ": unknown dtype " + printable(dtype_name));
    tensor.dtype = found->dtype;

    const nlohmann::json& shape = value["shape"];
    if (!shape.is_array()) throw Error(what + ": shape is not an array");
    uint64_t elements = 1;
    for (const nlohmann::json& d : shape) {
      const uint64_t n = json_uint(d, what + ": shape entry");
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (n != 0 && elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / n)) {
        throw Error(what + ": the element count of its shape overflows 63 bits");
      }
      elements *= n;
      tensor.shape.push_back(static_cast<int64_t>(n));
    }
    const nlohmann::json& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2) throw Error(what + ": data_offsets is not [begin, end]");
    const uint64_t begin = json_uint(offsets[0], what + ": data_offsets begin");
    const uint64_t end = json_uint(offsets[1], what + ": data_offsets end");
    if (begin > end || end > buffer_size) {
      throw Error(what + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] do not lie within the " + std::to_string(buffer_size) + "-byte data buffer");
    }
    const uint64_t element_size = found->size;
    if (elements > std::numeric_limits<uint64_t>::max() / element_size || elements * element_size != end - begin) {
      throw Error(what + ": shape " + tensor.shape_text() + " of " + found->name + " needs " +
                  std::to_string(elements) + " x " + std::to_string(element_size) + " bytes, but data_offsets span " +
                  std::to_string(end - begin));
    }
    tensor.offset = data_start + begin;
    tensor.size = end - begin;
    tensor.data = data_ + tensor.offset;
    index_[key] = tensors_.size();
    tensors_.push_back(std::move(tensor));
  }

  // Like the safetensors library: the ranges tile the buffer exactly.
  std::vector<const SafetensorsTensor*> order;
  for (const SafetensorsTensor& t : tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const SafetensorsTensor* a, const SafetensorsTensor* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->size < b->size;
  });
  uint64_t expected = data_start;
  for (const SafetensorsTensor* t : order) {
    if (t->offset != expected) {
      throw Error(name_ + ": tensor " + printable(t->name) + " starts at data offset " +
                  std::to_string(t->offset - data_start) + ", where " + std::to_string(expected - data_start) +
                  " was expected (overlapping tensors or a hole)");
    }
    expected += t->size;
  }
  if (expected != size_) {
    throw Error(name_ + ": the tensors cover " + std::to_string(expected - data_start) + " of the " +
                std::to_string(buffer_size) + " data bytes");
  }
}

std::map<std::string, std::string> parse_safetensors_index(const std::string& json_text, const std::string& name) {
  const nlohmann::json index = parse_json(json_text, name);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw Error(name + ": no \"weight_map\" object");
  }
  std::map<std::string, std::string> shards;
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) throw Error(name + ": the shard of " + printable(tensor) + " is not a string");
    const std::string file = shard.get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      throw Error(name + ": shard " + printable(file) + " of " + printable(tensor) +
                  " is not a plain file name in the checkpoint directory");
    }
    shards[tensor] = file;
  }
  return shards;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  SafetensorsCheckpoint checkpoint;
  std::map<std::string, std::string> shard_of;  // tensor -> shard file; empty: one file
  std::vector<std::string> files;
  if (is_directory(path)) {
    const std::string index_path = path + "/model.safetensors.index.json";
    if (is_file(index_path)) {
      std::ifstream in(index_path, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) throw Error("cannot read " + index_path);
      shard_of = parse_safetensors_index(text.str(), index_path);
      std::set<std::string> unique;
      for (const auto& [tensor, shard] : shard_of) unique.insert(shard);
      for (const std::string& shard : unique) files.push_back(in_directory(path, shard));
      checkpoint.description_ = index_path + " (" + std::to_string(files.size()) + " shards)";
    } else if (is_file(path + "/model.safetensors")) {
      files.push_back(path + "/model.safetensors");
      checkpoint.description_ = files.back();
    } else {
      throw Error(path + ": neither model.safetensors nor model.safetensors.index.json is there");
    }
  } else {
    files.push_back(path);
    checkpoint.description_ = path;
  }
  checkpoint.files_.reserve(files.size());
  for (const std::string& file : files) checkpoint.files_.push_back(SafetensorsFile::open(file));

  for (const SafetensorsFile& file : checkpoint.files_) {
    const std::size_t slash = file.name().rfind('/');
    const std::string base = slash == std::string::npos ? file.name() : file.name().substr(slash + 1);
    for (const SafetensorsTensor& t : file.tensors()) {
      if (!shard_of.empty()) {
        const auto it = shard_of.find(t.name);
        if (it == shard_of.end() || it->second != base) {
          throw Error(file.name() + ": tensor " + printable(t.name) + " is not listed for this shard in the index");
        }
      }
      if (!checkpoint.by_name_.emplace(t.name, &t).second) {
        throw Error(file.name() + ": tensor " + printable(t.name) + " is in more than one shard");
      }
    }
  }
  for (const auto& [tensor, shard] : shard_of) {
    if (!checkpoint.by_name_.count(tensor)) missing_from_shard(path, tensor, shard);
  }
  return checkpoint;
}

const SafetensorsTensor* SafetensorsCheckpoint::find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<const SafetensorsTensor*> SafetensorsCheckpoint::tensors() const {
  std::vector<const SafetensorsTensor*> all;
  for (const auto& [name, tensor] : by_name_) all.push_back(tensor);
  return all;
}

}  // namespace bitnet_cli
