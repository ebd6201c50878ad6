#include "http/http.h"

#include <algorithm>
#include <cstring>

#include "base/hex.h"

namespace cairn::http {

namespace {

constexpr size_t kMinRead = 4096;           // ReadSpace() offers at least this much when it can
constexpr size_t kInitialBuffer = 8192;     // most requests fit
constexpr size_t kMaxChunkLine = 4096;      // a chunk-size line with its extensions
constexpr size_t kShrinkAbove = 256 << 10;  // a buffer grown past this is released after use

// tchar (RFC 9110 5.6.2): the characters of methods, field names and tokens.
bool IsTokenChar(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

// field-vchar, SP and HTAB: what a field value may hold.
bool IsFieldValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Calls f(element) for every element of a comma-separated list (AnyListElement, http.h).
template <typename F>
void ForEachListElement(std::string_view list, F&& f) {
  AnyListElement(list, [&](std::string_view element) {
    f(element);
    return false;
  });
}

}  // namespace

std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

std::string_view Request::Find(std::string_view name) const {
  for (const Header& h : headers)
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  return {};
}

RequestReader::RequestReader(const Limits& limits)
    : limits_(limits),
      // The head, the body, and room for a read's worth of what follows (chunk framing not yet
      // decoded, the start of a pipelined request).
      max_buffer_(limits.max_header_bytes + limits.max_body_bytes + 2 * kMinRead + kMaxChunkLine) {
  fields_.reserve(16);
  headers_.reserve(16);
}

std::span<char> RequestReader::ReadSpace() {
  if (capacity_ - end_ >= kMinRead) return {buf_.get() + end_, capacity_ - end_};
  // Chunked: close the gap between the decoded body and the bytes not yet decoded.
  if (stage_ == Stage::kChunkSize || stage_ == Stage::kChunkData ||
      stage_ == Stage::kChunkDataEnd || stage_ == Stage::kTrailers) {
    const size_t decoded_end = head_len_ + body_len_;
    if (raw_ > decoded_end) {
      std::memmove(at(decoded_end), at(raw_), end_ - begin_ - raw_);
      end_ -= raw_ - decoded_end;
      raw_ = decoded_end;
    }
  }
  // Move the current request to the front.
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (capacity_ - end_ < kMinRead && capacity_ < max_buffer_) {
    size_t want = std::max(kInitialBuffer, capacity_ * 2);
    // A body whose length is known: room for all of it at once.
    if (stage_ == Stage::kBody)
      want = std::max<size_t>(want, head_len_ + content_length_ + kMinRead);
    want = std::min(want, max_buffer_);
    auto grown = std::make_unique<char[]>(want);
    if (end_ > 0) std::memcpy(grown.get(), buf_.get(), end_);
    buf_ = std::move(grown);
    capacity_ = want;
  }
  return {buf_.get() + end_, capacity_ - end_};
}

void RequestReader::Commit(size_t n) { end_ += std::min(n, capacity_ - end_); }

RequestReader::Result RequestReader::Fail(int status, std::string_view message) {
  stage_ = Stage::kFailed;
  error_ = Error{status, message};
  return Result::kError;
}

bool RequestReader::ContinueNeeded() {
  if (!expect_continue_ || stage_ == Stage::kHead || stage_ == Stage::kComplete ||
      stage_ == Stage::kFailed)
    return false;
  expect_continue_ = false;  // once
  return true;
}

void RequestReader::Reset() {
  stage_ = Stage::kHead;
  scanned_ = 0;
  head_len_ = 0;
  method_ = target_ = Span{};
  minor_version_ = 1;
  keep_alive_ = true;
  fields_.clear();
  content_length_ = 0;
  expect_continue_ = false;
  body_len_ = 0;
  raw_ = 0;
  chunk_left_ = 0;
  trailer_bytes_ = 0;
  headers_.clear();
  request_ = Request{};
}

void RequestReader::Done() {
  if (stage_ != Stage::kComplete) return;
  begin_ += raw_;
  if (begin_ == end_) begin_ = end_ = 0;
  Reset();
  // A large body grew the buffer: give the memory back rather than keep it for the connection's
  // life (what is left is at most the start of a pipelined request, rarely more than a read).
  if (capacity_ > kShrinkAbove && end_ - begin_ <= kInitialBuffer) {
    auto small = std::make_unique<char[]>(kInitialBuffer);
    if (end_ > begin_) std::memcpy(small.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    buf_ = std::move(small);
    capacity_ = kInitialBuffer;
  }
}

RequestReader::Result RequestReader::Next() {
  if (stage_ == Stage::kFailed) return Result::kError;
  if (stage_ == Stage::kComplete) return Result::kRequest;
  if (stage_ == Stage::kHead) {
    // Empty lines before a request line are skipped (RFC 9112 2.2).
    while (scanned_ == 0 && end_ - begin_ >= 2 && buf_[begin_] == '\r' && buf_[begin_ + 1] == '\n')
      begin_ += 2;
    if (scanned_ == 0 && end_ - begin_ == 1 && buf_[begin_] == '\r') return Result::kNeedMore;
    const size_t available = end_ - begin_;
    const size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    const std::string_view received(at(0), available);
    const size_t found = received.find("\r\n\r\n", from);
    if (found == std::string_view::npos) {
      scanned_ = available;
      if (available > limits_.max_header_bytes) {
        if (received.substr(0, limits_.max_header_bytes).find("\r\n") == std::string_view::npos)
          return Fail(414, "the request line is longer than the limit");
        return Fail(431, "the request head is larger than the limit");
      }
      return Result::kNeedMore;
    }
    head_len_ = found + 4;
    if (head_len_ > limits_.max_header_bytes) {
      if (received.substr(0, limits_.max_header_bytes).find("\r\n") == std::string_view::npos)
        return Fail(414, "the request line is longer than the limit");
      return Fail(431, "the request head is larger than the limit");
    }
    if (Result r = ParseHead(); r == Result::kError) return r;
  }
  if (stage_ == Stage::kBody) {
    if (end_ - begin_ < head_len_ + content_length_) return Result::kNeedMore;
    body_len_ = content_length_;
    raw_ = head_len_ + content_length_;
    return Complete();
  }
  return DecodeChunks();
}

RequestReader::Result RequestReader::ParseHead() {
  const char* const p = at(0);
  const size_t n = head_len_ - 2;  // up to and including the last field's CRLF
  size_t i = 0;
  // request-line = method SP request-target SP HTTP-version CRLF
  while (i < n && IsTokenChar(static_cast<unsigned char>(p[i]))) ++i;
  if (i == 0 || i >= n || p[i] != ' ') return Fail(400, "malformed request line (method)");
  method_ = Span{0, static_cast<uint32_t>(i)};
  const size_t target_start = ++i;
  while (i<n&& static_cast<unsigned char>(p[i])> 0x20 && p[i] != 0x7f) ++i;
  if (i == target_start || i >= n || p[i] != ' ')
    return Fail(400, "malformed request line (target)");
  target_ = Span{static_cast<uint32_t>(target_start), static_cast<uint32_t>(i - target_start)};
  request_.method = view(method_);  // for the error answer, should the rest fail
  request_.target = view(target_);
  ++i;
  if (n - i < 10 || std::memcmp(p + i, "HTTP/", 5) != 0 || p[i + 5] < '0' || p[i + 5] > '9' ||
      p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9' || p[i + 8] != '\r' || p[i + 9] != '\n')
    return Fail(400, "malformed request line (version)");
  if (p[i + 5] != '1' || (p[i + 7] != '0' && p[i + 7] != '1'))
    return Fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  minor_version_ = p[i + 7] - '0';
  i += 10;

  // field-line = field-name ":" OWS field-value OWS CRLF
  while (i < n) {
    const size_t name_start = i;
    while (i < n && IsTokenChar(static_cast<unsigned char>(p[i]))) ++i;
    if (i == name_start) {
      if (p[i] == ' ' || p[i] == '\t') return Fail(400, "obsolete line folding in a header field");
      return Fail(400, "malformed header field name");
    }
    if (i >= n || p[i] != ':') return Fail(400, "malformed header field (no colon after the name)");
    const size_t name_end = i++;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) ++i;
    const size_t value_start = i;
    while (i < n && p[i] != '\r') {
      if (!IsFieldValueChar(static_cast<unsigned char>(p[i])))
        return Fail(400, "invalid character in a header field value");
      ++i;
    }
    if (i + 1 >= head_len_ || p[i + 1] != '\n')
      return Fail(400, "a header field line must end with CRLF");
    size_t value_end = i;
    while (value_end > value_start && (p[value_end - 1] == ' ' || p[value_end - 1] == '\t'))
      --value_end;
    if (fields_.size() >= limits_.max_headers) return Fail(431, "too many header fields");
    fields_.push_back(Field{
        Span{static_cast<uint32_t>(name_start), static_cast<uint32_t>(name_end - name_start)},
        Span{static_cast<uint32_t>(value_start), static_cast<uint32_t>(value_end - value_start)}});
    i += 2;
  }

  // What the fields say about the connection and the body.
  bool has_length = false, has_transfer_encoding = false, chunked = false, bad_coding = false;
  bool conn_close = false, conn_keep_alive = false;
  for (const Field& f : fields_) {
    const std::string_view name = view(f.name), value = view(f.value);
    if (EqualsIgnoreCase(name, "content-length")) {
      bool ok = true;
      ForEachListElement(value, [&](std::string_view v) {
        uint64_t x = 0;
        if (v.size() > 18) {
          x = UINT64_MAX;  // more than any limit; checked below
          ok = ok && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        } else {
          for (char c : v) {
            if (c < '0' || c > '9') ok = false;
            x = x * 10 + static_cast<uint64_t>(c - '0');
          }
        }
        if (has_length && x != content_length_) ok = false;
        content_length_ = x;
        has_length = true;
      });
      if (!ok || !has_length) return Fail(400, "invalid Content-Length");
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      ForEachListElement(value, [&](std::string_view coding) {
        // chunked must be the only coding, given once.
        if (EqualsIgnoreCase(coding, "chunked") && !chunked && !has_transfer_encoding) {
          chunked = true;
        } else {
          bad_coding = true;
        }
        has_transfer_encoding = true;
      });
    } else if (EqualsIgnoreCase(name, "connection")) {
      ForEachListElement(value, [&](std::string_view option) {
        if (EqualsIgnoreCase(option, "close")) conn_close = true;
        if (EqualsIgnoreCase(option, "keep-alive")) conn_keep_alive = true;
      });
    } else if (EqualsIgnoreCase(name, "expect")) {
      if (!EqualsIgnoreCase(value, "100-continue"))
        return Fail(417, "the only expectation supported is 100-continue");
      expect_continue_ = minor_version_ == 1;  // HTTP/1.0 clients do not wait for it
    }
  }
  keep_alive_ = minor_version_ == 1 ? !conn_close : (conn_keep_alive && !conn_close);
  if (has_transfer_encoding) {
    if (has_length) return Fail(400, "both Content-Length and Transfer-Encoding");
    if (bad_coding || !chunked) return Fail(501, "the only transfer coding supported is chunked");
    if (minor_version_ == 0) keep_alive_ = false;  // RFC 9112 6.1: framing we cannot trust
    raw_ = head_len_;
    stage_ = Stage::kChunkSize;
    return Result::kNeedMore;
  }
  if (content_length_ > limits_.max_body_bytes) {
    expect_continue_ = false;
    return Fail(413, "the request body is larger than the limit");
  }
  stage_ = Stage::kBody;
  return Result::kNeedMore;
}

RequestReader::Result RequestReader::DecodeChunks() {
  for (;;) {
    const size_t available = end_ - begin_;
    switch (stage_) {
      case Stage::kChunkSize: {
        // chunk-size [ chunk-ext ] CRLF
        const std::string_view rest(at(raw_), available - raw_);
        const size_t eol = rest.find("\r\n");
        if (eol == std::string_view::npos) {
          if (rest.size() > kMaxChunkLine) return Fail(400, "a chunk-size line is too long");
          return Result::kNeedMore;
        }
        if (eol > kMaxChunkLine) return Fail(400, "a chunk-size line is too long");
        uint64_t size = 0;
        size_t digits = 0;
        for (; digits < eol; ++digits) {
          const int v = HexValue(rest[digits]);
          if (v < 0) break;
          if (digits >= 15) return Fail(413, "the request body is larger than the limit");
          size = size * 16 + static_cast<uint64_t>(v);
        }
        if (digits == 0) return Fail(400, "malformed chunk size");
        // Extensions (";name=value", whitespace around) are read and ignored.
        std::string_view ext = TrimWhitespace(rest.substr(digits, eol - digits));
        if (!ext.empty() && ext.front() != ';') return Fail(400, "malformed chunk size");
        for (char c : ext)
          if (!IsFieldValueChar(static_cast<unsigned char>(c)))
            return Fail(400, "invalid character in a chunk extension");
        raw_ += eol + 2;
        if (size == 0) {
          stage_ = Stage::kTrailers;
          break;
        }
        if (body_len_ + size > limits_.max_body_bytes) {
          expect_continue_ = false;
          return Fail(413, "the request body is larger than the limit");
        }
        chunk_left_ = size;
        stage_ = Stage::kChunkData;
        break;
      }
      case Stage::kChunkData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_left_, available - raw_));
        if (n == 0) return Result::kNeedMore;
        // In place: the decoded body grows at its end, never past the encoded bytes.
        if (raw_ != head_len_ + body_len_) std::memmove(at(head_len_ + body_len_), at(raw_), n);
        body_len_ += n;
        raw_ += n;
        chunk_left_ -= n;
        if (chunk_left_ == 0) stage_ = Stage::kChunkDataEnd;
        break;
      }
      case Stage::kChunkDataEnd:
        if (available - raw_ < 2) return Result::kNeedMore;
        if (*at(raw_) != '\r' || *at(raw_ + 1) != '\n')
          return Fail(400, "chunk data must be followed by CRLF");
        raw_ += 2;
        stage_ = Stage::kChunkSize;
        break;
      case Stage::kTrailers: {
        // *( field-line CRLF ) CRLF; the fields are dropped.
        const std::string_view rest(at(raw_), available - raw_);
        const size_t eol = rest.find("\r\n");
        if (eol == std::string_view::npos) {
          if (trailer_bytes_ + rest.size() > limits_.max_header_bytes)
            return Fail(431, "the trailer fields are larger than the limit");
          return Result::kNeedMore;
        }
        trailer_bytes_ += eol + 2;
        if (trailer_bytes_ > limits_.max_header_bytes)
          return Fail(431, "the trailer fields are larger than the limit");
        raw_ += eol + 2;
        if (eol == 0) return Complete();
        const std::string_view line = rest.substr(0, eol);
        const size_t colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos ||
            !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                         [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); }))
          return Fail(400, "malformed trailer field");
        break;
      }
      default:
        return Fail(400, "internal parser state");  // unreachable
    }
  }
}

