#include "base/json_writer.h"

#include <charconv>
#include <cmath>

#include "base/base64.h"
#include "base/hex.h"

namespace cairn {

JsonWriter& JsonWriter::Key(std::string_view key) {
  Sep();
  out_->push_back('"');
  AppendEscaped(out_, key);
  out_->append("\":");
  first_ = true;  // the value that follows needs no comma
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  Sep();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_->append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::Base64(std::string_view bytes) {
  Sep();
  out_->push_back('"');
  Base64Encode(bytes, out_);
  out_->push_back('"');
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  Sep();
  if (!std::isfinite(v)) {
    out_->append("null");
    return *this;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  out_->append(buf, r.ptr);
  return *this;
}

void JsonWriter::AppendEscaped(std::string* out, std::string_view s) {
  size_t run = 0;  // start of the current run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', HexDigit(c >> 4), HexDigit(c)};
        out->append(esc, 6);
      }
    }
  }
  out->append(s.data() + run, s.size() - run);
}

}  // namespace cairn
