// Helpers shared by the tool's C++ tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitnet_cli::testing {

// A fresh empty directory under $TMPDIR (or /tmp), removed with its
// contents by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> entries() const;  // names in the directory, sorted

 private:
  std::string path_;
};

std::vector<uint8_t> read_file(const std::string& path);

}  // namespace bitnet_cli::testing
