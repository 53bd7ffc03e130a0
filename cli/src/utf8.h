// UTF-8 checks for the strings of GGUF files and safetensors headers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bitnet_cli {

// Well-formed UTF-8 as RFC 3629 defines it: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// Text safe for a terminal: at most max_chars bytes, control characters
// and bytes of invalid UTF-8 shown as \xNN; longer text cut with "...".
std::string escaped(std::string_view text, std::size_t max_chars = 80);

// The same in quotes (a quote inside shown as \x27), for messages.
std::string printable(std::string_view text, std::size_t max_chars = 80);

}  // namespace bitnet_cli
