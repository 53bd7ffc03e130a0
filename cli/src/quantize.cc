// bitnet-quant quantize IN.gguf OUT.gguf --type T: the linear weights a
// BitNet architecture ternarizes (attn q/k/v/output, ffn gate/up/down),
// stored F32/F16/BF16, become T through the library's
// bitnet_tensor_quantize (absmean first by default; an already-ternary
// tensor keeps its codes and alpha either way); every other tensor is
// copied unchanged unless a --tensor-type rule names it; every KV is
// copied, with the engine mapping of model_rewrite.h.
#include <cmath>
#include <regex>

#include "commands.h"
#include "errors.h"
#include "float_formats.h"
#include "library.h"
#include "model_rewrite.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

bool is_float_type(int32_t id) {
  return id == BITNET_TYPE_F32 || id == BITNET_TYPE_F16 || id == BITNET_TYPE_BF16;
}

float element(const GgufTensorInfo& t, const uint8_t* data, uint64_t i) {
  switch (t.type->id) {
    case BITNET_TYPE_F32: {
      uint32_t bits;
      std::memcpy(&bits, data + 4 * i, 4);
      return bits_to_float(bits);
    }
    case BITNET_TYPE_F16: {
      uint16_t bits;
      std::memcpy(&bits, data + 2 * i, 2);
      return half_to_float(bits);
    }
    default: {
      uint16_t bits;
      std::memcpy(&bits, data + 2 * i, 2);
      return bf16_to_float(bits);
    }
  }
}

// --ternarize none promises ternary weights (every value 0 or +-a for one
// a > 0); a tensor that breaks the promise is refused, naming an element.
void require_ternary(const GgufFile& in, const GgufTensorInfo& t) {
  const uint8_t* data = in.tensor_data(t);
  float magnitude = 0;
  const auto n = static_cast<uint64_t>(t.elements());
  for (uint64_t i = 0; i < n; ++i) {
    const float v = std::fabs(element(t, data, i));
    if (v == 0) continue;
    if (magnitude == 0 && std::isfinite(v)) magnitude = v;
    if (v != magnitude) {
      char text[160];
      std::snprintf(text, sizeof text, "element %llu is %g where the tensor's other non-zero values are +-%g",
                    static_cast<unsigned long long>(i), static_cast<double>(element(t, data, i)),
                    static_cast<double>(magnitude));
      throw UsageError(describe(t) + " is not ternary (" + text +
                       "); --ternarize none takes already-ternary weights, --ternarize absmean ternarizes them");
    }
  }
  if (in.mapping() != nullptr) in.mapping()->release(in.tensor_file_offset(t), t.size);
}

struct TensorTypeRule {
  std::regex regex;
  const TypeInfo* type;
};

std::vector<TensorTypeRule> parse_rules(const std::vector<std::string>& rules, Provenance target) {
  std::vector<TensorTypeRule> parsed;
  for (const std::string& rule : rules) {
    const std::size_t eq = rule.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == rule.size()) {
      throw UsageError("--tensor-type " + printable(rule) + " is not REGEX=TYPE");
    }
    const std::string pattern = rule.substr(0, eq);
    const std::string name = rule.substr(eq + 1);
    bitnet_type type = 0;
    if (bitnet_type_from_name(name.c_str(), &type) != BITNET_OK) {
      throw UsageError("--tensor-type " + printable(rule) + ": " + printable(name) + " is not a type name");
    }
    const bitnet_type_info info = library_type_info(type);
    const TypeInfo* gguf_type = find_type(type, target);
    if (!info.can_quantize || gguf_type == nullptr) {
      throw UsageError("--tensor-type " + printable(rule) + ": " + info.name + " is not a type bitnet-quant writes into " +
                       provenance_name(target) + " files");
    }
    try {
      parsed.push_back({std::regex(pattern, std::regex::ECMAScript), gguf_type});
    } catch (const std::regex_error& e) {
      throw UsageError("--tensor-type " + printable(rule) + ": bad regular expression: " + e.what());
    }
  }
  return parsed;
}

}  // namespace

int run_quantize(const QuantizeOptions& options) {
  const bitnet_type target = ternary_target_type(options.type, "quantize");
  const int32_t ternarize = options.ternarize == "absmean" ? BITNET_TERNARIZE_ABSMEAN
                            : options.ternarize == "none"  ? BITNET_TERNARIZE_NONE
                                                           : -1;
  if (ternarize < 0) {
    throw UsageError("--ternarize " + printable(options.ternarize) + " is not a rule; use absmean or none");
  }
  const Provenance engine = engine_of(target);
  const std::vector<TensorTypeRule> rules = parse_rules(options.tensor_types, engine);
  const GgufFile in = GgufFile::open(options.in_path);
  const TypeInfo& target_type = *find_type(target, engine);

  std::vector<TensorJob> jobs;
  std::size_t projections = 0;
  for (const GgufTensorInfo& t : in.tensors()) {
    TensorJob job;
    job.file = &in;
    job.in = &t;
    const TypeInfo* type = nullptr;
    for (const TensorTypeRule& rule : rules) {
      if (std::regex_search(t.name, rule.regex)) {
        type = rule.type;
        break;
      }
    }
    const bool projection = is_ternarized_projection(t.name);
    if (type == nullptr && projection) type = &target_type;
    if (type == nullptr) {
      job.out = spec_copied(t, engine);
      jobs.push_back(std::move(job));
      continue;
    }
    if (!is_float_type(t.type->id)) {
      if (t.type->ternary != TernaryLayout::kNone) {
        throw UsageError(describe(t) + " is ternary already; bitnet-quant transcode re-packs ternary tensors");
      }
      throw UsageError(describe(t) + ": quantize reads F32, F16 or BF16 weights");
    }
    const bool ternary = library_type_info(type->id).ternary != 0;
    projections += ternary;
    if (ternary && ternarize == BITNET_TERNARIZE_NONE) require_ternary(in, t);
    job.kind = TensorJob::Kind::kQuantize;
    job.ternarize = ternary ? ternarize : BITNET_TERNARIZE_NONE;
    job.out = spec_as(t, *type);
    jobs.push_back(std::move(job));
  }
  if (projections == 0) {
    throw UsageError(in.name() + " has no tensor to ternarize (no blk.N.attn_q/k/v/output or ffn_gate/up/down "
                     "weights, and no --tensor-type rule with a ternary type matched)");
  }

  WriteSettings settings{"quantize", options.out_path, options.force, options.common};
  write_model(output_kvs(in, engine, file_type_of(target)), jobs, settings);
  return kExitOk;
}

}  // namespace bitnet_cli
