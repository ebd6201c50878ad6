#include "http/websocket.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/base64.h"

namespace cairn::http::ws {

namespace {

constexpr size_t kInitialBuffer = 4096;  // most messages' frames fit
constexpr size_t kMinRead = 1024;        // ReadSpace() offers at least this much
constexpr size_t kMaxRead = 64 << 10;    // ... and at most this much while a large frame streams in
constexpr size_t kShrinkAbove = 16 << 10;   // a buffer grown past this is released between messages
constexpr size_t kMaxControlPayload = 125;  // RFC 6455 §5.5
constexpr size_t kMaxCloseReason = kMaxControlPayload - 2;

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 §1.3

// Whether any field named `name` lists `token` (both case-insensitive).
bool FieldHasToken(const Request& req, std::string_view name, std::string_view token) {
  for (const Header& h : req.headers) {
    if (EqualsIgnoreCase(h.name, name) &&
        AnyListElement(h.value, [&](std::string_view e) { return EqualsIgnoreCase(e, token); }))
      return true;
  }
  return false;
}

// RFC 3629: no overlong forms, no surrogates, nothing over U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {  // ASCII, 8 bytes at a time
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte, C0/C1 (always overlong) or F5..FF
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

// XORs `n` payload bytes with the masking key, `offset` being their position in the payload.
void Unmask(char* data, size_t n, const uint8_t mask[4], size_t offset) {
  uint8_t key[8];
  for (size_t k = 0; k < 8; ++k) key[k] = mask[(offset + k) & 3];
  size_t i = 0;
  if (n >= 8) {
    uint64_t key64;
    std::memcpy(&key64, key, 8);
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, data + i, 8);
      w ^= key64;
      std::memcpy(data + i, &w, 8);
    }
  }
  for (; i < n; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 3]);
}

// The codes an endpoint may send in a close frame (RFC 6455 §7.4, and the IANA registry's
// 1012-1014); 1005, 1006 and 1015 are for reporting only, never on the wire.
bool IsValidCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

bool IsKnownOpcode(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

}  // namespace

std::string AcceptKey(std::string_view client_key) {
  std::string input;
  input.reserve(client_key.size() + kGuid.size());
  input.append(client_key).append(kGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr) != 1) return {};
  std::string out;
  Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), len), &out);
  return out;
}

bool IsUpgradeRequest(const Request& req) { return FieldHasToken(req, "upgrade", "websocket"); }

std::string_view CheckUpgrade(const Request& req) {
  if (req.method != "GET") return "a WebSocket upgrade must be a GET";
  if (req.minor_version != 1) return "a WebSocket upgrade needs HTTP/1.1";
  if (!IsUpgradeRequest(req)) return "Upgrade does not list websocket";
  if (!FieldHasToken(req, "connection", "upgrade")) return "Connection does not list upgrade";
  if (req.Find("sec-websocket-version") != "13") return "Sec-WebSocket-Version must be 13";
  const std::string_view key = req.Find("sec-websocket-key");
  const std::optional<std::string> nonce =
      Base64Decode(key, {Base64Alphabet::kStandard, Base64Padding::kRequired, false});
  if (!nonce || nonce->size() != 16) return "Sec-WebSocket-Key is not 16 bytes in base64";
  return {};
}

std::string_view ChooseSubprotocol(std::string_view offered,
                                   std::span<const std::string_view> supported) {
  for (const std::string_view s : supported) {
    if (!s.empty() && AnyListElement(offered, [&](std::string_view e) { return e == s; })) return s;
  }
  return {};
}

FrameReader::FrameReader(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

void FrameReader::Reserve(size_t n) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (capacity_ - end_ >= n) return;
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (capacity_ - end_ >= n) return;
  }
  const size_t want = std::max({kInitialBuffer, capacity_ * 2, end_ + n});
  auto grown = std::make_unique<char[]>(want);
  if (end_ > 0) std::memcpy(grown.get(), buf_.get(), end_);
  buf_ = std::move(grown);
  capacity_ = want;
}

std::span<char> FrameReader::ReadSpace() {
  // Between messages, with nothing buffered: give back what a large message made the buffer grow
  // to.
  if (begin_ == end_ && stage_ == Stage::kHeader && !in_message_ && capacity_ > kShrinkAbove) {
    buf_.reset();
    capacity_ = begin_ = end_ = 0;
  }
  size_t want = kMinRead;
  if (stage_ == Stage::kPayload && frame_left_ > want)
    want = static_cast<size_t>(std::min<uint64_t>(frame_left_, kMaxRead));
  Reserve(want);
  return {buf_.get() + end_, capacity_ - end_};
}

void FrameReader::Commit(size_t n) { end_ += std::min(n, capacity_ - end_); }

void FrameReader::Feed(std::string_view bytes) {
  if (bytes.empty()) return;
  Reserve(bytes.size());
  std::memcpy(buf_.get() + end_, bytes.data(), bytes.size());
  end_ += bytes.size();
}

FrameReader::Result FrameReader::Fail(uint16_t code, std::string_view message) {
  stage_ = Stage::kFailed;
  close_code_ = code;
  error_ = message;
  return Result::kError;
}

