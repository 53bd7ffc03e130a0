#include "output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "errors.h"

namespace bitnet_cli {
namespace {

constexpr std::size_t kBufferSize = std::size_t{4} << 20;

// Named temporary files to unlink if a signal ends the process. The handler
// may only use async-signal-safe calls: fixed buffers, unlink, raise.
constexpr int kCleanupSlots = 4;
constexpr std::size_t kMaxPath = 4096;
char g_cleanup_paths[kCleanupSlots][kMaxPath];
std::atomic<bool> g_cleanup_used[kCleanupSlots];
std::once_flag g_handlers_installed;

extern "C" void remove_temporaries_and_reraise(int sig) {
  for (int i = 0; i < kCleanupSlots; ++i) {
    if (g_cleanup_used[i].load()) ::unlink(g_cleanup_paths[i]);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_handlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    struct sigaction action {};
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;  // e.g. nohup
    action.sa_handler = remove_temporaries_and_reraise;
    sigemptyset(&action.sa_mask);
    sigaction(sig, &action, nullptr);
  }
}

int register_cleanup(const std::string& path) {
  std::call_once(g_handlers_installed, install_handlers);
  if (path.size() >= kMaxPath) return -1;
  for (int i = 0; i < kCleanupSlots; ++i) {
    if (!g_cleanup_used[i].load()) {
      std::memcpy(g_cleanup_paths[i], path.c_str(), path.size() + 1);
      g_cleanup_used[i].store(true);
      return i;
    }
  }
  return -1;
}

void unregister_cleanup(int slot) {
  if (slot >= 0) g_cleanup_used[slot].store(false);
}

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A hidden name next to the target for a temporary file.
std::string temporary_name(const std::string& path) {
  const std::string directory = directory_of(path);
  const std::size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return directory + "/." + base + ".bitnet-quant-XXXXXX";
}

}  // namespace

OutputFile::OutputFile(std::string path, bool force)
    : path_(std::move(path)), directory_(directory_of(path_)), force_(force) {
  if (path_.empty()) throw UsageError("the output path is empty");
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw UsageError(path_ + " is a directory");
    if (!force_) throw UsageError(path_ + " exists; pass --force to replace it");
  }
  buffer_.reserve(kBufferSize);
  fd_ = ::open(directory_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd_ >= 0) return;
  // No O_TMPFILE here (old kernel, some network file systems): a named
  // temporary file, unlinked by the destructor or a signal handler.
  std::string name = temporary_name(path_);
  fd_ = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0) fail("cannot create a temporary file in " + directory_, errno);
  temp_path_ = name;
  cleanup_slot_ = register_cleanup(temp_path_);
  (void)::fchmod(fd_, 0644);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  unregister_cleanup(cleanup_slot_);
}

void OutputFile::fail(const std::string& what, int err) const {
  throw Error(system_error_message(path_ + ": " + what, err));
}

void OutputFile::reserve(uint64_t size) {
  const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(size));
  // Not every file system can allocate ahead; then a full disk shows later.
  if (err != 0 && err != EOPNOTSUPP && err != EINVAL) fail("cannot allocate " + std::to_string(size) + " bytes", err);
}

void OutputFile::write_fully(const void* data, std::size_t size, uint64_t offset) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    if (n == 0) fail("write made no progress", EIO);
    p += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<std::size_t>(n);
  }
}

void OutputFile::flush() {
  if (buffer_.empty()) return;
  write_fully(buffer_.data(), buffer_.size(), flushed_);
  flushed_ += buffer_.size();
  buffer_.clear();
}

void OutputFile::write(const void* data, std::size_t size) {
  if (buffer_.size() + size > kBufferSize) flush();
  if (size >= kBufferSize) {
    write_fully(data, size, flushed_);
    flushed_ += size;
  } else {
    const auto* p = static_cast<const uint8_t*>(data);
    buffer_.insert(buffer_.end(), p, p + size);
  }
  position_ += size;
}

void OutputFile::write_zeros(std::size_t size) {
  static const uint8_t kZeros[4096] = {};
  while (size > 0) {
    const std::size_t n = size < sizeof kZeros ? size : sizeof kZeros;
    write(kZeros, n);
    size -= n;
  }
}

void OutputFile::write_at(uint64_t offset, const void* data, std::size_t size) {
  if (offset + size > position_) throw Error("internal: write_at past the written end of " + path_);
  flush();
  write_fully(data, size, offset);
}

void OutputFile::commit() {
  flush();
  // Drop what reserve() allocated beyond the end (a shorter file than planned).
  if (::ftruncate(fd_, static_cast<off_t>(position_)) != 0) fail("cannot set the file size", errno);
  if (::fsync(fd_) != 0) fail("cannot flush to disk", errno);
  if (temp_path_.empty()) {
    const std::string proc_path = "/proc/self/fd/" + std::to_string(fd_);
    if (!force_) {
      // Fails with EEXIST if the target appeared meanwhile: never replaced.
      if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, path_.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        if (errno == EEXIST) throw UsageError(path_ + " exists; pass --force to replace it");
        fail("cannot create the file", errno);
      }
    } else {
      std::string name = temporary_name(path_);
      // A unique name: create and remove a file, then link to it (the name
      // is ours unless another process races for the same random suffix,
      // in which case linkat fails and nothing is replaced).
      const int probe = ::mkostemp(name.data(), O_CLOEXEC);
      if (probe < 0) fail("cannot create a temporary name in " + directory_, errno);
      ::close(probe);
      ::unlink(name.c_str());
      temp_path_ = name;
      cleanup_slot_ = register_cleanup(temp_path_);
      if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, temp_path_.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        const int err = errno;
        temp_path_.clear();
        fail("cannot link the temporary file in " + directory_, err);
      }
    }
  }
  if (!temp_path_.empty()) {
    if (!force_) {
      // link() refuses an existing target; rename() would replace it. A
      // file system without hard links gets a check, then rename().
      if (::link(temp_path_.c_str(), path_.c_str()) == 0) {
        ::unlink(temp_path_.c_str());
      } else {
        const int err = errno;
        if (err == EEXIST || exists(path_)) throw UsageError(path_ + " exists; pass --force to replace it");
        if (err != EPERM && err != EOPNOTSUPP) fail("cannot create the file", err);
        if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary file into place", errno);
      }
    } else if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
      fail("cannot rename the temporary file into place", errno);
    }
  }
  committed_ = true;
  const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);  // the new name on disk; best effort
    ::close(dir);
  }
}

}  // namespace bitnet_cli