RequestReader::Result RequestReader::Complete() {
  stage_ = Stage::kComplete;
  expect_continue_ = false;
  headers_.clear();
  for (const Field& f : fields_) headers_.push_back(Header{view(f.name), view(f.value)});
  request_.method = view(method_);
  request_.target = view(target_);
  request_.minor_version = minor_version_;
  request_.keep_alive = keep_alive_;
  request_.headers = headers_;
  request_.body = std::string_view(at(head_len_), body_len_);
  return Result::kRequest;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    default:
      return "Unknown";
  }
}

namespace {

void AppendNumber(std::string* out, uint64_t x) {
  char digits[24];
  char* p = digits + sizeof digits;
  do {
    *--p = static_cast<char>('0' + x % 10);
    x /= 10;
  } while (x != 0);
  out->append(p, static_cast<size_t>(digits + sizeof digits - p));
}

}  // namespace

void AppendResponseHead(std::string* out, int minor_version, int status,
                        std::span<const Header> headers, size_t content_length, bool keep_alive) {
  out->append(minor_version == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
  AppendNumber(out, static_cast<uint64_t>(status < 100 || status > 999 ? 500 : status));
  out->push_back(' ');
  out->append(ReasonPhrase(status));
  out->append("\r\n");
  for (const Header& h : headers) {
    out->append(h.name);
    out->append(": ");
    out->append(h.value);
    out->append("\r\n");
  }
  if (status >= 200 && status != 204 && status != 304) {
    out->append("Content-Length: ");
    AppendNumber(out, content_length);
    out->append("\r\n");
  }
  if (minor_version == 0 && keep_alive) out->append("Connection: keep-alive\r\n");
  if (minor_version != 0 && !keep_alive) out->append("Connection: close\r\n");
  out->append("\r\n");
}

}  // namespace cairn::http
