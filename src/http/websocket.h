// websocket: the server side of WebSocket (RFC 6455) without I/O — the opening handshake checked
// and answered from a parsed `Request`, client frames read into messages, server frames rendered
// into a string. The server runs it over the socket of a connection whose upgrade request it
// accepted; nothing here knows about sockets, threads or Hrana.
//
// The handshake. For a request IsUpgradeRequest() says asks for WebSocket, CheckUpgrade() says
// whether it may be accepted (an empty string) or why not (answer 400 with that reason; when it is
// the version, RFC 6455 §4.4 wants `Sec-WebSocket-Version: 13` in the answer). Accepting is
// answering
//   HTTP/1.1 101 Switching Protocols
//   Upgrade: websocket
//   Connection: Upgrade
//   Sec-WebSocket-Accept: <AcceptKey(request's Sec-WebSocket-Key)>
//   Sec-WebSocket-Protocol: <ChooseSubprotocol(...)>        (only when one was chosen)
// after which both directions carry frames.
//
// Frames, as RFC 6455 §5.2 draws them (client frames are always masked, server frames never):
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-------+-+-------------+-------------------------------+
//   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//   |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//   | |1|2|3|       |K|             |                               |
//   +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//   |     Extended payload length continued, if payload len == 127  |
//   + - - - - - - - - - - - - - - - +-------------------------------+
//   |                               |Masking-key, if MASK set to 1  |
//   +-------------------------------+-------------------------------+
//   | Masking-key (continued)       |          Payload Data         |
//   +-------------------------------- - - - - - - - - - - - - - - -+
//
// FrameReader owns one connection's input after the handshake, used like RequestReader: read into
// ReadSpace(), Commit() what was read, call Next() until kNeedMore. It returns whole data messages
// (fragments reassembled, payload unmasked) and control frames (close, ping, pong) the moment they
// are complete, even between the fragments of a data message. Answering them is the connection's
// job: a ping with a pong carrying its payload; a close with a close (echoing CloseCode() of its
// payload), after which the connection stops reading and closes the socket. On kError, the
// connection sends AppendClose(close_code(), error()) and closes.
//
// Thread-safety: none; one FrameReader per connection, used by one thread at a time. The free
// functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "http/http.h"

namespace cairn::http::ws {

// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key:
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string AcceptKey(std::string_view client_key);

// True when the request's Upgrade field lists the token "websocket" (case-insensitive). The server
// must then accept or refuse it as a WebSocket handshake, never answer it as a plain GET.
bool IsUpgradeRequest(const Request& req);

// Whether RFC 6455 §4.2.1 lets the server accept the upgrade request: method GET, HTTP/1.1, an
// Upgrade field listing "websocket" and a Connection field listing "upgrade" (both tokens
// case-insensitive, in comma-separated lists, any of several fields), Sec-WebSocket-Version 13, and
// a Sec-WebSocket-Key that is 16 bytes in base64 (24 characters ending in "=="). Empty when it
// may; otherwise a one-line reason (a string literal) for a 400 answer.
std::string_view CheckUpgrade(const Request& req);

// The subprotocol to answer in Sec-WebSocket-Protocol: the first element of `supported` (the
// server's order of preference) that appears in `offered`, the client's comma-separated list
// (compared exactly: subprotocol names are case-sensitive). The view returned is the element of
// `supported`; empty when the client offered none of them.
std::string_view ChooseSubprotocol(std::string_view offered,
                                   std::span<const std::string_view> supported);

enum class Opcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10
};

struct Message {
  // kText or kBinary: a whole data message, reassembled from its fragments. kClose, kPing, kPong:
  // one control frame.
  Opcode opcode = Opcode::kText;
  std::string payload;  // unmasked; a text message's is valid UTF-8
};

class FrameReader {
 public:
  enum class Result { kMessage, kNeedMore, kError };

  // A data message (all its fragments together) over `max_message_bytes` is an error (close code
  // 1009), known from a frame's header before its payload is read.
  explicit FrameReader(size_t max_message_bytes);
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // Where to read the next bytes: never empty. Payload bytes are unmasked into the message as they
  // arrive, so the buffer stays small (a few KiB, up to 64 KiB while a large frame streams in)
  // whatever the message size.
  std::span<char> ReadSpace();
  // `n` bytes were read into the start of the last ReadSpace().
  void Commit(size_t n);
  // Bytes that arrived before the reader existed: those the HTTP reader had received after the
  // upgrade request.
  void Feed(std::string_view bytes);

  // Reads on from what has been received.
  //   kMessage   *out holds a complete data message or one control frame; call Next() again, more
  //              may be buffered already.
  //   kNeedMore  read more.
  //   kError     close_code() and error() say why; every later call returns kError again.
  // A close frame is returned like any other; what follows it is not the peer's to send, and the
  // connection stops calling Next() after it.
  Result Next(Message* out);

  // After kError: 1002 (protocol error), 1007 (a text message or close reason that is not UTF-8)
  // or 1009 (a message over the limit). 0 before.
  uint16_t close_code() const { return close_code_; }
  // After kError: one line saying why (a string literal). Empty before.
  std::string_view error() const { return error_; }

 private:
  enum class Stage { kHeader, kPayload, kFailed };

  Result Fail(uint16_t code, std::string_view message);
  // Makes room for `n` more bytes after end_, moving the unread bytes to the front first.
  void Reserve(size_t n);

  const size_t max_message_bytes_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // the first byte not yet read by Next()
  size_t end_ = 0;    // one past the last byte received

  Stage stage_ = Stage::kHeader;
  // The frame whose payload is being read (stage kPayload).
  Opcode frame_opcode_ = Opcode::kText;
  bool frame_fin_ = false;
  uint64_t frame_left_ = 0;  // payload bytes not yet received
  uint8_t mask_[4] = {};
  size_t mask_offset_ = 0;  // payload bytes already unmasked, mod 4

  // The data message being reassembled (from its first frame's header to its last frame's end).
  bool in_message_ = false;
  Opcode message_opcode_ = Opcode::kText;
  std::string message_;
  std::string control_;  // the control frame being read

  uint16_t close_code_ = 0;
  std::string_view error_;
};

// Appends one server frame: FIN set, not masked, the payload length in the shortest form.
void AppendFrame(std::string* out, Opcode opcode, std::string_view payload);

// Appends a close frame whose payload is `code` (network order) and `reason`, cut to fit the 125
// bytes a control frame may carry (at a UTF-8 character boundary). Code 1005 ("no status", what
// CloseCode() reports for a close without one) is never sent: it yields a close with no payload,
// the right echo of such a close.
void AppendClose(std::string* out, uint16_t code, std::string_view reason);

// The status code of a received close frame's payload: 1005 when it has none.
uint16_t CloseCode(std::string_view close_payload);

}  // namespace cairn::http::ws
