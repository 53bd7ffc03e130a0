#include "model_rewrite.h"

#include <regex>

#include "errors.h"
#include "library.h"
#include "progress.h"
#include "utf8.h"

namespace bitnet_cli {
namespace {

constexpr char kMainlineArchitecture[] = "bitnet";
constexpr char kBitnetCppArchitecture[] = "bitnet-b1.58";
constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION, what llama_model_quantize writes

std::string output_architecture(const std::string& in, Provenance target) {
  if (provenance_of_architecture(in) == target) return in;
  if (in == kMainlineArchitecture && target == Provenance::kBitnetCpp) return kBitnetCppArchitecture;
  if (in == kBitnetCppArchitecture && target == Provenance::kMainline) return kMainlineArchitecture;
  throw UsageError("architecture " + printable(in) + " has no counterpart in " + provenance_name(target) +
                   " (bitnet-quant maps bitnet <-> bitnet-b1.58)");
}

void set_kv(std::vector<GgufKeyValue>& kvs, const std::string& key, GgufValue value, bool replace) {
  for (GgufKeyValue& kv : kvs) {
    if (kv.key == key) {
      if (replace) kv.value = std::move(value);
      return;
    }
  }
  kvs.push_back({key, std::move(value)});
}

}  // namespace

bitnet_type ternary_target_type(const std::string& name, const char* command) {
  const bool q2_0_allowed = std::string(command) != "transcode";
  const std::string accepted = q2_0_allowed ? "tq2_0, tq1_0, q2_0 or i2_s" : "tq2_0, tq1_0 or i2_s";
  bitnet_type type = 0;
  if (bitnet_type_from_name(name.c_str(), &type) != BITNET_OK) {
    throw UsageError("--type " + printable(name) + " is not a type name; " + command + " writes " + accepted);
  }
  if (type == BITNET_TYPE_TQ2_0 || type == BITNET_TYPE_TQ1_0 || type == BITNET_TYPE_I2_S ||
      (q2_0_allowed && type == BITNET_TYPE_Q2_0)) {
    return type;
  }
  throw UsageError(std::string("--type ") + bitnet_type_name(type) + " is not a ternary type that " + command +
                   " writes; it writes " + accepted);
}

Provenance engine_of(bitnet_type type) {
  return type == BITNET_TYPE_I2_S ? Provenance::kBitnetCpp : Provenance::kMainline;
}

uint32_t file_type_of(bitnet_type type) {
  switch (type) {
    case BITNET_TYPE_TQ1_0:
      return 36;  // LLAMA_FTYPE_MOSTLY_TQ1_0
    case BITNET_TYPE_TQ2_0:
      return 37;  // LLAMA_FTYPE_MOSTLY_TQ2_0
    case BITNET_TYPE_Q2_0:
      return 41;  // LLAMA_FTYPE_MOSTLY_Q2_0
    case BITNET_TYPE_I2_S:
      return 40;  // bitnet.cpp's LLAMA_FTYPE_MOSTLY_I2_S
    default:
      throw Error(std::string("no file type for ") + bitnet_type_name(type));
  }
}

std::vector<GgufKeyValue> output_kvs(const GgufFile& in, Provenance target, uint32_t file_type) {
  const std::string& from = in.architecture();
  if (from.empty()) throw Error(in.name() + ": no general.architecture; not a model file");
  const std::string to = output_architecture(from, target);
  std::vector<GgufKeyValue> kvs;
  kvs.reserve(in.kvs().size() + 4);
  for (const GgufKeyValue& kv : in.kvs()) {
    if (kv.key == "general.architecture") {
      kvs.push_back({kv.key, GgufValue::string(to)});
    } else if (kv.key.compare(0, from.size() + 1, from + ".") == 0) {
      kvs.push_back({to + kv.key.substr(from.size()), kv.value});
    } else {
      kvs.push_back(kv);
    }
  }
  if (to != from && target == Provenance::kMainline) {
    const GgufValue* model = in.find("tokenizer.ggml.model");
    if (model != nullptr && model->as_string() != nullptr && *model->as_string() == "gpt2") {
      // Without it mainline tokenizes with its 'default' pre-tokenizer and warns.
      set_kv(kvs, "tokenizer.ggml.pre", GgufValue::string("llama-bpe"), false);
    }
    // BitNet b1.58 2B-4T's FFN activation; mainline's graph ignores it today.
    set_kv(kvs, to + ".hidden_activation", GgufValue::string("relu2"), false);
  }
  set_kv(kvs, "general.file_type", GgufValue::u32(file_type), true);
  set_kv(kvs, "general.quantization_version", GgufValue::u32(kQuantizationVersion), true);
  return kvs;
}

bool is_ternarized_projection(const std::string& tensor_name) {
  static const std::regex projection(R"(blk\.[0-9]+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight)");
  return std::regex_match(tensor_name, projection);
}

std::string describe(const GgufTensorInfo& t) {
  return "tensor " + printable(t.name) + " (" + t.type->name + ", " + t.shape_text() + ")";
}

GgufTensorSpec spec_as(const GgufTensorInfo& in, const TypeInfo& type) {
  GgufTensorSpec spec;
  spec.name = in.name;
  spec.type = &type;
  spec.n_dims = in.n_dims;
  for (int d = 0; d < kGgufMaxDims; ++d) spec.ne[d] = in.ne[d];
  std::string why;
  const auto bytes = tensor_bytes(type, in.ne, &why);
  if (!bytes) {
    std::string hint;
    if (type.id == BITNET_TYPE_TQ1_0 || type.id == BITNET_TYPE_TQ2_0) hint = " (--type q2_0 takes rows whose length is a multiple of 64)";
    throw UsageError(describe(in) + " cannot be stored as " + type.name + ": " + why + hint);
  }
  spec.size = *bytes;
  return spec;
}

GgufTensorSpec spec_copied(const GgufTensorInfo& in, Provenance target) {
  const TypeInfo* type = find_type(in.type->id, target);
  if (type == nullptr || std::string(type->name) != in.type->name) {
    throw UsageError(describe(in) + ": " + provenance_name(target) + " has no type " + in.type->name +
                     "; the tensor cannot be copied into its file");
  }
  return spec_as(in, *type);
}

void write_model(std::vector<GgufKeyValue> kvs, const std::vector<TensorJob>& jobs, const WriteSettings& settings) {
  std::vector<GgufTensorSpec> specs;
  uint64_t total = 0;
  for (const TensorJob& job : jobs) {
    specs.push_back(job.out);
    total += job.kind == TensorJob::Kind::kProduce ? job.in_bytes : job.in->size;
  }
  GgufWriter writer(std::move(kvs), std::move(specs));
  OutputFile out(settings.out_path, settings.force);
  writer.begin(out);
  Progress progress(settings.verb, total, jobs.size(), settings.common.quiet, true);

  std::vector<uint8_t> buffer;
  std::vector<uint8_t> aligned;  // a float input not aligned to its element size
  uint64_t converted = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const TensorJob& job = jobs[i];
    if (job.kind == TensorJob::Kind::kProduce) {
      buffer.resize(job.out.size);
      job.produce(buffer.data());
      writer.write(buffer.data(), buffer.size());
      converted += job.detail.find("->") != std::string::npos;
      progress.advance(job.in_bytes);
      progress.item_done(i, job.out.name, job.detail);
      continue;
    }
    const GgufTensorInfo& t = *job.in;
    const GgufFile& in = *job.file;
    const MappedFile* mapping = in.mapping();
    const uint8_t* src = in.tensor_data(t);
    if (mapping != nullptr) mapping->will_need(in.tensor_file_offset(t), t.size);
    std::string detail;
    if (job.kind == TensorJob::Kind::kCopy) {
      writer.write(src, t.size);
      detail = std::string(t.type->name) + " copied";
    } else {
      ++converted;
      buffer.resize(job.out.size);
      const std::string what = describe(t) + " to " + job.out.type->name;
      int status = BITNET_OK;
      if (job.kind == TensorJob::Kind::kQuantize) {
        if (reinterpret_cast<uintptr_t>(src) % 4 != 0) {  // GGUF aligns data; a file may use alignment 1 or 2
          aligned.assign(src, src + t.size);
          src = aligned.data();
        }
        const bitnet_tensor_options options = tensor_options(settings.common.threads, 0, job.ternarize);
        status = bitnet_tensor_quantize(job.out.type->id, &options, t.type->id, src, t.rows(), t.cols(),
                                        buffer.data(), buffer.size());
      } else {
        const bitnet_tensor_options options = tensor_options(settings.common.threads, job.flags);
        status = bitnet_tensor_transcode(job.out.type->id, &options, t.type->id, src, t.size, t.rows(), t.cols(),
                                         buffer.data(), buffer.size());
        refuse_changed_values(status, what);
      }
      check_status(status, what);
      writer.write(buffer.data(), buffer.size());
      detail = std::string(t.type->name) + " -> " + job.out.type->name;
    }
    if (mapping != nullptr) mapping->release(in.tensor_file_offset(t), t.size);
    progress.advance(t.size);
    progress.item_done(i, t.name, detail);
  }
  writer.finish();
  const char* done = settings.verb == "transcode" ? "transcoded" : settings.verb == "convert" ? "converted" : "quantized";
  progress.finish(std::to_string(jobs.size()) + " tensors (" + std::to_string(converted) + " " + done + "), " +
                  format_bytes(total) + " -> " + format_bytes(writer.file_size()) + " written to " + settings.out_path);
}

void refuse_changed_values(int status, const std::string& what) {
  if (status != BITNET_E_INVALID_DATA && status != BITNET_E_INEXACT_SCALE) return;
  const char* message = bitnet_last_error();
  throw UsageError(what + " refused, the values would change: " +
                   (message != nullptr ? message : bitnet_status_string(status)));
}

}  // namespace bitnet_cli
