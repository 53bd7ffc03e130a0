// Two builds of the library, timed in turns in one process: bitnet_gemm
// from library A, then from library B, 50 calls each, 60 times over, on
// the same weights rotated over 512 MiB of copies. Where a machine's
// bandwidth drifts between runs by more than a kernel change moves it,
// separate benchmark runs cannot tell two builds apart; turns of a second
// each can. Both builds must give the same bits.
//
//   gemm_turns LIB_A LIB_B TYPE ROWS COLS [THREADS [BATCH]]
//
// TYPE is a GGUF type id (34 TQ1_0, 35 TQ2_0, 36 I2_S, 42 Q2_0). Prints
// each library's median time per call and A's over B's (above 1: B is
// faster). The same library twice shows the noise floor.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitnet_quant.h"

namespace {

// The entry points this tool calls, from one library.
struct Library {
  const char* path = nullptr;
  decltype(&bitnet_gemm) gemm = nullptr;
  decltype(&bitnet_tensor_size) tensor_size = nullptr;
  decltype(&bitnet_tensor_quantize) tensor_quantize = nullptr;
  decltype(&bitnet_last_error) last_error = nullptr;
};

template <class Fn>
bool Resolve(void* handle, const char* name, Fn* fn) {
  *fn = reinterpret_cast<Fn>(dlsym(handle, name));
  if (*fn == nullptr) std::fprintf(stderr, "gemm_turns: no %s: %s\n", name, dlerror());
  return *fn != nullptr;
}

bool Open(const char* path, Library* lib) {
  // RTLD_LOCAL: each library's symbols stay its own.
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::fprintf(stderr, "gemm_turns: %s\n", dlerror());
    return false;
  }
  lib->path = path;
  return Resolve(handle, "bitnet_gemm", &lib->gemm) && Resolve(handle, "bitnet_tensor_size", &lib->tensor_size) &&
         Resolve(handle, "bitnet_tensor_quantize", &lib->tensor_quantize) &&
         Resolve(handle, "bitnet_last_error", &lib->last_error);
}

bool ParseInt(const char* text, long long low, long long* value) {
  char* end = nullptr;
  *value = std::strtoll(text, &end, 10);
  return end != text && *end == '\0' && *value >= low;
}

double Median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  long long type = 0, rows = 0, cols = 0, threads = 1, batch = 1;
  if (argc < 6 || argc > 8 || !ParseInt(argv[3], 0, &type) || !ParseInt(argv[4], 1, &rows) ||
      !ParseInt(argv[5], 1, &cols) || (argc > 6 && !ParseInt(argv[6], 1, &threads)) ||
      (argc > 7 && !ParseInt(argv[7], 1, &batch))) {
    std::fprintf(stderr, "usage: %s LIB_A LIB_B TYPE ROWS COLS [THREADS [BATCH]]\n", argv[0]);
    return 2;
  }
  Library libs[2];
  if (!Open(argv[1], &libs[0]) || !Open(argv[2], &libs[1])) return 1;
  const Library& a = libs[0];
  const auto t = static_cast<bitnet_type>(type);

  size_t bytes = 0;
  if (a.tensor_size(t, rows, cols, &bytes) != BITNET_OK) {
    std::fprintf(stderr, "gemm_turns: %s\n", a.last_error());
    return 1;
  }
  std::mt19937 rng(1);  // NOLINT(cert-msc51-cpp): the same weights in every run
  std::normal_distribution<float> normal;
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float& v : w) v = normal(rng);
  // Copies enough that every call reads its weights from DRAM.
  const size_t copies = std::max<size_t>(2, (size_t{512} << 20) / bytes + 1);
  std::vector<uint8_t> weights(copies * bytes);
  if (a.tensor_quantize(t, nullptr, BITNET_TYPE_F32, w.data(), rows, cols, weights.data(), bytes) != BITNET_OK) {
    std::fprintf(stderr, "gemm_turns: %s\n", a.last_error());
    return 1;
  }
  for (size_t c = 1; c < copies; ++c) std::memcpy(&weights[c * bytes], weights.data(), bytes);
  std::vector<float> x(static_cast<size_t>(batch * cols));
  for (float& v : x) v = normal(rng);

  bitnet_gemm_options options = BITNET_GEMM_OPTIONS_INIT;
  options.n_threads = static_cast<int32_t>(threads);
  std::vector<float> y[2];
  for (int k = 0; k < 2; ++k) {
    y[k].assign(static_cast<size_t>(batch * rows), 0.0f);
    if (libs[k].gemm(t, weights.data(), bytes, rows, cols, x.data(), batch, y[k].data(), &options) != BITNET_OK) {
      std::fprintf(stderr, "gemm_turns: %s: %s\n", libs[k].path, libs[k].last_error());
      return 1;
    }
  }
  if (std::memcmp(y[0].data(), y[1].data(), y[0].size() * sizeof(float)) != 0) {
    std::fprintf(stderr, "gemm_turns: the two libraries' products differ\n");
    return 1;
  }

  constexpr int kTurns = 60, kCalls = 50;
  std::vector<double> micros[2];
  size_t copy = 0;
  for (int turn = 0; turn < kTurns; ++turn) {
    for (int k = 0; k < 2; ++k) {
      for (int i = 0; i < kCalls; ++i) {
        const auto start = std::chrono::steady_clock::now();
        libs[k].gemm(t, &weights[copy * bytes], bytes, rows, cols, x.data(), batch, y[k].data(), &options);
        micros[k].push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
        copy = (copy + 1) % copies;
      }
    }
  }
  const double median_a = Median(micros[0]), median_b = Median(micros[1]);
  std::printf("type %lld %lldx%lld batch %lld threads %lld: A %.1f us, B %.1f us (%.1f GB/s of weights), A/B %.3f\n",
              type, rows, cols, batch, threads, median_a, median_b, static_cast<double>(bytes) / median_b / 1e3,
              median_a / median_b);
  return 0;
}
