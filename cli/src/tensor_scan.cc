#include "tensor_scan.h"

#include "checksum.h"
#include "parallel.h"

namespace bitnet_cli {

std::vector<TensorScan> scan_tensors(const GgufFile& file, ScanScope scope, bool checksums, unsigned threads,
                                     Progress& progress) {
  const auto& tensors = file.tensors();
  std::vector<TensorScan> results(tensors.size());
  parallel_for(tensors.size(), threads, [&](std::size_t i) {
    const GgufTensorInfo& t = tensors[i];
    const bool stats = scope == ScanScope::kAll || t.type->ternary != TernaryLayout::kNone;
    if (!stats && !checksums) return;
    const uint8_t* data = file.tensor_data(t);
    if (const MappedFile* mapping = file.mapping()) mapping->will_need(file.tensor_file_offset(t), t.size);
    if (stats) results[i].stats = tensor_stats(*t.type, data, t.size, t.ne);
    if (checksums) results[i].xxh64 = xxh64(data, t.size);
    results[i].scanned = true;
    if (const MappedFile* mapping = file.mapping()) mapping->release(file.tensor_file_offset(t), t.size);
    progress.advance(t.size);
    progress.item_done(i, t.name, "");
  });
  return results;
}

}  // namespace bitnet_cli
