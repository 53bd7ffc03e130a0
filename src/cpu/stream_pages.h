// Where streamed (non-temporal) stores give way to an ordinary one: the
// first 64-byte line of each 4 KiB page of the target. On the AMD EPYC
// development VM streaming every line ran at about half the speed:
// dequantize at 16 Mi elements 1.6-2.1x faster so, the byte re-pack's
// stages 1.4-1.7x, a copy alone the same (a store to another line or a fence
// per stage did not do it, a prefetch of the next page less than half of
// it). The library's kernels (cpu/tensor-inl.h) and the benchmarks' write
// probe (bench/roofline.h) both follow this rule.
#ifndef BITNET_CPU_STREAM_PAGES_H_
#define BITNET_CPU_STREAM_PAGES_H_

#include <cstddef>
#include <cstdint>

namespace bitnet {

constexpr size_t kStreamPageBytes = 4096;
constexpr size_t kStreamLineBytes = 64;

inline bool StartsStreamPage(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kStreamPageBytes < kStreamLineBytes;
}

}  // namespace bitnet

#endif  // BITNET_CPU_STREAM_PAGES_H_
