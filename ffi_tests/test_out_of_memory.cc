// Running out of memory at each allocation an entry point makes, one at a
// time: the call must either succeed with the same bytes as when nothing
// fails (an allocation it can do without, such as a worker thread) or
// return BITNET_E_OUT_OF_MEMORY with a message saying so and its outputs
// untouched. No thread other than the caller's may allocate while a call
// runs: an allocation failing there could not be reported. C++ only to
// replace the global operator new, which the library's allocations all go
// through (it calls neither malloc nor an aligned allocator of its own).
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

extern "C" {
#include "test_util.h"
}

namespace {

// While armed: the allocations counted, the index of the one that fails
// (-1: none), and those made on another thread than the armed one.
std::atomic<bool> g_armed{false};
std::atomic<long> g_count{0};
std::atomic<long> g_fail_at{-1};
std::atomic<long> g_elsewhere{0};
thread_local bool t_armed_thread = false;

// What plain new guarantees (malloc's alignment).
constexpr size_t kPlain = alignof(std::max_align_t);

void* Allocate(size_t bytes, size_t align) {
  if (g_armed.load()) {
    if (!t_armed_thread) g_elsewhere.fetch_add(1);
    if (g_count.fetch_add(1) == g_fail_at.load()) return nullptr;
  }
  if (bytes == 0) bytes = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(bytes);
  return std::aligned_alloc(align, (bytes + align - 1) / align * align);
}

void* AllocateOrThrow(size_t bytes, size_t align) {
  void* p = Allocate(bytes, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t n) { return AllocateOrThrow(n, kPlain); }
void* operator new[](size_t n) { return AllocateOrThrow(n, kPlain); }
void* operator new(size_t n, std::align_val_t a) { return AllocateOrThrow(n, static_cast<size_t>(a)); }
void* operator new[](size_t n, std::align_val_t a) { return AllocateOrThrow(n, static_cast<size_t>(a)); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return Allocate(n, kPlain); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return Allocate(n, kPlain); }
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return Allocate(n, static_cast<size_t>(a));
}
void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return Allocate(n, static_cast<size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

// One entry point call; it writes everything it outputs into `out`.
struct Case {
  std::string name;
  size_t out_bytes;
  std::function<int(uint8_t* out)> call;
};

// Runs the call with allocation `fail_at` failing (-1: none); returns its
// status and counts the allocations in *count.
int RunArmed(const Case& c, uint8_t* out, long fail_at, long* count) {
  memset(out, POISON, c.out_bytes);
  g_count.store(0);
  g_fail_at.store(fail_at);
  t_armed_thread = true;
  g_armed.store(true);
  const int status = c.call(out);
  g_armed.store(false);
  t_armed_thread = false;
  *count = g_count.load();
  return status;
}

void RunCase(const Case& c) {
  std::vector<uint8_t> want(c.out_bytes), got(c.out_bytes);
  long allocations = 0;
  // Twice: the first call may start the thread pool's workers.
  RunArmed(c, want.data(), -1, &allocations);
  g_elsewhere.store(0);
  const int status = RunArmed(c, want.data(), -1, &allocations);
  if (!expect_status(status, BITNET_OK, c.name.c_str())) return;
  check(g_elsewhere.load() == 0, "%s: %ld allocations on other threads than the caller's",
        c.name.c_str(), g_elsewhere.load());
  long failed = 0;
  for (long k = 0; k < allocations; ++k) {
    long count = 0;
    g_elsewhere.store(0);
    const int s = RunArmed(c, got.data(), k, &count);
    check(g_elsewhere.load() == 0, "%s, allocation %ld failing: %ld allocations on other threads",
          c.name.c_str(), k, g_elsewhere.load());
    if (s == BITNET_OK) {
      check(memcmp(got.data(), want.data(), c.out_bytes) == 0,
            "%s, allocation %ld failing: succeeded with other bytes", c.name.c_str(), k);
      continue;
    }
    ++failed;
    const char* message = bitnet_last_error();
    check(s == BITNET_E_OUT_OF_MEMORY && message != nullptr && strstr(message, "out of memory") != nullptr,
          "%s, allocation %ld failing: status %d (%s), expected out of memory", c.name.c_str(), k, s,
          message != nullptr ? message : "");
    check(untouched(got.data(), c.out_bytes), "%s, allocation %ld failing: wrote its output",
          c.name.c_str(), k);
  }
  printf("%-44s %3ld allocations, %3ld reported out of memory\n", c.name.c_str(), allocations, failed);
}

// Rows: not a whole number of any kernel's tiles of 8 or 16; three threads,
// so that a call starts more than one worker.
constexpr int64_t kRows = 68, kCols = 512, kBatch = 21;
constexpr int32_t kThreads = 3;

std::vector<float> RandomFloats(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  fill_random(GAUSS, v.data(), n, 256, seed);
  return v;
}

// Values 0 and +-0.75: every layout holds them with the same scale, so any
// layout transcodes into any other.
std::vector<float> RandomTernary(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (float& x : v) x = 0.75f * static_cast<float>(static_cast<int>(rng_next(&seed) % 3) - 1);
  return v;
}

std::vector<uint16_t> ToBf16(const std::vector<float>& f) {
  std::vector<uint16_t> h(f.size());
  for (size_t i = 0; i < f.size(); ++i) h[i] = static_cast<uint16_t>(float_bits(f[i]) >> 16);
  return h;
}

size_t TensorBytes(bitnet_type type, int64_t rows, int64_t cols) {
  size_t bytes = 0;
  expect_status(bitnet_tensor_size(type, rows, cols, &bytes), BITNET_OK, "tensor size");
  return bytes;
}

bitnet_tensor_options TensorOptions() {
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.n_threads = kThreads;
  return o;
}

std::vector<uint8_t> Quantized(bitnet_type type, const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> out(TensorBytes(type, rows, cols));
  expect_status(bitnet_tensor_quantize(type, nullptr, BITNET_TYPE_F32, w.data(), rows, cols,
                                       out.data(), out.size()),
                BITNET_OK, "quantize an input");
  return out;
}

std::vector<Case> Cases() {
  static const std::vector<float> w = RandomFloats(kRows * kCols, 1);
  static const std::vector<float> w_ternary = RandomTernary(kRows * kCols, 3);
  static const std::vector<uint16_t> w_bf16 = ToBf16(w);
  static const std::vector<float> x = RandomFloats(kBatch * kCols, 2);
  static const std::vector<uint16_t> x_bf16 = ToBf16(x);
  const bitnet_type ternary[] = {BITNET_TYPE_I2_S, BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0,
                                 BITNET_TYPE_Q2_0, BITNET_TYPE_HF_BITNET, BITNET_TYPE_BITNET_RS_I2S};
  static std::vector<std::vector<uint8_t>> tensors;
  tensors.clear();
  for (bitnet_type t : ternary) tensors.push_back(Quantized(t, w_ternary, kRows, kCols));
  std::vector<Case> cases;
  for (size_t i = 0; i < sizeof ternary / sizeof ternary[0]; ++i) {
    const bitnet_type t = ternary[i];
    const std::string name = bitnet_type_name(t);
    const std::vector<uint8_t>& src = tensors[i];
    const size_t bytes = src.size();
    cases.push_back({"quantize f32 -> " + name, bytes, [=](uint8_t* out) {
                       const bitnet_tensor_options o = TensorOptions();
                       return bitnet_tensor_quantize(t, &o, BITNET_TYPE_F32, w.data(), kRows, kCols, out, bytes);
                     }});
    // HF_BITNET holds one scale per tensor.
    const int64_t group = t == BITNET_TYPE_HF_BITNET ? 0 : -1;
    cases.push_back({"quantize bf16 -> " + name + ", absmean per " + (group == 0 ? "tensor" : "row"), bytes,
                     [=](uint8_t* out) {
                       bitnet_tensor_options o = TensorOptions();
                       o.ternarize = BITNET_TERNARIZE_ABSMEAN;
                       o.group_size = group;
                       return bitnet_tensor_quantize(t, &o, BITNET_TYPE_BF16, w_bf16.data(), kRows, kCols,
                                                     out, bytes);
                     }});
    cases.push_back({"dequantize " + name + " -> bf16", kRows * kCols * 2, [=, &src](uint8_t* out) {
                       const bitnet_tensor_options o = TensorOptions();
                       return bitnet_tensor_dequantize(t, &o, src.data(), src.size(), kRows, kCols,
                                                       BITNET_TYPE_BF16, out, kRows * kCols * 2);
                     }});
    cases.push_back({"stats of " + name, sizeof(bitnet_tensor_stats), [=, &src](uint8_t* out) {
                       const bitnet_tensor_options o = TensorOptions();
                       bitnet_tensor_stats stats{};
                       stats.struct_size = sizeof stats;
                       const int s = bitnet_tensor_stats_get(t, &o, src.data(), src.size(), kRows, kCols, &stats);
                       if (s == BITNET_OK) memcpy(out, &stats, sizeof stats);
                       return s;
                     }});
    for (size_t j = 0; j < sizeof ternary / sizeof ternary[0]; ++j) {
      if (j == i) continue;
      const bitnet_type d = ternary[j];
      const size_t d_bytes = tensors[j].size();
      cases.push_back({"transcode " + name + " -> " + bitnet_type_name(d), d_bytes, [=, &src](uint8_t* out) {
                         bitnet_tensor_options o = TensorOptions();
                         o.flags = BITNET_TENSOR_ALLOW_SCALE_ROUNDING;
                         return bitnet_tensor_transcode(d, &o, t, src.data(), src.size(), kRows, kCols, out,
                                                        d_bytes);
                       }});
    }
  }
  cases.push_back({"ternarize per 128 columns", kRows * kCols + kRows * 4 * sizeof(float), [](uint8_t* out) {
                     bitnet_tensor_options o = TensorOptions();
                     o.group_size = 128;
                     return bitnet_ternarize(&o, BITNET_TYPE_F32, w.data(), kRows, kCols,
                                             reinterpret_cast<int8_t*>(out), kRows * kCols,
                                             reinterpret_cast<float*>(out + kRows * kCols), kRows * 4);
                   }});
  cases.push_back({"quantize_i8s", kBatch * (kCols + 8), [](uint8_t* out) {
                     const bitnet_tensor_options o = TensorOptions();
                     int8_t* q = reinterpret_cast<int8_t*>(out);
                     float* scales = reinterpret_cast<float*>(out + kBatch * kCols);
                     int32_t* sums = reinterpret_cast<int32_t*>(out + kBatch * (kCols + 4));
                     return bitnet_quantize_i8s(&o, BITNET_TYPE_F32, x.data(), kBatch, kCols, q, kBatch * kCols,
                                                scales, kBatch, sums, kBatch);
                   }});
  // The products, on 1 and 2 threads, from f32 and bf16 activations.
  for (size_t i = 0; i < 4; ++i) {
    const bitnet_type t = ternary[i];
    const std::vector<uint8_t>& src = tensors[i];
    for (int32_t threads : {1, kThreads}) {
      for (bitnet_type x_type : {BITNET_TYPE_F32, BITNET_TYPE_BF16}) {
        const std::string name = std::string("gemm ") + bitnet_type_name(t) + ", " + std::to_string(threads) +
                                 " thread(s), x " + bitnet_type_name(x_type);
        cases.push_back({name, kBatch * kRows * sizeof(float), [=, &src](uint8_t* out) {
                           bitnet_gemm_options o = BITNET_GEMM_OPTIONS_INIT;
                           o.n_threads = threads;
                           o.x_type = x_type;
                           const void* xs = x_type == BITNET_TYPE_F32 ? static_cast<const void*>(x.data())
                                                                      : static_cast<const void*>(x_bf16.data());
                           return bitnet_gemm(t, src.data(), src.size(), kRows, kCols,
                                              static_cast<const float*>(xs), kBatch,
                                              reinterpret_cast<float*>(out), &o);
                         }});
      }
    }
  }
  static std::vector<uint8_t> q8k;
  q8k.assign(TensorBytes(BITNET_TYPE_Q8_K, kBatch, kCols), 0);
  expect_status(bitnet_tensor_quantize(BITNET_TYPE_Q8_K, nullptr, BITNET_TYPE_F32, x.data(), kBatch, kCols,
                                       q8k.data(), q8k.size()),
                BITNET_OK, "Q8_K activations");
  const std::vector<uint8_t>& tq2 = tensors[2];
  cases.push_back({"gemm_blocks TQ2_0, 3 threads", kBatch * kRows * sizeof(float), [&tq2](uint8_t* out) {
                     bitnet_gemm_options o = BITNET_GEMM_OPTIONS_INIT;
                     o.n_threads = kThreads;
                     return bitnet_gemm_blocks(BITNET_TYPE_TQ2_0, tq2.data(), tq2.size(), kRows, kCols, q8k.data(),
                                               q8k.size(), kBatch, reinterpret_cast<float*>(out), &o);
                   }});
  // The block API of BitNet-rs's layouts.
  const bitnet_format formats[] = {BITNET_FORMAT_I2S, BITNET_FORMAT_TL1, BITNET_FORMAT_TL2};
  for (bitnet_format f : formats) {
    size_t packed = 0, scales = 0;
    expect_status(bitnet_quant_buffer_sizes(f, nullptr, w.size(), &packed, &scales), BITNET_OK, "buffer sizes");
    const size_t scales_at = (packed + sizeof(float) - 1) / sizeof(float) * sizeof(float);
    cases.push_back({"bitnet_quantize format " + std::to_string(f), scales_at + scales * sizeof(float),
                     [=](uint8_t* out) {
                       return bitnet_quantize(f, nullptr, w.data(), w.size(), out, packed,
                                              reinterpret_cast<float*>(out + scales_at), scales);
                     }});
  }
  return cases;
}

}  // namespace

int main() {
  const std::vector<Case> cases = Cases();
  for (const Case& c : cases) RunCase(c);
  return finish("out_of_memory");
}
