// bitnet-quant transcode IN.gguf OUT.gguf --type T: every ternary tensor
// re-packed into T through the library's bitnet_tensor_transcode (codes
// moved, never through floats), between bitnet.cpp's files (I2_S, arch
// bitnet-b1.58) and mainline's (TQ1_0/TQ2_0, arch bitnet) with the KV
// mapping of model_rewrite.h; everything else copied unchanged. Anything
// that would change a value is refused, except the one rounding the issue
// asks for by default: a per-tensor f32 scale becomes each 256-block's f16
// d, exactly what llama_model_quantize writes (--exact-scales refuses it;
// --scale tensor keeps it exactly in mainline's blk.N.<proj>.scale tensor,
// the blocks' d then 1).
#include <cstring>

#include "commands.h"
#include "errors.h"
#include "library.h"
#include "model_rewrite.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

const char kWeightSuffix[] = ".weight";

// blk.N.attn_q.scale beside a ternary blk.N.attn_q.weight.
bool is_scale_tensor(const GgufFile& in, const GgufTensorInfo& t) {
  const std::string suffix = ".scale";
  if (t.name.size() <= suffix.size() || t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const GgufTensorInfo* weight = in.find_tensor(t.name.substr(0, t.name.size() - suffix.size()) + kWeightSuffix);
  return weight != nullptr && weight->type->ternary != TernaryLayout::kNone;
}

// Mainline's tensor scale mode: blk.N.<proj>.scale, F32 {1}, multiplied
// into the product of the weight whose blocks then have d = 1. Its value is
// the I2_S tensor's one scale, read through bitnet_tensor_stats_get.
TensorJob scale_tensor_job(const GgufFile& in, const GgufTensorInfo& weight) {
  const std::string suffix = kWeightSuffix;
  if (weight.name.size() <= suffix.size() ||
      weight.name.compare(weight.name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    throw UsageError(describe(weight) + ": --scale tensor names the scale after a tensor ending in .weight");
  }
  TensorJob job;
  job.kind = TensorJob::Kind::kProduce;
  job.out.name = weight.name.substr(0, weight.name.size() - suffix.size()) + ".scale";
  if (in.find_tensor(job.out.name) != nullptr) throw UsageError("the input has a tensor " + job.out.name + " already");
  job.out.type = find_type(BITNET_TYPE_F32, Provenance::kMainline);
  job.out.n_dims = 1;
  job.out.size = sizeof(float);
  job.detail = "F32 scale of " + weight.name;
  job.produce = [&in, &weight](uint8_t* dst) {
    bitnet_tensor_stats stats{};
    stats.struct_size = sizeof stats;
    const bitnet_tensor_options options = tensor_options(1);
    check_status(bitnet_tensor_stats_get(weight.type->id, &options, in.tensor_data(weight), weight.size, weight.rows(),
                                         weight.cols(), &stats),
                 describe(weight));
    if (stats.scales != 1 || stats.nonfinite_scales != 0) throw Error(describe(weight) + ": no finite tensor scale");
    std::memcpy(dst, &stats.scale_min, sizeof(float));
  };
  return job;
}

}  // namespace

int run_transcode(const TranscodeOptions& options) {
  const bitnet_type target = ternary_target_type(options.type, "transcode");
  const Provenance engine = engine_of(target);
  const GgufFile in = GgufFile::open(options.in_path);
  const TypeInfo& target_type = *find_type(target, engine);

  if (options.scale_mode != "block" && options.scale_mode != "tensor") {
    throw UsageError("--scale " + printable(options.scale_mode) + " is not a scale mode; use block or tensor");
  }
  const bool tensor_scales = options.scale_mode == "tensor";
  if (tensor_scales && target == BITNET_TYPE_I2_S) {
    throw UsageError("--scale tensor writes mainline's .scale tensors; I2_S holds its one scale itself");
  }
  std::vector<TensorJob> jobs;
  std::size_t ternary = 0;
  for (const GgufTensorInfo& t : in.tensors()) {
    TensorJob job;
    job.file = &in;
    job.in = &t;
    if (target == BITNET_TYPE_I2_S && is_scale_tensor(in, t)) {
      throw UsageError(describe(t) + " scales a ternary tensor (mainline's tensor scale mode); bitnet.cpp loads no "
                       "such tensor and I2_S cannot take it over here: transcode from a file with block scales");
    }
    if (tensor_scales && t.type->ternary != TernaryLayout::kNone && t.type->id != BITNET_TYPE_I2_S) {
      throw UsageError("--scale tensor moves I2_S's per-tensor scale into a .scale tensor; " + describe(t) +
                       " has block scales");
    }
    if (t.type->ternary == TernaryLayout::kNone || (t.type->id == target && !tensor_scales)) {
      job.out = t.type->ternary == TernaryLayout::kNone ? spec_copied(t, engine) : spec_as(t, target_type);
      ternary += t.type->ternary != TernaryLayout::kNone;
      jobs.push_back(std::move(job));
      continue;
    }
    if (!library_type(*t.type) || !library_type_info(t.type->id).ternary) {
      throw UsageError(describe(t) + ": bitnet-quant cannot re-pack " + t.type->name +
                       " (its byte order depends on the kernel's tile parameters)");
    }
    ++ternary;
    job.kind = TensorJob::Kind::kTranscode;
    job.flags = options.exact_scales ? 0 : BITNET_TENSOR_ALLOW_SCALE_ROUNDING;
    if (tensor_scales) job.flags = BITNET_TENSOR_UNIT_SCALE;
    job.out = spec_as(t, target_type);
    jobs.push_back(std::move(job));
    if (tensor_scales) jobs.push_back(scale_tensor_job(in, t));
  }
  if (ternary == 0) {
    throw UsageError(in.name() + " holds no ternary tensor; bitnet-quant quantize ternarizes float weights");
  }
  WriteSettings settings{"transcode", options.out_path, options.force, options.common};
  write_model(output_kvs(in, engine, file_type_of(target)), jobs, settings);
  return kExitOk;
}

}  // namespace bitnet_cli
