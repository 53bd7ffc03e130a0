// What the turns tools share (gemm_turns, tensor_turns): two builds of the
// library loaded into one process with dlopen, each call timed, the two
// builds called in turns (kCalls calls of one, then of the other, kTurns
// times over), and the median per call of each. Where a machine's
// bandwidth drifts between runs by more than a change moves a kernel,
// separate benchmark runs cannot tell two builds apart; turns of a second
// each can.
#ifndef BITNET_BENCH_TURNS_H_
#define BITNET_BENCH_TURNS_H_

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bitnet_quant.h"

namespace turns {

// The entry points the tools call, from one library.
struct Library {
  const char* path = nullptr;
  decltype(&bitnet_gemm) gemm = nullptr;
  decltype(&bitnet_tensor_size) tensor_size = nullptr;
  decltype(&bitnet_tensor_quantize) tensor_quantize = nullptr;
  decltype(&bitnet_tensor_dequantize) tensor_dequantize = nullptr;
  decltype(&bitnet_tensor_transcode) tensor_transcode = nullptr;
  decltype(&bitnet_last_error) last_error = nullptr;
};

template <class Fn>
bool Resolve(const char* tool, void* handle, const char* name, Fn* fn) {
  *fn = reinterpret_cast<Fn>(dlsym(handle, name));
  if (*fn == nullptr) std::fprintf(stderr, "%s: no %s: %s\n", tool, name, dlerror());
  return *fn != nullptr;
}

inline bool Open(const char* tool, const char* path, Library* lib) {
  // RTLD_LOCAL: each library's symbols stay its own.
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::fprintf(stderr, "%s: %s\n", tool, dlerror());
    return false;
  }
  lib->path = path;
  return Resolve(tool, handle, "bitnet_gemm", &lib->gemm) &&
         Resolve(tool, handle, "bitnet_tensor_size", &lib->tensor_size) &&
         Resolve(tool, handle, "bitnet_tensor_quantize", &lib->tensor_quantize) &&
         Resolve(tool, handle, "bitnet_tensor_dequantize", &lib->tensor_dequantize) &&
         Resolve(tool, handle, "bitnet_tensor_transcode", &lib->tensor_transcode) &&
         Resolve(tool, handle, "bitnet_last_error", &lib->last_error);
}

inline bool ParseInt(const char* text, long long low, long long* value) {
  char* end = nullptr;
  *value = std::strtoll(text, &end, 10);
  return end != text && *end == '\0' && *value >= low;
}

inline double Median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Copies of a buffer of `bytes` that, with `other_bytes` per copy beside
// it, fill 512 MiB: every call then reads (and writes) memory, not cache.
inline size_t CopiesFor(size_t bytes, size_t other_bytes) {
  return std::max<size_t>(2, (size_t{512} << 20) / (bytes + other_bytes) + 1);
}

// The median microseconds per call of call(k, i) for library k = 0 and 1,
// i counting the calls of both (so that a rotation over copies goes on
// from one library's calls to the other's). call returns the library's
// status; false, and a message, when a timed call failed: its time would
// be that of a rejection, not of the work.
template <class Call>
bool TimeInTurns(const Call& call, double* median_a, double* median_b) {
  constexpr int kTurns = 60, kCalls = 50;
  std::vector<double> micros[2];
  size_t i = 0;
  for (int turn = 0; turn < kTurns; ++turn) {
    for (int k = 0; k < 2; ++k) {
      for (int c = 0; c < kCalls; ++c, ++i) {
        const auto start = std::chrono::steady_clock::now();
        const int status = call(k, i);
        micros[k].push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
        if (status != BITNET_OK) {
          std::fprintf(stderr, "turns: timed call %zu of library %c failed: status %d\n", i, "AB"[k], status);
          return false;
        }
      }
    }
  }
  *median_a = Median(micros[0]);
  *median_b = Median(micros[1]);
  return true;
}

}  // namespace turns

#endif  // BITNET_BENCH_TURNS_H_
