// The tool's use of libbitnet_quant, through its public header only: the
// library type of a GGUF tensor type, options, and failures turned into
// Errors that name the tensor and carry the library's message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bitnet_quant.h"
#include "ggml_types.h"

namespace bitnet_cli {

// The library's type of a GGUF tensor type (the ids are GGUF's), if the
// library has a layout for it.
std::optional<bitnet_type> library_type(const TypeInfo& type);

bitnet_type_info library_type_info(bitnet_type type);

// Options with -j threads, flags and the ternarization rule.
bitnet_tensor_options tensor_options(unsigned threads, uint32_t flags = 0,
                                     int32_t ternarize = BITNET_TERNARIZE_NONE);

// A failed call: throws Error("what: the library's message").
void check_status(int status, const std::string& what);

// Bytes of a rows x cols tensor of `type`, or nothing with the library's
// reason (the shape rule it breaks) in *why.
std::optional<std::size_t> library_tensor_size(bitnet_type type, int64_t rows, int64_t cols, std::string* why);

}  // namespace bitnet_cli
