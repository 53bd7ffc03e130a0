// bitnet-quant inspect FILE: the header, every KV, every tensor (type,
// shape, bytes, bits per weight; for ternary ones the scale range and the
// share of -1/0/+1) and totals per type, as text or --json.
#include <cinttypes>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "gguf_reader.h"
#include "tensor_scan.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

struct TypeTotal {
  uint64_t tensors = 0;
  uint64_t elements = 0;
  uint64_t bytes = 0;
};

std::string percent(uint64_t part, uint64_t whole) {
  char text[16];
  std::snprintf(text, sizeof text, "%.1f%%", whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

std::string scale_range(const TensorStats& s) {
  if (s.scales == s.nonfinite_scales) return s.scales ? "non-finite" : "";
  char text[64];
  std::snprintf(text, sizeof text, "%.6g..%.6g", static_cast<double>(s.scale_min), static_cast<double>(s.scale_max));
  std::string range = text;
  if (s.nonfinite_scales) range += " +" + std::to_string(s.nonfinite_scales) + " non-finite";
  return range;
}

nlohmann::json ternary_json(const TensorStats& s) {
  nlohmann::json j{{"minus", s.minus},           {"zero", s.zero},
                   {"plus", s.plus},             {"invalid_codes", s.invalid_codes},
                   {"scales", s.scales},         {"nonfinite_scales", s.nonfinite_scales},
                   {"negative_scales", s.negative_scales}};
  if (s.scales > s.nonfinite_scales) {
    j["scale_min"] = s.scale_min;
    j["scale_max"] = s.scale_max;
  }
  return j;
}

}  // namespace

int run_inspect(const InspectOptions& options) {
  const GgufFile file = GgufFile::open(options.path);
  const auto& tensors = file.tensors();

  std::vector<TensorScan> scans(tensors.size());
  if (options.read_data) {
    uint64_t ternary_bytes = 0;
    for (const auto& t : tensors) ternary_bytes += t.type->ternary != TernaryLayout::kNone ? t.size : 0;
    Progress progress("inspect", ternary_bytes, tensors.size(), options.common.quiet, false);
    scans = scan_tensors(file, ScanScope::kTernaryOnly, false, options.common.threads, progress);
  }

  std::map<std::string, TypeTotal> totals;
  TypeTotal all;
  for (const auto& t : tensors) {
    TypeTotal& total = totals[t.type->name];
    for (TypeTotal* x : {&total, &all}) {
      ++x->tensors;
      x->elements += static_cast<uint64_t>(t.elements());
      x->bytes += t.size;
    }
  }

  if (options.json) {
    nlohmann::json j;
    j["file"] = file.name();
    j["format"] = "gguf";
    j["version"] = 3;
    j["size"] = file.file_size();
    j["architecture"] = file.architecture();
    j["engine"] = provenance_name(file.provenance());
    j["alignment"] = file.alignment();
    j["data_offset"] = file.data_offset();
    nlohmann::json kvs = nlohmann::json::array();
    for (const auto& kv : file.kvs()) {
      nlohmann::json entry = kv.value.to_json(options.max_array_items);
      entry["key"] = kv.key;
      kvs.push_back(std::move(entry));
    }
    j["kvs"] = std::move(kvs);
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      nlohmann::json entry{{"name", t.name},
                           {"type", t.type->name},
                           {"type_id", t.type->id},
                           {"shape", std::vector<int64_t>(t.ne, t.ne + t.n_dims)},
                           {"offset", file.tensor_file_offset(t)},
                           {"bytes", t.size},
                           {"bits_per_weight", bits_per_weight(t.size, t.elements())}};
      if (scans[i].scanned && scans[i].stats.ternary) entry["ternary"] = ternary_json(scans[i].stats);
      list.push_back(std::move(entry));
    }
    j["tensors"] = std::move(list);
    nlohmann::json by_type = nlohmann::json::object();
    for (const auto& [name, total] : totals) {
      by_type[name] = {{"tensors", total.tensors},
                       {"elements", total.elements},
                       {"bytes", total.bytes},
                       {"bits_per_weight", bits_per_weight(total.bytes, static_cast<int64_t>(total.elements))}};
    }
    j["totals"] = {{"by_type", by_type},
                   {"tensors", all.tensors},
                   {"elements", all.elements},
                   {"bytes", all.bytes}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }

  std::printf("%s\n  GGUF v3, %" PRIu64 " bytes, %s (architecture %s), alignment %" PRIu64 ", data at byte %" PRIu64 "\n",
              escaped(file.name(), 4096).c_str(), file.file_size(), provenance_name(file.provenance()),
              file.architecture().empty() ? "not set" : printable(file.architecture()).c_str(), file.alignment(),
              file.data_offset());
  std::printf("\nKVs (%zu)\n", file.kvs().size());
  for (const auto& kv : file.kvs()) {
    std::printf("  %-44s %-7s %s\n", escaped(kv.key).c_str(), gguf_type_name(kv.value.type()),
                kv.value.to_text(options.max_array_items).c_str());
  }
  std::printf("\nTensors (%zu)\n", tensors.size());
  std::printf("  %-36s %-7s %-18s %11s %6s  %-22s %s\n", "name", "type", "shape", "bytes", "bpw", "scale min..max",
              "-1 / 0 / +1");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    std::string ternary_columns;
    if (scans[i].scanned && scans[i].stats.ternary) {
      const TensorStats& s = scans[i].stats;
      const uint64_t n = s.minus + s.zero + s.plus;
      ternary_columns = scale_range(s);
      ternary_columns.resize(std::max<std::size_t>(ternary_columns.size(), 22), ' ');
      ternary_columns += " " + percent(s.minus, n) + " / " + percent(s.zero, n) + " / " + percent(s.plus, n);
      if (s.invalid_codes) ternary_columns += ", " + std::to_string(s.invalid_codes) + " invalid codes";
    }
    std::printf("  %-36s %-7s %-18s %11" PRIu64 " %6.2f  %s\n", escaped(t.name, 200).c_str(), t.type->name,
                t.shape_text().c_str(), t.size, bits_per_weight(t.size, t.elements()), ternary_columns.c_str());
  }
  std::printf("\nTotals\n");
  for (const auto& [name, total] : totals) {
    std::printf("  %-7s %6" PRIu64 " tensors %14" PRIu64 " elements %11s %6.2f bpw\n", name.c_str(), total.tensors,
                total.elements, format_bytes(total.bytes).c_str(),
                bits_per_weight(total.bytes, static_cast<int64_t>(total.elements)));
  }
  std::printf("  %-7s %6" PRIu64 " tensors %14" PRIu64 " elements %11s\n", "all", all.tensors, all.elements,
              format_bytes(all.bytes).c_str());
  return kExitOk;
}

}  // namespace bitnet_cli
