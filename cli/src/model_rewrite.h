// What quantize and transcode share: the engine a target type belongs to,
// the KVs of the output (architecture, hyper-parameter prefixes, file type,
// tokenizer fix-ups of gguf-interop.md §3), which tensors a BitNet
// architecture ternarizes, and the streaming write: tensor by tensor from
// the mapped input through the library into an atomic output file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bitnet_quant.h"
#include "commands.h"
#include "gguf_reader.h"
#include "gguf_writer.h"

namespace bitnet_cli {

// The ternary types the writing commands produce, parsed with the
// library's bitnet_type_from_name; a UsageError names the accepted ones.
bitnet_type ternary_target_type(const std::string& name, const char* command);

// bitnet.cpp for I2_S, mainline llama.cpp for the ggml types.
Provenance engine_of(bitnet_type type);

// general.file_type of a file whose ternary tensors are `type`, in the
// numbering of the engine that loads it (llama_ftype; bitnet.cpp's 40).
uint32_t file_type_of(bitnet_type type);

// The input's KVs for a file of `target` engine: every KV copied; when
// the engine changes, the architecture (bitnet <-> bitnet-b1.58) and its
// key prefix renamed, and for mainline tokenizer.ggml.pre = "llama-bpe"
// (gpt2 vocabularies) and bitnet.hidden_activation = "relu2" added where
// absent; general.file_type and general.quantization_version set.
std::vector<GgufKeyValue> output_kvs(const GgufFile& in, Provenance target, uint32_t file_type);

// attn_q/k/v/output and ffn_gate/up/down of a block: the linear weights
// BitNet b1.58 ternarizes.
bool is_ternarized_projection(const std::string& tensor_name);

// One output tensor and how it is made.
struct TensorJob {
  enum class Kind { kCopy, kQuantize, kTranscode, kProduce };
  const GgufFile* file = nullptr;     // kCopy, kQuantize, kTranscode: the input
  const GgufTensorInfo* in = nullptr;  //   and its tensor
  GgufTensorSpec out;
  Kind kind = Kind::kCopy;
  int32_t ternarize = BITNET_TERNARIZE_NONE;  // kQuantize
  uint32_t flags = 0;                         // BITNET_TENSOR_* of kTranscode
  // kProduce: writes the out.size output bytes at dst; in_bytes is what it
  // reads (for progress), detail what the progress line says.
  std::function<void(uint8_t* dst)> produce;
  uint64_t in_bytes = 0;
  std::string detail;
};

// The output spec of `in` stored as `type` (same name and shape), or a
// UsageError naming the tensor and the shape rule it breaks.
GgufTensorSpec spec_as(const GgufTensorInfo& in, const TypeInfo& type);
// The output spec of `in` copied unchanged into a file of `target` engine.
GgufTensorSpec spec_copied(const GgufTensorInfo& in, Provenance target);

// "tensor 'name' (TYPE, shape)".
std::string describe(const GgufTensorInfo& t);

struct WriteSettings {
  std::string verb;  // "quantize", "transcode", "convert"
  std::string out_path;
  bool force = false;
  CommonOptions common;
};

// Writes the output (nothing is left behind on any error) and reports
// progress. Library failures of kTranscode that would change values
// (BITNET_E_INVALID_DATA, BITNET_E_INEXACT_SCALE) are UsageErrors.
void write_model(std::vector<GgufKeyValue> kvs, const std::vector<TensorJob>& jobs, const WriteSettings& settings);

// A transcode status that means the values would change (codes or scales
// the target cannot hold): a UsageError "what refused, ...".
void refuse_changed_values(int status, const std::string& what);

}  // namespace bitnet_cli
