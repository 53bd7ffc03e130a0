// The ggml tensor types a GGUF file can hold, as data: block geometry and
// the size rule, per engine. Ids collide between mainline llama.cpp and
// bitnet.cpp (36 = I2_S in bitnet.cpp, a removed IQ4_NL variant in mainline;
// 39 = TL2 there, MXFP4 here), so a type is looked up with the file's
// provenance, which its architecture decides (gguf-interop.md §6).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitnet_cli {

enum class Provenance { kMainline, kBitnetCpp };

// Architectures only bitnet.cpp's llama.cpp fork knows.
Provenance provenance_of_architecture(std::string_view architecture);
const char* provenance_name(Provenance provenance);

enum class SizeRule {
  kBlocks,   // rows * (cols / block_elements) * block_bytes; cols % block_elements == 0
  kI2sTail,  // bitnet.cpp's I2_S and TL1: elements / 4 + 32 (codes, then a 32-byte tail)
};

enum class TernaryLayout {
  kNone,   // not a ternary layout
  kTq1_0,  // mainline: 256-blocks, base-3 codes, f16 d last
  kTq2_0,  // mainline: 256-blocks, 2-bit codes, f16 d last
  kQ2_0,   // mainline: 64-blocks, f16 d first, 2-bit codes (exact for ternary)
  kI2s,    // bitnet.cpp: 128-blocks of 32 bytes, f32 scale in a 32-byte tail
  kTl1,    // bitnet.cpp: LUT layout whose byte order depends on tile parameters
};

struct TypeInfo {
  int32_t id;
  const char* name;  // as llama.cpp prints it, e.g. "TQ2_0"
  int64_t block_elements;
  uint64_t block_bytes;
  SizeRule size_rule;
  TernaryLayout ternary;
};

// nullptr when the id means nothing a file can hold for that engine; then
// unsupported_type_reason() says why.
const TypeInfo* find_type(int32_t id, Provenance provenance);
std::string unsupported_type_reason(int32_t id, Provenance provenance);

// Case-insensitive ("tq2_0", "TQ2_0", "f16"); nullptr if unknown.
const TypeInfo* find_type_by_name(std::string_view name, Provenance provenance);

// Bytes of a tensor with ggml dims ne[0..3] (ne[0] = columns, the
// contiguous dimension), or nothing with the reason in *why.
std::optional<uint64_t> tensor_bytes(const TypeInfo& type, const int64_t ne[4], std::string* why);

// Storage bits per weight of a tensor of `elements` elements in `bytes`.
double bits_per_weight(uint64_t bytes, int64_t elements);

}  // namespace bitnet_cli
