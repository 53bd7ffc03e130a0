#include "gguf_writer.h"

#include <unordered_set>

#include "byte_order.h"
#include "errors.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

uint64_t padded(uint64_t size, uint64_t alignment) { return (size + alignment - 1) / alignment * alignment; }

void append_string(std::vector<uint8_t>& out, const std::string& text) {
  append_le<uint64_t>(out, text.size());
  append_bytes(out, text.data(), text.size());
}

}  // namespace

GgufWriter::GgufWriter(std::vector<GgufKeyValue> kvs, std::vector<GgufTensorSpec> tensors)
    : tensors_(std::move(tensors)) {
  for (GgufKeyValue& kv : kvs) {
    if (kv.key == kChecksumKey || kv.key == kChecksumLayoutKey) continue;
    if (kv.key == "general.alignment") {
      const auto value = kv.value.as_uint();
      if (kv.value.type() != GgufType::kUint32 || !value || *value == 0 || (*value & (*value - 1)) != 0) {
        throw Error("general.alignment must be a uint32 power of two");
      }
      alignment_ = *value;
    }
    kvs_.push_back(std::move(kv));
  }

  std::unordered_set<std::string> names;
  std::vector<TensorLayoutEntry> layout;
  for (const GgufTensorSpec& t : tensors_) {
    if (!names.insert(t.name).second) throw Error("two output tensors are named " + printable(t.name));
    std::string why;
    const auto size = t.type == nullptr ? std::nullopt : tensor_bytes(*t.type, t.ne, &why);
    if (!size || *size != t.size || t.n_dims < 1 || t.n_dims > kGgufMaxDims) {
      throw Error("internal: output tensor " + printable(t.name) + " has an inconsistent type, shape or size " + why);
    }
    layout.push_back({&t.name, t.type->id, t.n_dims, t.ne});
  }
  checksums_.assign(tensors_.size(), 0);
  kvs_.push_back({kChecksumKey, GgufValue::u64_array(checksums_)});
  kvs_.push_back({kChecksumLayoutKey, GgufValue::u64(tensor_layout_digest(layout))});

  append_bytes(header_, "GGUF", 4);
  append_le<uint32_t>(header_, 3);
  append_le<uint64_t>(header_, tensors_.size());
  append_le<uint64_t>(header_, kvs_.size());
  for (const GgufKeyValue& kv : kvs_) {
    append_string(header_, kv.key);
    append_le<uint32_t>(header_, static_cast<uint32_t>(kv.value.type()));
    if (kv.key == kChecksumKey) checksums_offset_ = header_.size() + 4 + 8;  // after element type and count
    kv.value.append_encoded(header_);
  }
  uint64_t offset = 0;
  for (const GgufTensorSpec& t : tensors_) {
    append_string(header_, t.name);
    append_le<uint32_t>(header_, t.n_dims);
    for (uint32_t d = 0; d < t.n_dims; ++d) append_le<int64_t>(header_, t.ne[d]);
    append_le<uint32_t>(header_, static_cast<uint32_t>(t.type->id));
    append_le<uint64_t>(header_, offset);
    offsets_.push_back(offset);
    offset += padded(t.size, alignment_);
  }
  data_offset_ = padded(header_.size(), alignment_);
  file_size_ = data_offset_ + offset;
}

void GgufWriter::begin(OutputFile& out) {
  out_ = &out;
  out.reserve(file_size_);
  out.write(header_.data(), header_.size());
  out.write_zeros(data_offset_ - header_.size());
  header_.clear();
  header_.shrink_to_fit();
  hash_.reset();
  close_finished_tensors();
}

void GgufWriter::close_finished_tensors() {
  while (current_ < tensors_.size() && written_in_current_ == tensors_[current_].size) {
    const GgufTensorSpec& t = tensors_[current_];
    checksums_[current_] = hash_.digest();
    out_->write_zeros(padded(t.size, alignment_) - t.size);
    hash_.reset();
    written_in_current_ = 0;
    ++current_;
  }
}

void GgufWriter::write(const void* data, std::size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    if (current_ >= tensors_.size()) throw Error("internal: more tensor data than the header announced");
    const uint64_t left = tensors_[current_].size - written_in_current_;
    const std::size_t take = size < left ? size : static_cast<std::size_t>(left);
    out_->write(p, take);
    hash_.update(p, take);
    written_in_current_ += take;
    p += take;
    size -= take;
    close_finished_tensors();
  }
}

void GgufWriter::finish() {
  if (current_ != tensors_.size()) {
    throw Error("internal: tensor " + printable(tensors_[current_].name) + " is incomplete");
  }
  if (out_->position() != file_size_) throw Error("internal: the output size differs from the planned size");
  std::vector<uint8_t> checksums;
  for (uint64_t c : checksums_) append_le(checksums, c);
  out_->write_at(checksums_offset_, checksums.data(), checksums.size());
  out_->commit();
}

}  // namespace bitnet_cli
