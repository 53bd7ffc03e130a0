// An output file that appears complete or not at all. Data goes to an
// unnamed file (O_TMPFILE) in the target directory, or where the file
// system has none to a hidden temporary file there; commit() gives it its
// name in one step. Until then the target is untouched: an error, a
// signal, a full disk or even SIGKILL leaves neither a half-written target
// nor (with O_TMPFILE) a temporary file. Without --force an existing target
// is refused, both when opening and when committing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitnet_cli {

class OutputFile {
 public:
  OutputFile(std::string path, bool force);
  ~OutputFile();  // not committed: the temporary file disappears
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Allocates the final size up front, so that a full disk shows now.
  void reserve(uint64_t size);
  void write(const void* data, std::size_t size);  // sequential, buffered
  void write_zeros(std::size_t size);
  void write_at(uint64_t offset, const void* data, std::size_t size);  // rewrite written bytes
  uint64_t position() const { return position_; }
  void commit();
  const std::string& path() const { return path_; }

 private:
  void flush();
  void write_fully(const void* data, std::size_t size, uint64_t offset);
  [[noreturn]] void fail(const std::string& what, int err) const;

  std::string path_;
  std::string directory_;
  bool force_;
  int fd_ = -1;
  std::string temp_path_;  // named temporary file, if O_TMPFILE was not available
  int cleanup_slot_ = -1;
  bool committed_ = false;
  uint64_t position_ = 0;     // bytes written (including the buffer)
  uint64_t flushed_ = 0;      // bytes on disk
  std::vector<uint8_t> buffer_;
};

}  // namespace bitnet_cli
