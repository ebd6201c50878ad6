// JsonWriter: appends compact JSON to a std::string, with no allocation beyond the string's growth.
//
// Used on the response path of every request, so it is deliberately small and branch-light. Commas
// are placed automatically; the caller is responsible for well-formed nesting (checked by assert in
// debug). Strings are written as given (UTF-8 passes through); control characters, quotes and
// backslashes are escaped. Non-finite doubles are written as null (JSON cannot carry them).
//
// A writer made on a string starts where a value goes: its first value gets no comma, so a caller
// may write one value into JSON it built itself. A writer is a small value (the string and whether
// the next value needs a comma): a copy taken before writing, assigned back once the string is cut
// back to its size then, undoes what was written.
//
// Thread-safety: a writer and its string are used by one thread at a time.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace cairn {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject() {
    Sep();
    out_->push_back('{');
    first_ = true;
    return *this;
  }
  JsonWriter& EndObject() {
    out_->push_back('}');
    first_ = false;
    return *this;
  }
  JsonWriter& BeginArray() {
    Sep();
    out_->push_back('[');
    first_ = true;
    return *this;
  }
  JsonWriter& EndArray() {
    out_->push_back(']');
    first_ = false;
    return *this;
  }
  // Writes "key": — the next value call writes the value without a comma.
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view s) {
    Sep();
    out_->push_back('"');
    AppendEscaped(out_, s);
    out_->push_back('"');
    return *this;
  }
  JsonWriter& Int(int64_t v) {
    Sep();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_->append(buf, r.ptr);
    return *this;
  }
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v) {
    Sep();
    out_->append(v ? "true" : "false");
    return *this;
  }
  JsonWriter& Null() {
    Sep();
    out_->append("null");
    return *this;
  }
  // An integer written as a JSON string ("123"), as Hrana requires for 64-bit integers.
  JsonWriter& IntAsString(int64_t v) {
    Sep();
    char buf[24];
    buf[0] = '"';
    auto r = std::to_chars(buf + 1, buf + sizeof buf - 1, v);
    *r.ptr++ = '"';
    out_->append(buf, r.ptr);
    return *this;
  }
  // Bytes written as a JSON string of their padded standard base64 form.
  JsonWriter& Base64(std::string_view bytes);
  // Pre-encoded JSON that ends where a value goes: a key (`"value":`), or the head of an object
  // or array up to its next value (`{"type":"text","value":`, `[`). A comma goes before it when
  // needed, none after it; a comma that `json` starts with stands for that one (`,"rows":[` is
  // written whole after a value, without its comma first in an object). For literals on hot
  // paths: one append instead of a call per token.
  JsonWriter& RawPrefix(std::string_view json) {
    if (!json.empty() && json.front() == ',') {
      if (first_) json.remove_prefix(1);
    } else {
      Sep();
    }
    out_->append(json);
    first_ = true;
    return *this;
  }
  // Pre-encoded JSON, inserted as one value.
  JsonWriter& Raw(std::string_view json) {
    Sep();
    out_->append(json);
    return *this;
  }

  // Appends `s` escaped (without quotes) to `out`.
  static void AppendEscaped(std::string* out, std::string_view s);

 private:
  void Sep() {
    if (!first_) out_->push_back(',');
    first_ = false;
  }
  std::string* out_;
  bool first_ = true;
};

}  // namespace cairn
