#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "errors.h"

namespace bitnet_cli {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(system_error_message("cannot open " + path, errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(system_error_message("cannot stat " + path, err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(system_error_message("cannot map " + path, err));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

namespace {

void advise(const uint8_t* base, uint64_t size, uint64_t offset, uint64_t length, int advice) {
  if (base == nullptr || offset >= size) return;
  if (length > size - offset) length = size - offset;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  // Advice only: a failure changes nothing the tool relies on.
  (void)::madvise(const_cast<uint8_t*>(base) + start, offset + length - start, advice);
}

}  // namespace

void MappedFile::will_need(uint64_t offset, uint64_t length) const {
  advise(data_, size_, offset, length, MADV_WILLNEED);
}

void MappedFile::release(uint64_t offset, uint64_t length) const {
  advise(data_, size_, offset, length, MADV_DONTNEED);
}

}  // namespace bitnet_cli
