// go_quote.cpp — Go's strconv.Quote (fmt's %q) for the texts that must
// read as Go prints them: gortd's 400 replies (`bad parameter n="abc"`) and
// the goroutine profile's `# labels: {"k":"v"}` line.
#include "profilers/go_quote.h"

#include <cstdint>
#include <cstdio>

namespace profilers {

namespace {

// utf8_len returns the length of the valid UTF-8 sequence starting at s[i],
// or 0 if the bytes there are not valid UTF-8.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) {
    n = 2;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4;
    cp = b & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

uint32_t decode_utf8(std::string_view seq) {
  static const unsigned char kLeadMask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  uint32_t cp = static_cast<unsigned char>(seq[0]) & kLeadMask[seq.size()];
  for (size_t k = 1; k < seq.size(); k++) cp = (cp << 6) | (static_cast<unsigned char>(seq[k]) & 0x3F);
  return cp;
}

// unicode_printable approximates Go's unicode.IsPrint for code points past
// ASCII: it rejects the C1 controls and the space, format and separator
// characters Go escapes in %q (NBSP, soft hyphen, zero-width and
// directional marks, line/paragraph separators, BOM, ...).
bool unicode_printable(uint32_t cp) {
  if (cp < 0xA0) return false;  // C1 controls
  if (cp == 0xA0 || cp == 0xAD || cp == 0x061C || cp == 0x180E || cp == 0x3000 || cp == 0xFEFF) return false;
  if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x206F)) return false;
  if (cp >= 0xFFF9 && cp <= 0xFFFB) return false;
  if ((cp & 0xFFFE) == 0xFFFE || (cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000) return false;  // non-characters, private use
  return true;
}

}  // namespace

std::string go_quote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) {
      size_t n = utf8_len(s, i);
      if (n == 0) {
        out += "\\x";
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
        i++;
      } else {
        uint32_t cp = decode_utf8(s.substr(i, n));
        if (unicode_printable(cp)) {
          out.append(s.substr(i, n));
        } else {
          char buf[12];
          std::snprintf(buf, sizeof buf, cp > 0xFFFF ? "\\U%08x" : "\\u%04x", cp);
          out += buf;
        }
        i += n;
      }
      continue;
    }
    switch (b) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (b < 0x20 || b == 0x7f) {
          out += "\\x";
          out.push_back(kHex[b >> 4]);
          out.push_back(kHex[b & 15]);
        } else {
          out.push_back(static_cast<char>(b));
        }
    }
    i++;
  }
  out += '"';
  return out;
}

}  // namespace profilers
