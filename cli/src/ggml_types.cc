#include "ggml_types.h"

#include <cctype>
#include <limits>

namespace bitnet_cli {
namespace {

constexpr SizeRule kBlocks = SizeRule::kBlocks;
constexpr TernaryLayout kNotTernary = TernaryLayout::kNone;

// Ids 0..35 mean the same in both engines (bitnet.cpp forked llama.cpp in
// October 2024, after TQ1_0/TQ2_0 landed). Sizes checked against the
// prebuilt's ggml_blck_size / ggml_type_size by the llama_types test.
constexpr TypeInfo kCommonTypes[] = {
    {0, "F32", 1, 4, kBlocks, kNotTernary},
    {1, "F16", 1, 2, kBlocks, kNotTernary},
    {2, "Q4_0", 32, 18, kBlocks, kNotTernary},
    {3, "Q4_1", 32, 20, kBlocks, kNotTernary},
    {6, "Q5_0", 32, 22, kBlocks, kNotTernary},
    {7, "Q5_1", 32, 24, kBlocks, kNotTernary},
    {8, "Q8_0", 32, 34, kBlocks, kNotTernary},
    {9, "Q8_1", 32, 36, kBlocks, kNotTernary},
    {10, "Q2_K", 256, 84, kBlocks, kNotTernary},
    {11, "Q3_K", 256, 110, kBlocks, kNotTernary},
    {12, "Q4_K", 256, 144, kBlocks, kNotTernary},
    {13, "Q5_K", 256, 176, kBlocks, kNotTernary},
    {14, "Q6_K", 256, 210, kBlocks, kNotTernary},
    {15, "Q8_K", 256, 292, kBlocks, kNotTernary},
    {16, "IQ2_XXS", 256, 66, kBlocks, kNotTernary},
    {17, "IQ2_XS", 256, 74, kBlocks, kNotTernary},
    {18, "IQ3_XXS", 256, 98, kBlocks, kNotTernary},
    {19, "IQ1_S", 256, 50, kBlocks, kNotTernary},
    {20, "IQ4_NL", 32, 18, kBlocks, kNotTernary},
    {21, "IQ3_S", 256, 110, kBlocks, kNotTernary},
    {22, "IQ2_S", 256, 82, kBlocks, kNotTernary},
    {23, "IQ4_XS", 256, 136, kBlocks, kNotTernary},
    {24, "I8", 1, 1, kBlocks, kNotTernary},
    {25, "I16", 1, 2, kBlocks, kNotTernary},
    {26, "I32", 1, 4, kBlocks, kNotTernary},
    {27, "I64", 1, 8, kBlocks, kNotTernary},
    {28, "F64", 1, 8, kBlocks, kNotTernary},
    {29, "IQ1_M", 256, 56, kBlocks, kNotTernary},
    {30, "BF16", 1, 2, kBlocks, kNotTernary},
    {34, "TQ1_0", 256, 54, kBlocks, TernaryLayout::kTq1_0},
    {35, "TQ2_0", 256, 66, kBlocks, TernaryLayout::kTq2_0},
    // Mainline removed 36 (an IQ4_NL repacking) from files, so a 36 is
    // bitnet.cpp's I2_S whatever the architecture (its first fork used
    // arch "bitnet").
    {36, "I2_S", 1, 1, SizeRule::kI2sTail, TernaryLayout::kI2s},
};

constexpr TypeInfo kMainlineOnly[] = {
    {39, "MXFP4", 32, 17, kBlocks, kNotTernary},
    {40, "NVFP4", 64, 36, kBlocks, kNotTernary},
    {41, "Q1_0", 128, 18, kBlocks, kNotTernary},
    {42, "Q2_0", 64, 18, kBlocks, TernaryLayout::kQ2_0},
};

constexpr TypeInfo kBitnetCppOnly[] = {
    {38, "TL1", 1, 1, SizeRule::kI2sTail, TernaryLayout::kTl1},
};

template <typename Table>
const TypeInfo* search(const Table& table, int32_t id) {
  for (const TypeInfo& type : table) {
    if (type.id == id) return &type;
  }
  return nullptr;
}

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Provenance provenance_of_architecture(std::string_view architecture) {
  return architecture == "bitnet-b1.58" || architecture == "bitnet-25" ? Provenance::kBitnetCpp
                                                                      : Provenance::kMainline;
}

const char* provenance_name(Provenance provenance) {
  switch (provenance) {
    case Provenance::kMainline:
      return "mainline llama.cpp";
    case Provenance::kBitnetCpp:
      return "bitnet.cpp";
  }
  return "?";
}

const TypeInfo* find_type(int32_t id, Provenance provenance) {
  if (const TypeInfo* common = search(kCommonTypes, id)) return common;
  switch (provenance) {
    case Provenance::kMainline:
      return search(kMainlineOnly, id);
    case Provenance::kBitnetCpp:
      return search(kBitnetCppOnly, id);
  }
  return nullptr;
}

std::string unsupported_type_reason(int32_t id, Provenance provenance) {
  const std::string prefix = "ggml type " + std::to_string(id) + " ";
  const bool removed_everywhere = id == 4 || id == 5 || (id >= 31 && id <= 33);
  if (removed_everywhere || (provenance == Provenance::kMainline && id >= 36 && id <= 38)) {
    return prefix + "was removed from GGUF files by llama.cpp";
  }
  if (provenance == Provenance::kBitnetCpp && id == 37) {
    return prefix + "is bitnet.cpp's I8_S, an activation type that no file stores";
  }
  if (provenance == Provenance::kBitnetCpp && id == 39) {
    return prefix + "is bitnet.cpp's TL2, whose size depends on a kernel tile configuration "
                    "that the file does not record; not supported";
  }
  return prefix + "is unknown to " + provenance_name(provenance);
}

const TypeInfo* find_type_by_name(std::string_view name, Provenance provenance) {
  for (int32_t id = 0; id < 64; ++id) {
    const TypeInfo* type = find_type(id, provenance);
    if (type != nullptr && same_name(type->name, name)) return type;
  }
  return nullptr;
}

std::optional<uint64_t> tensor_bytes(const TypeInfo& type, const int64_t ne[4], std::string* why) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  // The product of the dimensions (zeros counted as ones, so that any
  // partial product such as rows = ne[1]·ne[2]·ne[3] fits as well) must fit
  // in int64_t.
  uint64_t bound = 1;
  uint64_t elements = 1;
  for (int i = 0; i < 4; ++i) {
    if (ne[i] < 0) {
      *why = "dimension " + std::to_string(i) + " is negative (" + std::to_string(ne[i]) + ")";
      return std::nullopt;
    }
    const auto n = static_cast<uint64_t>(ne[i]);
    const uint64_t factor = n == 0 ? 1 : n;
    if (bound > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / factor) {
      *why = "the element count overflows 63 bits";
      return std::nullopt;
    }
    bound *= factor;
    elements *= n;
  }
  switch (type.size_rule) {
    case SizeRule::kBlocks: {
      if (ne[0] % type.block_elements != 0) {
        *why = std::string(type.name) + " needs a row length (ne[0] = " + std::to_string(ne[0]) +
               ") that is a multiple of " + std::to_string(type.block_elements);
        return std::nullopt;
      }
      const uint64_t blocks = elements / static_cast<uint64_t>(type.block_elements);
      if (blocks != 0 && type.block_bytes > kMax / blocks) {
        *why = "the byte size overflows 64 bits";
        return std::nullopt;
      }
      return blocks * type.block_bytes;
    }
    case SizeRule::kI2sTail:
      return elements / 4 + 32;  // bitnet.cpp's ggml_nbytes rule
  }
  *why = "no size rule";
  return std::nullopt;
}

double bits_per_weight(uint64_t bytes, int64_t elements) {
  return elements > 0 ? 8.0 * static_cast<double>(bytes) / static_cast<double>(elements) : 0.0;
}

}  // namespace bitnet_cli
