// One pass over a GGUF file's tensor data for inspect and verify: the
// statistics of ternary_stats.h and the XXH64 of each tensor, on -j
// threads, each tensor's pages handed back once read.
#pragma once

#include <cstdint>
#include <vector>

#include "gguf_reader.h"
#include "progress.h"
#include "ternary_stats.h"

namespace bitnet_cli {

struct TensorScan {
  bool scanned = false;
  TensorStats stats;
  uint64_t xxh64 = 0;
};

enum class ScanScope { kTernaryOnly, kAll };

std::vector<TensorScan> scan_tensors(const GgufFile& file, ScanScope scope, bool checksums, unsigned threads,
                                     Progress& progress);

}  // namespace bitnet_cli
