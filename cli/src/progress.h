// Progress on stderr: on a terminal one line redrawn in place (item, share
// done, MB/s, ETA); when stderr is not a terminal, a plain line per item
// (if the command wants them) and a summary; nothing with --quiet.
// Thread-safe: workers of -j N report concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace bitnet_cli {

class Progress {
 public:
  enum class Mode { kQuiet, kTerminal, kLines };
  // plain_lines: whether stderr gets a line per item and a summary when it
  // is not a terminal (the writing commands), or nothing (inspect, verify).
  Progress(std::string verb, uint64_t total_bytes, std::size_t total_items, bool quiet, bool plain_lines);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Item `index` (0-based) is done; detail follows its name on a plain line.
  void item_done(std::size_t index, const std::string& name, const std::string& detail);
  // Bytes of the current items done so far (for the bar between items).
  void advance(uint64_t bytes);
  // The closing line ("quantized 332 tensors, 1.2 GB in 0.8 s, 1500 MB/s").
  void finish(const std::string& summary);

  Mode mode() const { return mode_; }
  double seconds() const;

 private:
  void draw();

  std::string verb_;
  uint64_t total_bytes_;
  std::size_t total_items_;
  Mode mode_;
  std::mutex mutex_;
  uint64_t done_bytes_ = 0;
  std::size_t done_items_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
  std::string last_name_;
};

std::string format_bytes(uint64_t bytes);  // "4.4 MB", "1.18 GB" (decimal units)

}  // namespace bitnet_cli
