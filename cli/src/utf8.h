// UTF-8 checks for the strings of GGUF files and safetensors headers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bitnet_cli {

// Well-formed UTF-8 as RFC 3629 defines it: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// The text for a message: at most max_chars bytes, control characters and
// bytes of invalid UTF-8 shown as \xNN, quoted.
std::string printable(std::string_view text, std::size_t max_chars = 80);

}  // namespace bitnet_cli
