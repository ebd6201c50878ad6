// http: the server side of HTTP/1.1 without I/O — requests parsed from the bytes a connection
// reads, response heads rendered into a string — allocation-free per request once a connection's
// buffers have grown to its requests' size. The server runs it over its Asio sockets; nothing here
// knows about sockets, threads or JSON.
//
// RequestReader owns one connection's input. The connection reads into ReadSpace(), Commit()s what
// it read, and calls Next():
//   kRequest   a complete request is in request(); its views stay valid until Done(), which drops
//              its bytes and keeps whatever followed it (a pipelined request) for the next Next().
//   kNeedMore  read more (first sending "100 Continue" when ContinueNeeded() says so).
//   kError     error() says what to answer; then close the connection (where the next request
//              would start cannot be known).
//
// What it accepts (RFC 9112, server side): HTTP/1.0 and HTTP/1.1 request lines (empty lines before
// one are skipped); header fields (no obs-fold); bodies framed by Content-Length or by
// Transfer-Encoding: chunked (decoded in place; chunk extensions and trailer fields are read and
// dropped); pipelined requests. What it refuses, each with a status and a one-line reason:
//   400  malformed request line, header field or chunk; Content-Length together with
//        Transfer-Encoding; conflicting Content-Lengths
//   413  a body over Limits::max_body_bytes (known from Content-Length before the body is read)
//   414  a request line longer than Limits::max_header_bytes
//   417  an Expect other than 100-continue
//   431  a head over Limits::max_header_bytes or with more than Limits::max_headers fields
//   501  a transfer coding other than chunked
//   505  an HTTP version other than 1.0 and 1.1
//
// Thread-safety: none; one RequestReader per connection, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::http {

struct Limits {
  size_t max_header_bytes = 64 << 10;  // request line + header fields (+ trailer fields)
  size_t max_headers = 100;            // header fields
  size_t max_body_bytes = 8 << 20;     // the body as delivered (decoded, when chunked)
};

struct Header {
  std::string_view name;
  std::string_view value;  // without surrounding whitespace
};

// ASCII case-insensitive equality (header names, tokens).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// `s` without leading and trailing spaces and tabs.
std::string_view TrimWhitespace(std::string_view s);

// Calls f(element) for each element of a comma-separated header value (RFC 9110 §5.6.1),
// trimmed, empty elements skipped, until f returns true; true when one did.
template <typename F>
bool AnyListElement(std::string_view list, F&& f) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view element = TrimWhitespace(list.substr(0, comma));
    if (!element.empty() && f(element)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

struct Request {
  std::string_view method;  // as sent: methods are case-sensitive
  std::string_view target;  // as sent, e.g. "/v2/pipeline?x=1"
  int minor_version = 1;    // HTTP/1.<minor_version>
  // HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
  bool keep_alive = true;
  std::span<const Header> headers;  // in the order received
  std::string_view body;            // empty when the request has none

  // The value of the first field named `name` (case-insensitive); empty when there is none.
  std::string_view Find(std::string_view name) const;
  // The target up to '?'.
  std::string_view path() const { return target.substr(0, target.find('?')); }
};

struct Error {
  int status = 0;            // 400, 413, 414, 417, 431, 501 or 505
  std::string_view message;  // one line, a string literal
};

class RequestReader {
 public:
  enum class Result { kNeedMore, kRequest, kError };

  explicit RequestReader(const Limits& limits);
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // Where to read the next bytes: never empty while a request may still need bytes (the buffer
  // grows up to what the limits allow; Next() reports a request too large before that).
  std::span<char> ReadSpace();
  // `n` bytes were read into the start of the last ReadSpace().
  void Commit(size_t n);

  // Parses what has been received. After kRequest, calls return kRequest again until Done();
  // after kError, they return kError.
  Result Next();
  // After kRequest, the request. After kError, its method and target when its request line was
  // read (empty otherwise).
  const Request& request() const { return request_; }
  const Error& error() const { return error_; }

  // True once per request: its head asked `Expect: 100-continue` (HTTP/1.1), the head has been
  // read, its body has not, and nothing is wrong with it. The connection then writes
  // "HTTP/1.1 100 Continue\r\n\r\n" before reading on.
  bool ContinueNeeded();

  // The request returned by Next() has been answered: forget it, keep the bytes after it.
  void Done();

  // Bytes received and not yet part of an answered request (the current one included).
  size_t buffered() const { return end_ - begin_; }
  // Those bytes (after Done(): what followed the answered request, e.g. the first WebSocket
  // frames behind an upgrade request).
  std::string_view Buffered() const { return std::string_view(buf_.get() + begin_, end_ - begin_); }
  // The input buffer's size: it grows to hold a request (within the limits) and goes back to a
  // few KiB after a large one has been answered.
  size_t capacity() const { return capacity_; }

 private:
  enum class Stage {
    kHead,
    kBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kComplete,
    kFailed
  };
  struct Span {
    uint32_t offset = 0;  // from the start of the request (begin_)
    uint32_t length = 0;
  };
  struct Field {
    Span name, value;
  };

  Result Fail(int status, std::string_view message);
  Result ParseHead();
  Result DecodeChunks();
  Result Complete();
  void Reset();
  char* at(size_t offset) { return buf_.get() + begin_ + offset; }
  std::string_view view(Span s) const {
    return std::string_view(buf_.get() + begin_ + s.offset, s.length);
  }

  const Limits limits_;
  const size_t max_buffer_;  // what the buffer may grow to
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // the current request's first byte
  size_t end_ = 0;    // one past the last byte received

  // The current request; offsets are from begin_.
  Stage stage_ = Stage::kHead;
  size_t scanned_ = 0;   // the search for the head's end resumes here
  size_t head_len_ = 0;  // request line + fields + the empty line
  Span method_, target_;
  int minor_version_ = 1;
  bool keep_alive_ = true;
  std::vector<Field> fields_;  // capacity kept across requests
  uint64_t content_length_ = 0;
  bool expect_continue_ = false;
  size_t body_len_ = 0;      // body bytes in place, at head_len_
  size_t raw_ = 0;           // chunked: the next encoded byte not yet decoded
  uint64_t chunk_left_ = 0;  // chunked: data bytes left in the current chunk
  size_t trailer_bytes_ = 0;

  std::vector<Header> headers_;  // views for request_; capacity kept
  Request request_;
  Error error_;
};

// The standard reason phrase of `status` ("OK", "Not Found", ...); "Unknown" for others.
std::string_view ReasonPhrase(int status);

// Appends the head of a response to `out`: the status line (HTTP/1.<minor_version>), `headers` as
// given, Content-Length (except for 1xx, 204 and 304), the Connection field the version needs to
// say `keep_alive`, and the empty line. For HEAD, pass the length GET's body would have had and
// send no body.
void AppendResponseHead(std::string* out, int minor_version, int status,
                        std::span<const Header> headers, size_t content_length, bool keep_alive);

}  // namespace cairn::http
