// bitnet-quant transcode IN.gguf OUT.gguf --type T: every ternary tensor
// re-packed into T through the library's bitnet_tensor_transcode (codes
// moved, never through floats), between bitnet.cpp's files (I2_S, arch
// bitnet-b1.58) and mainline's (TQ1_0/TQ2_0, arch bitnet) with the KV
// mapping of model_rewrite.h; everything else copied unchanged. Anything
// that would change a value is refused, except the one rounding the issue
// asks for by default: a per-tensor f32 scale becomes each 256-block's f16
// d, exactly what llama_model_quantize writes (--exact-scales refuses it).
#include "commands.h"
#include "errors.h"
#include "library.h"
#include "model_rewrite.h"

namespace bitnet_cli {

int run_transcode(const TranscodeOptions& options) {
  const bitnet_type target = ternary_target_type(options.type, "transcode");
  const Provenance engine = engine_of(target);
  const GgufFile in = GgufFile::open(options.in_path);
  const TypeInfo& target_type = *find_type(target, engine);

  std::vector<TensorJob> jobs;
  std::size_t ternary = 0;
  for (const GgufTensorInfo& t : in.tensors()) {
    TensorJob job;
    job.file = &in;
    job.in = &t;
    if (t.type->ternary == TernaryLayout::kNone || t.type->id == target) {
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
    job.out = spec_as(t, target_type);
    jobs.push_back(std::move(job));
  }
  if (ternary == 0) {
    throw UsageError(in.name() + " holds no ternary tensor; bitnet-quant quantize ternarizes float weights");
  }
  WriteSettings settings{"transcode", options.out_path, options.force, options.common};
  write_model(output_kvs(in, engine, file_type_of(target)), jobs, settings);
  return kExitOk;
}

}  // namespace bitnet_cli
