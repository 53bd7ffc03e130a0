#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace bitnet_cli {

std::string format_bytes(uint64_t bytes) {
  char text[32];
  const auto b = static_cast<double>(bytes);
  if (bytes < 1000) {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1000000u) {
    std::snprintf(text, sizeof text, "%.1f kB", b / 1e3);
  } else if (bytes < 1000000000u) {
    std::snprintf(text, sizeof text, "%.1f MB", b / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.2f GB", b / 1e9);
  }
  return text;
}

Progress::Progress(std::string verb, uint64_t total_bytes, std::size_t total_items, bool quiet, bool plain_lines)
    : verb_(std::move(verb)),
      total_bytes_(total_bytes),
      total_items_(total_items),
      mode_(quiet                   ? Mode::kQuiet
            : ::isatty(STDERR_FILENO) ? Mode::kTerminal
            : plain_lines             ? Mode::kLines
                                      : Mode::kQuiet),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (mode_ == Mode::kTerminal && drawn_) std::fputs("\r\033[K", stderr);  // an error message follows
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::draw() {
  const double elapsed = seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done_bytes_) / elapsed : 0;
  const double share = total_bytes_ > 0 ? static_cast<double>(done_bytes_) / static_cast<double>(total_bytes_) : 1;
  char eta[32] = "--:--";
  if (rate > 0 && done_bytes_ < total_bytes_) {
    const auto left = static_cast<long>(static_cast<double>(total_bytes_ - done_bytes_) / rate);
    std::snprintf(eta, sizeof eta, "%ld:%02ld", left / 60, left % 60);
  }
  char line[512];
  std::snprintf(line, sizeof line, "%s [%zu/%zu] %5.1f%% %8.1f MB/s ETA %s  %s", verb_.c_str(), done_items_,
                total_items_, 100.0 * share, rate / 1e6, eta, last_name_.c_str());
  winsize ws{};
  std::size_t width = ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
  std::string text(line);
  if (text.size() >= width) text.resize(width - 1);
  std::fprintf(stderr, "\r%s\033[K", text.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::item_done(std::size_t index, const std::string& name, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++done_items_;
  last_name_ = name;
  switch (mode_) {
    case Mode::kTerminal: {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_draw_ > std::chrono::milliseconds(100) || done_items_ == total_items_) {
        last_draw_ = now;
        draw();
      }
      break;
    }
    case Mode::kLines:
      std::fprintf(stderr, "[%zu/%zu] %s %s\n", index + 1, total_items_, name.c_str(), detail.c_str());
      break;
    case Mode::kQuiet:
      break;
  }
}

void Progress::advance(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_bytes_ += bytes;
  if (mode_ == Mode::kTerminal) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ > std::chrono::milliseconds(100)) {
      last_draw_ = now;
      draw();
    }
  }
}

void Progress::finish(const std::string& summary) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (mode_ == Mode::kQuiet) return;
  if (mode_ == Mode::kTerminal && drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
  const double elapsed = seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done_bytes_) / elapsed / 1e6 : 0;
  std::fprintf(stderr, "%s: %s in %.2f s (%.1f MB/s)\n", verb_.c_str(), summary.c_str(), elapsed, rate);
}

}  // namespace bitnet_cli
