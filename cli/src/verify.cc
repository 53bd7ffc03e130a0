// bitnet-quant verify FILE: the header parses (every check of the reader);
// tensors sit where ggml's loader expects them (in info order, each at the
// previous one's padded end); names fit ggml's 64-byte limit; ternary
// tensors hold only codes an encoder writes and finite, non-negative
// scales, within their layout's shape rule; float tensors hold finite
// values; and the checksums this tool records match. Exit 3 and the first
// fault named when anything is wrong.
#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "byte_order.h"
#include "checksum.h"
#include "commands.h"
#include "errors.h"
#include "gguf_reader.h"
#include "tensor_scan.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

constexpr std::size_t kGgmlMaxName = 64;  // GGML_MAX_NAME, the terminating 0 included

struct Report {
  std::vector<std::string> faults;
  std::vector<std::string> notes;
  uint64_t checksums_matched = 0;
};

std::string tensor_label(const GgufTensorInfo& t) {
  return "tensor " + printable(t.name) + " (" + t.type->name + ", " + t.shape_text() + ")";
}

void check_placement(const GgufFile& file, Report& report) {
  uint64_t expected = 0;
  for (const GgufTensorInfo& t : file.tensors()) {
    if (t.offset != expected) {
      report.faults.push_back(tensor_label(t) + " is at data offset " + std::to_string(t.offset) +
                              ", where ggml's loader requires " + std::to_string(expected) +
                              " (tensors must follow each other in info order)");
    }
    expected = t.offset + (t.size + file.alignment() - 1) / file.alignment() * file.alignment();
    if (t.name.size() >= kGgmlMaxName) {
      report.faults.push_back(tensor_label(t) + ": the name has " + std::to_string(t.name.size()) +
                              " bytes; ggml allows at most " + std::to_string(kGgmlMaxName - 1));
    }
  }
}

void check_data(const GgufFile& file, const std::vector<TensorScan>& scans, Report& report) {
  for (std::size_t i = 0; i < scans.size(); ++i) {
    const TensorStats& s = scans[i].stats;
    if (!s.first_fault.empty()) {
      std::string what = tensor_label(file.tensors()[i]) + ": " + s.first_fault;
      if (s.invalid_codes > 1) what += " (" + std::to_string(s.invalid_codes) + " such codes)";
      if (s.nonfinite_scales > 1) what += " (" + std::to_string(s.nonfinite_scales) + " non-finite scales)";
      if (s.nonfinite_values > 1) what += " (" + std::to_string(s.nonfinite_values) + " non-finite values)";
      report.faults.push_back(what);
    }
  }
}

// Whether the file carries this tool's checksums for exactly its tensors.
bool checksums_apply(const GgufFile& file, Report& report) {
  const GgufValue* sums = file.find(kChecksumKey);
  const GgufValue* layout = file.find(kChecksumLayoutKey);
  if (sums == nullptr && layout == nullptr) {
    report.notes.push_back("no checksums recorded (the file was not written by bitnet-quant)");
    return false;
  }
  if (sums == nullptr || layout == nullptr || sums->type() != GgufType::kArray ||
      sums->element_type() != GgufType::kUint64 || layout->type() != GgufType::kUint64) {
    report.faults.push_back(std::string("the checksum KVs ") + kChecksumKey + " / " + kChecksumLayoutKey +
                            " are incomplete or of the wrong type");
    return false;
  }
  std::vector<TensorLayoutEntry> entries;
  for (const GgufTensorInfo& t : file.tensors()) entries.push_back({&t.name, t.type->id, t.n_dims, t.ne});
  if (layout->bits() != tensor_layout_digest(entries) || sums->array_size() != file.tensors().size()) {
    report.notes.push_back(
        "the recorded checksums describe another tensor list: the file was rewritten by a tool that copied "
        "bitnet-quant's KVs (e.g. llama-quantize); tensor data not compared with them");
    return false;
  }
  return true;
}

void check_checksums(const GgufFile& file, const std::vector<TensorScan>& scans, Report& report) {
  const GgufValue* sums = file.find(kChecksumKey);
  for (std::size_t i = 0; i < scans.size(); ++i) {
    const uint64_t recorded = load_le<uint64_t>(sums->array_bytes().data() + 8 * i);
    if (scans[i].xxh64 == recorded) {
      ++report.checksums_matched;
    } else {
      char text[96];
      std::snprintf(text, sizeof text, ": XXH64 %016" PRIx64 " differs from the recorded %016" PRIx64,
                    scans[i].xxh64, recorded);
      report.faults.push_back(tensor_label(file.tensors()[i]) + text + " (data changed after writing)");
    }
  }
}

int print(const std::string& path, const Report& report, std::size_t tensors, bool json) {
  const int code = report.faults.empty() ? kExitOk : kExitFault;
  if (json) {
    nlohmann::json j{{"file", path},
                     {"ok", report.faults.empty()},
                     {"tensors", tensors},
                     {"checksums_matched", report.checksums_matched},
                     {"faults", report.faults},
                     {"notes", report.notes}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return code;
  }
  const std::string name = escaped(path, 4096);
  for (const std::string& note : report.notes) std::printf("%s: note: %s\n", name.c_str(), note.c_str());
  constexpr std::size_t kMaxListed = 20;
  for (std::size_t i = 0; i < report.faults.size() && i < kMaxListed; ++i) {
    std::printf("%s: fault: %s\n", name.c_str(), report.faults[i].c_str());
  }
  if (report.faults.empty()) {
    std::printf("%s: OK: %zu tensors checked, %" PRIu64 " checksums match\n", name.c_str(), tensors,
                report.checksums_matched);
  } else {
    std::printf("%s: FAILED: %zu faults%s\n", name.c_str(), report.faults.size(),
                report.faults.size() > kMaxListed ? " (the first 20 listed)" : "");
  }
  return code;
}

}  // namespace

int run_verify(const VerifyOptions& options) {
  auto mapping = std::make_shared<MappedFile>(options.path);  // cannot read it: an Error, exit 1
  Report report;
  std::unique_ptr<GgufFile> file;
  try {
    file = std::make_unique<GgufFile>(GgufFile::parse(mapping));
  } catch (const Error& e) {
    std::string what = e.what();
    const std::string prefix = options.path + ": ";
    if (what.compare(0, prefix.size(), prefix) == 0) what.erase(0, prefix.size());
    report.faults.push_back(what);
    return print(options.path, report, 0, options.json);
  }
  check_placement(*file, report);
  const bool checksums = checksums_apply(*file, report);
  uint64_t total = 0;
  for (const auto& t : file->tensors()) total += t.size;
  Progress progress("verify", total, file->tensors().size(), options.common.quiet, false);
  const std::vector<TensorScan> scans =
      scan_tensors(*file, ScanScope::kAll, checksums, options.common.threads, progress);
  check_data(*file, scans, report);
  if (checksums) check_checksums(*file, scans, report);
  return print(options.path, report, file->tensors().size(), options.json);
}

}  // namespace bitnet_cli
