// A whole file mapped read-only. Inputs are read through this: the tool
// touches each tensor once and hands its pages back afterwards (release),
// so its resident memory stays around one tensor whatever the file size.
#pragma once

#include <cstdint>
#include <string>

namespace bitnet_cli {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Hints: the range will be read soon / is no longer needed (its pages
  // leave this process's resident set; the page cache keeps them).
  void will_need(uint64_t offset, uint64_t length) const;
  void release(uint64_t offset, uint64_t length) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace bitnet_cli
