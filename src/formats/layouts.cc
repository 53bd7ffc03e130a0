#include "formats/layouts.h"

#include <strings.h>

#include <cstdint>


namespace bitnet {
namespace {

constexpr size_t kNumLayouts = sizeof(kLayoutTable) / sizeof(kLayoutTable[0]);
static_assert(kNumLayouts == static_cast<size_t>(LayoutId::kBitnetRsI2S) + 1,
              "kLayoutTable is indexed by LayoutId");

}  // namespace

const Layout& GetLayout(LayoutId id) { return LayoutOf(id); }

const Layout* FindLayout(bitnet_type type) {
  for (const Layout& l : kLayoutTable) {
    if (l.type == type) return &l;
  }
  return nullptr;
}

const char* LayoutName(bitnet_type type) {
  const Layout* l = FindLayout(type);
  return l != nullptr ? l->name : "unknown";
}

int LayoutFromName(const char* name, bitnet_type* type) {
  for (const Layout& l : kLayoutTable) {
    if (strcasecmp(name, l.name) == 0) {
      *type = l.type;
      return BITNET_OK;
    }
  }
  return BITNET_E_INVALID_TYPE;
}

TensorParts PartsOf(const Layout& l, size_t n, uint32_t rs_block) {
  TensorParts p{};
  const size_t block = static_cast<size_t>(BlockElements(l, rs_block));
  p.num_blocks = n / block + (n % block != 0);
  if (l.scale == ScaleKind::kBlockF32Planar) {
    p.codes_bytes = n / 4 + (n % 4 != 0);
    p.scales_offset = p.codes_bytes;
    p.total = p.codes_bytes + 4 * p.num_blocks;
  } else {
    p.codes_bytes = p.num_blocks * l.block_bytes;
    p.scales_offset = p.codes_bytes;
    p.total = p.codes_bytes + l.tail_bytes;
  }
  return p;
}

}  // namespace bitnet
