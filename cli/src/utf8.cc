#include "utf8.h"

#include <cstdint>
#include <cstdio>

namespace bitnet_cli {
namespace {

// Length of the well-formed sequence starting at text[i], 0 if there is none.
std::size_t sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  uint8_t low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

namespace {

std::string escape(std::string_view text, std::size_t max_chars, bool escape_quote) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size() && i < max_chars) {
    const std::size_t length = sequence_length(text, i);
    const auto lead = static_cast<uint8_t>(text[i]);
    if (length == 0 || (length == 1 && (lead < 0x20 || lead == 0x7F || (escape_quote && lead == '\'')))) {
      char code[8];
      std::snprintf(code, sizeof code, "\\x%02X", lead);
      out += code;
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace

std::string escaped(std::string_view text, std::size_t max_chars) { return escape(text, max_chars, false); }

std::string printable(std::string_view text, std::size_t max_chars) {
  std::string out = "'" + escape(text, max_chars, true) + "'";
  if (text.size() > max_chars) out += " (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace bitnet_cli