FrameReader::Result FrameReader::Next(Message* out) {
  if (stage_ == Stage::kFailed) return Result::kError;
  for (;;) {
    if (stage_ == Stage::kHeader) {
      const size_t available = end_ - begin_;
      if (available < 2) return Result::kNeedMore;
      const auto* p = reinterpret_cast<const uint8_t*>(buf_.get() + begin_);
      // What the first two bytes say is checked before the rest of the header arrives.
      const bool fin = (p[0] & 0x80) != 0;
      if ((p[0] & 0x70) != 0) return Fail(1002, "reserved bits set without an extension");
      const uint8_t op = p[0] & 0x0F;
      if (!IsKnownOpcode(op)) return Fail(1002, "unknown opcode");
      if ((p[1] & 0x80) == 0) return Fail(1002, "client frame not masked");
      const bool control = (op & 0x08) != 0;
      uint64_t len = p[1] & 0x7F;
      if (control) {
        if (!fin) return Fail(1002, "fragmented control frame");
        if (len > kMaxControlPayload) return Fail(1002, "control frame payload over 125 bytes");
        if (op == static_cast<uint8_t>(Opcode::kClose) && len == 1)
          return Fail(1002, "close frame payload of 1 byte");
      } else if (op == static_cast<uint8_t>(Opcode::kContinuation)) {
        if (!in_message_) return Fail(1002, "continuation frame with no message in progress");
      } else if (in_message_) {
        return Fail(1002, "new data frame while a fragmented message is in progress");
      }
      const size_t length_bytes = len == 126 ? 2 : len == 127 ? 8 : 0;
      const size_t header = 2 + length_bytes + 4;
      if (available < header) return Result::kNeedMore;
      if (length_bytes > 0) {
        len = 0;
        for (size_t k = 0; k < length_bytes; ++k) len = (len << 8) | p[2 + k];
        if (len >> 63) return Fail(1002, "64-bit payload length with the top bit set");
      }
      if (!control) {
        const size_t so_far =
            op == static_cast<uint8_t>(Opcode::kContinuation) ? message_.size() : 0;
        if (len > max_message_bytes_ - so_far) return Fail(1009, "message larger than the limit");
      }
      std::memcpy(mask_, p + header - 4, 4);
      begin_ += header;
      frame_opcode_ = static_cast<Opcode>(op);
      frame_fin_ = fin;
      frame_left_ = len;
      mask_offset_ = 0;
      if (control) {
        control_.clear();
      } else if (op != static_cast<uint8_t>(Opcode::kContinuation)) {
        in_message_ = true;
        message_opcode_ = frame_opcode_;
        message_.clear();
        message_.reserve(static_cast<size_t>(len));  // later fragments grow it geometrically
      }
      stage_ = Stage::kPayload;
    }

    // Stage::kPayload: unmask what has arrived straight into the message.
    const bool control = (static_cast<uint8_t>(frame_opcode_) & 0x08) != 0;
    std::string& dest = control ? control_ : message_;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(frame_left_, end_ - begin_));
    if (n > 0) {
      const size_t old = dest.size();
      dest.append(buf_.get() + begin_, n);
      Unmask(dest.data() + old, n, mask_, mask_offset_);
      begin_ += n;
      frame_left_ -= n;
      mask_offset_ = (mask_offset_ + n) & 3;
    }
    if (frame_left_ > 0) return Result::kNeedMore;
    stage_ = Stage::kHeader;

    if (control) {
      if (frame_opcode_ == Opcode::kClose && control_.size() >= 2) {
        if (!IsValidCloseCode(CloseCode(control_))) return Fail(1002, "invalid close code");
        if (!IsValidUtf8(std::string_view(control_).substr(2)))
          return Fail(1007, "close reason is not valid UTF-8");
      }
      out->opcode = frame_opcode_;
      out->payload.assign(control_);
      return Result::kMessage;
    }
    if (!frame_fin_) continue;
    in_message_ = false;
    if (message_opcode_ == Opcode::kText && !IsValidUtf8(message_))
      return Fail(1007, "text message is not valid UTF-8");
    out->opcode = message_opcode_;
    out->payload.swap(message_);  // the caller's old buffer is reused for the next message
    message_.clear();
    return Result::kMessage;
  }
}

void AppendFrame(std::string* out, Opcode opcode, std::string_view payload) {
  char header[10];
  size_t n = 0;
  header[n++] = static_cast<char>(0x80 | static_cast<uint8_t>(opcode));
  const uint64_t len = payload.size();
  if (len < 126) {
    header[n++] = static_cast<char>(len);
  } else if (len <= 0xFFFF) {
    header[n++] = 126;
    header[n++] = static_cast<char>(len >> 8);
    header[n++] = static_cast<char>(len & 0xFF);
  } else {
    header[n++] = 127;
    for (int shift = 56; shift >= 0; shift -= 8)
      header[n++] = static_cast<char>((len >> shift) & 0xFF);
  }
  out->append(header, n);
  out->append(payload);
}

void AppendClose(std::string* out, uint16_t code, std::string_view reason) {
  if (code == 1005) {
    AppendFrame(out, Opcode::kClose, {});
    return;
  }
  if (reason.size() > kMaxCloseReason) {
    size_t n = kMaxCloseReason;
    // Cut before the character the limit falls in, not through it.
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
    reason = reason.substr(0, n);
  }
  char payload[kMaxControlPayload];
  payload[0] = static_cast<char>(code >> 8);
  payload[1] = static_cast<char>(code & 0xFF);
  if (!reason.empty()) std::memcpy(payload + 2, reason.data(), reason.size());
  AppendFrame(out, Opcode::kClose, std::string_view(payload, 2 + reason.size()));
}

uint16_t CloseCode(std::string_view close_payload) {
  if (close_payload.size() < 2) return 1005;
  return static_cast<uint16_t>((static_cast<unsigned char>(close_payload[0]) << 8) |
                               static_cast<unsigned char>(close_payload[1]));
}

}  // namespace cairn::http::ws
