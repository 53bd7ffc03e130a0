// ggml's IQ2_S grid (iq2s_grid): group g, element j has magnitude
// {8, 25, 43}[digit j of kIq2sGridTrits[g]], digit 0 the least significant.
#include "formats/ggml_rules.h"

namespace bitnet {

const uint16_t kIq2sGridTrits[1024] = {
#include "formats/iq2s_grid.inc"
};

}  // namespace bitnet
