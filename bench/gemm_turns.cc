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
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "bitnet_quant.h"
#include "turns.h"

int main(int argc, char** argv) {
  long long type = 0, rows = 0, cols = 0, threads = 1, batch = 1;
  if (argc < 6 || argc > 8 || !turns::ParseInt(argv[3], 0, &type) || !turns::ParseInt(argv[4], 1, &rows) ||
      !turns::ParseInt(argv[5], 1, &cols) || (argc > 6 && !turns::ParseInt(argv[6], 1, &threads)) ||
      (argc > 7 && !turns::ParseInt(argv[7], 1, &batch))) {
    std::fprintf(stderr, "usage: %s LIB_A LIB_B TYPE ROWS COLS [THREADS [BATCH]]\n", argv[0]);
    return 2;
  }
  turns::Library libs[2];
  if (!turns::Open("gemm_turns", argv[1], &libs[0]) || !turns::Open("gemm_turns", argv[2], &libs[1])) return 1;
  const turns::Library& a = libs[0];
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
  const size_t copies = turns::CopiesFor(bytes, 0);
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

  double median_a = 0, median_b = 0;
  if (!turns::TimeInTurns(
          [&](int k, size_t i) {
            return libs[k].gemm(t, &weights[i % copies * bytes], bytes, rows, cols, x.data(), batch, y[k].data(),
                                &options);
          },
          &median_a, &median_b)) {
    return 1;
  }
  std::printf("type %lld %lldx%lld batch %lld threads %lld: A %.1f us, B %.1f us (%.1f GB/s of weights), A/B %.3f\n",
              type, rows, cols, batch, threads, median_a, median_b, static_cast<double>(bytes) / median_b / 1e3,
              median_a / median_b);
  return 0;
}
