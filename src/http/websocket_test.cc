#include "http/websocket.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "http/http.h"

namespace cairn::http::ws {
namespace {

constexpr uint8_t kFin = 0x80;

uint8_t Op(Opcode op) { return static_cast<uint8_t>(op); }

// A frame as a client sends it: `first` is the first byte (FIN, RSV bits, opcode), the length in
// its shortest form, the payload masked with `mask` unless `masked` is false.
std::string ClientFrame(uint8_t first, std::string_view payload, bool masked = true,
                        const char* mask = "\x37\xfa\x21\x3d") {
  std::string f(1, static_cast<char>(first));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const uint64_t len = payload.size();
  if (len < 126) {
    f.push_back(static_cast<char>(mask_bit | len));
  } else if (len <= 0xFFFF) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(len >> 8));
    f.push_back(static_cast<char>(len & 0xFF));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) f.push_back(static_cast<char>(len >> shift));
  }
  if (!masked) return f + std::string(payload);
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

std::string Frame(Opcode op, std::string_view payload, bool fin = true) {
  return ClientFrame(static_cast<uint8_t>((fin ? kFin : 0) | Op(op)), payload);
}

// A server frame turned into the client frame a FrameReader accepts: the mask bit set, a masking
// key inserted after the length, the payload masked.
std::string MaskServerFrame(std::string_view frame) {
  const auto b1 = static_cast<uint8_t>(frame[1]);
  EXPECT_EQ(b1 & 0x80, 0) << "server frames are not masked";
  const size_t length_bytes = (b1 & 0x7F) == 126 ? 2 : (b1 & 0x7F) == 127 ? 8 : 0;
  const size_t header = 2 + length_bytes;
  const char mask[4] = {'\x01', '\x80', '\x7f', '\xff'};
  std::string out(frame.substr(0, header));
  out[1] = static_cast<char>(b1 | 0x80);
  out.append(mask, 4);
  for (size_t i = header; i < frame.size(); ++i)
    out.push_back(static_cast<char>(frame[i] ^ mask[(i - header) % 4]));
  return out;
}

struct Outcome {
  std::vector<Message> messages;
  uint16_t close_code = 0;  // of the error that stopped the reader, 0 if none
  std::string error;
  size_t max_read_space = 0;
};

// Reads `bytes` `step` bytes per read (as a socket might deliver them) and collects every message
// until the input runs out or the reader fails.
Outcome Read(const std::string& bytes, size_t step, size_t max_message_bytes = 1 << 20) {
  FrameReader reader(max_message_bytes);
  Outcome out;
  Message m;
  size_t pos = 0;
  for (;;) {
    const FrameReader::Result r = reader.Next(&m);
    if (r == FrameReader::Result::kError) {
      out.close_code = reader.close_code();
      out.error = std::string(reader.error());
      EXPECT_FALSE(out.error.empty());
      EXPECT_EQ(reader.Next(&m), FrameReader::Result::kError);  // sticky
      break;
    }
    if (r == FrameReader::Result::kMessage) {
      out.messages.push_back(m);
      continue;
    }
    if (pos == bytes.size()) break;
    std::span<char> space = reader.ReadSpace();
    EXPECT_FALSE(space.empty());
    if (space.empty()) break;
    out.max_read_space = std::max(out.max_read_space, space.size());
    const size_t n = std::min({step, space.size(), bytes.size() - pos});
    std::memcpy(space.data(), bytes.data() + pos, n);
    reader.Commit(n);
    pos += n;
  }
  return out;
}

// The same input split at several step sizes, from byte by byte to all at once: the result must
// not depend on how the bytes arrive.
std::vector<Outcome> ReadAllSplits(const std::string& bytes, size_t max_message_bytes = 1 << 20) {
  std::vector<Outcome> all;
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{1000}, bytes.size() + 1})
    all.push_back(Read(bytes, step, max_message_bytes));
  return all;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xFF);
  return s;
}

TEST(WebSocketHandshake, AcceptKeyRfcExample) {
  EXPECT_EQ(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // Wikipedia's example.
  EXPECT_EQ(AcceptKey("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

Request MakeRequest(const std::vector<Header>& headers, std::string_view method = "GET",
                    int minor_version = 1) {
  Request r;
  r.method = method;
  r.target = "/";
  r.minor_version = minor_version;
  r.headers = headers;
  return r;
}

// `headers` with the field `name` given `value`, or removed when `value` is null.
std::vector<Header> With(std::vector<Header> headers, std::string_view name, const char* value) {
  std::erase_if(headers, [&](const Header& h) { return EqualsIgnoreCase(h.name, name); });
  if (value != nullptr) headers.push_back(Header{name, value});
  return headers;
}

const std::vector<Header> kGoodUpgrade = {
    {"Host", "server.example.com"},   {"Upgrade", "websocket"},
    {"Connection", "Upgrade"},        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
    {"Origin", "http://example.com"}, {"Sec-WebSocket-Protocol", "chat, superchat"},
    {"Sec-WebSocket-Version", "13"},
};

TEST(WebSocketHandshake, CheckUpgradeAccepts) {
  EXPECT_TRUE(IsUpgradeRequest(MakeRequest(kGoodUpgrade)));
  EXPECT_EQ(CheckUpgrade(MakeRequest(kGoodUpgrade)), "");
  // Tokens are case-insensitive and may be one of a list, in any of several fields.
  for (const char* upgrade : {"WebSocket", "h2c, websocket", " foo ,WEBSOCKET "}) {
    const auto h = With(kGoodUpgrade, "Upgrade", upgrade);
    EXPECT_TRUE(IsUpgradeRequest(MakeRequest(h))) << upgrade;
    EXPECT_EQ(CheckUpgrade(MakeRequest(h)), "") << upgrade;
  }
  for (const char* connection : {"upgrade", "keep-alive, Upgrade", "UPGRADE,close"}) {
    const auto h = With(kGoodUpgrade, "Connection", connection);
    EXPECT_EQ(CheckUpgrade(MakeRequest(h)), "") << connection;
  }
  auto two_fields = With(kGoodUpgrade, "Connection", "keep-alive");
  two_fields.push_back(Header{"connection", "upgrade"});
  EXPECT_EQ(CheckUpgrade(MakeRequest(two_fields)), "");

  // As parsed from the wire (what a browser sends).
  RequestReader reader(Limits{});
  const std::string in =
      "GET /v3 HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive, Upgrade\r\n"
      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Protocol: hrana3\r\n\r\n";
  std::span<char> space = reader.ReadSpace();
  std::memcpy(space.data(), in.data(), in.size());
  reader.Commit(in.size());
  ASSERT_EQ(reader.Next(), RequestReader::Result::kRequest);
  EXPECT_TRUE(IsUpgradeRequest(reader.request()));
  EXPECT_EQ(CheckUpgrade(reader.request()), "");
  EXPECT_EQ(AcceptKey(reader.request().Find("sec-websocket-key")), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(WebSocketHandshake, CheckUpgradeRefuses) {
  EXPECT_NE(CheckUpgrade(MakeRequest(kGoodUpgrade, "POST")), "");
  EXPECT_NE(CheckUpgrade(MakeRequest(kGoodUpgrade, "get")), "");  // methods are case-sensitive
  EXPECT_NE(CheckUpgrade(MakeRequest(kGoodUpgrade, "GET", 0)), "");
  struct Case {
    const char* name;
    const char* value;  // null: the field is left out
  };
  for (const Case& c : std::vector<Case>{
           {"Upgrade", nullptr},
           {"Upgrade", "h2c"},
           {"Upgrade", "websockets"},
           {"Connection", nullptr},
           {"Connection", "keep-alive"},
           {"Connection", "upgrade-please"},
           {"Sec-WebSocket-Version", nullptr},
           {"Sec-WebSocket-Version", "8"},
           {"Sec-WebSocket-Version", "13, 8"},
           {"Sec-WebSocket-Key", nullptr},
           {"Sec-WebSocket-Key", ""},
           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ="},    // 23 characters
           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==="},  // 25
           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQab"},   // 18 bytes, not 16
           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ*=="},   // not base64
           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j-Q=="},   // URL-safe alphabet
       }) {
    const std::vector<Header> headers = With(kGoodUpgrade, c.name, c.value);
    const std::string_view reason = CheckUpgrade(MakeRequest(headers));
    EXPECT_NE(reason, "") << c.name << ": " << (c.value ? c.value : "(none)");
    EXPECT_EQ(reason.find('\n'), std::string_view::npos);
  }
  // Without a websocket Upgrade it is not an upgrade request at all.
  EXPECT_FALSE(IsUpgradeRequest(MakeRequest(With(kGoodUpgrade, "Upgrade", nullptr))));
  EXPECT_FALSE(IsUpgradeRequest(MakeRequest(With(kGoodUpgrade, "Upgrade", "h2c"))));
  // With one, even a malformed one is (the server must refuse it, not serve a GET).
  EXPECT_TRUE(IsUpgradeRequest(MakeRequest(With(kGoodUpgrade, "Sec-WebSocket-Key", nullptr))));
}

TEST(WebSocketHandshake, ChooseSubprotocol) {
  constexpr std::string_view kHrana[] = {"hrana3", "hrana2"};
  EXPECT_EQ(ChooseSubprotocol("hrana3-protobuf, hrana3, hrana2", kHrana), "hrana3");
  // The server's preference wins over the client's order.
  EXPECT_EQ(ChooseSubprotocol("hrana2, hrana3", kHrana), "hrana3");
  constexpr std::string_view kOld[] = {"hrana2", "hrana3"};
  EXPECT_EQ(ChooseSubprotocol("hrana3, hrana2", kOld), "hrana2");
  EXPECT_EQ(ChooseSubprotocol(" ,hrana2 ,", kHrana), "hrana2");
  EXPECT_EQ(ChooseSubprotocol("hrana3-protobuf", kHrana), "");  // no prefix matches
  EXPECT_EQ(ChooseSubprotocol("HRANA3", kHrana), "");           // case-sensitive
  EXPECT_EQ(ChooseSubprotocol("hrana1", kHrana), "");
  EXPECT_EQ(ChooseSubprotocol("", kHrana), "");
  EXPECT_EQ(ChooseSubprotocol("hrana3", {}), "");
  // The view is the server's own string.
  EXPECT_EQ(ChooseSubprotocol("hrana2", kHrana).data(), kHrana[1].data());
}

TEST(FrameReader, FrameSizesByteByByte) {
  for (size_t size : {size_t{0}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}}) {
    const std::string binary = Pattern(size);
    const std::string text(size, 'x');
    const std::string in = Frame(Opcode::kBinary, binary) + Frame(Opcode::kText, text);
    const size_t header = size < 126 ? 6 : size <= 0xFFFF ? 8 : 14;
    ASSERT_EQ(in.size(), 2 * (header + size));
    const Outcome o = Read(in, 1);
    ASSERT_EQ(o.messages.size(), 2u) << size << ": " << o.error;
    EXPECT_EQ(o.messages[0].opcode, Opcode::kBinary);
    EXPECT_EQ(o.messages[0].payload, binary) << size;
    EXPECT_EQ(o.messages[1].opcode, Opcode::kText);
    EXPECT_EQ(o.messages[1].payload, text) << size;
  }
}

TEST(FrameReader, SplitsDoNotMatter) {
  std::string in;
  std::vector<std::string> payloads;
  for (size_t size : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{4097}, size_t{65535},
                      size_t{65536}, size_t{200000}}) {
    payloads.push_back(Pattern(size));
    in += Frame(Opcode::kBinary, payloads.back());
  }
  for (const Outcome& o : ReadAllSplits(in)) {
    ASSERT_EQ(o.messages.size(), payloads.size()) << o.error;
    for (size_t i = 0; i < payloads.size(); ++i) EXPECT_EQ(o.messages[i].payload, payloads[i]);
    // The buffer does not grow to the message's size: payloads stream through it.
    EXPECT_LE(o.max_read_space, size_t{128} << 10);
  }
}

TEST(FrameReader, FragmentedTextWithControlFramesBetween) {
  // "Hello, wörld" in three fragments, the ö split between the last two; a ping and a pong between.
  const std::string in =
      Frame(Opcode::kText, "Hel", false) + Frame(Opcode::kPing, "p") +
      Frame(Opcode::kContinuation, "lo, w\xC3", false) + Frame(Opcode::kPong, "") +
      Frame(Opcode::kContinuation, "\xB6rld") + Frame(Opcode::kBinary, "b1", false) +
      Frame(Opcode::kContinuation, "", false) + Frame(Opcode::kContinuation, "b2", true);
  for (const Outcome& o : ReadAllSplits(in)) {
    ASSERT_EQ(o.messages.size(), 4u) << o.error;
    EXPECT_EQ(o.close_code, 0);
    EXPECT_EQ(o.messages[0].opcode, Opcode::kPing);
    EXPECT_EQ(o.messages[0].payload, "p");
    EXPECT_EQ(o.messages[1].opcode, Opcode::kPong);
    EXPECT_EQ(o.messages[1].payload, "");
    EXPECT_EQ(o.messages[2].opcode, Opcode::kText);
    EXPECT_EQ(o.messages[2].payload, "Hello, w\xC3\xB6rld");
    EXPECT_EQ(o.messages[3].opcode, Opcode::kBinary);
    EXPECT_EQ(o.messages[3].payload, "b1b2");
  }
}

TEST(FrameReader, CloseFrames) {
  const std::string in = Frame(Opcode::kClose, "") +
                         Frame(Opcode::kClose,
                               "\x03\xe8"
                               "bye") +
                         Frame(Opcode::kClose, "\x0f\xa0") + Frame(Opcode::kClose, "\x03\xf4");
  for (const Outcome& o : ReadAllSplits(in)) {
    ASSERT_EQ(o.messages.size(), 4u) << o.error;
    for (const Message& m : o.messages) EXPECT_EQ(m.opcode, Opcode::kClose);
    EXPECT_EQ(CloseCode(o.messages[0].payload), 1005);
    EXPECT_EQ(CloseCode(o.messages[1].payload), 1000);
    EXPECT_EQ(o.messages[1].payload.substr(2), "bye");
    EXPECT_EQ(CloseCode(o.messages[2].payload), 4000);
    EXPECT_EQ(CloseCode(o.messages[3].payload), 1012);
  }
}

struct ErrorCase {
  const char* what;
  std::string bytes;
  uint16_t close_code;
};

void ExpectErrors(const std::vector<ErrorCase>& cases, size_t max_message_bytes = 1 << 20) {
  for (const ErrorCase& c : cases) {
    for (const Outcome& o : ReadAllSplits(c.bytes, max_message_bytes)) {
      EXPECT_EQ(o.close_code, c.close_code) << c.what;
    }
  }
}

TEST(FrameReader, ProtocolErrors) {
  std::string top_bit = "\x82\xFF";
  top_bit += std::string("\x80\0\0\0\0\0\0\x01", 8);
  top_bit += "abcd";
  std::vector<ErrorCase> cases = {
      {"unmasked", ClientFrame(kFin | Op(Opcode::kText), "hi", false), 1002},
      {"unmasked empty", ClientFrame(kFin | Op(Opcode::kPing), "", false), 1002},
      {"RSV1", ClientFrame(kFin | 0x40 | Op(Opcode::kText), "hi"), 1002},
      {"RSV2", ClientFrame(kFin | 0x20 | Op(Opcode::kText), "hi"), 1002},
      {"RSV3", ClientFrame(kFin | 0x10 | Op(Opcode::kPing), ""), 1002},
      {"control over 125", Frame(Opcode::kPing, std::string(126, 'p')), 1002},
      {"close over 125", Frame(Opcode::kClose, "\x03\xe8" + std::string(124, 'r')), 1002},
      {"control without FIN", Frame(Opcode::kPing, "p", false), 1002},
      {"close without FIN", Frame(Opcode::kClose, "", false), 1002},
      {"continuation first", Frame(Opcode::kContinuation, "x"), 1002},
      {"continuation after a whole message",
       Frame(Opcode::kText, "a") + Frame(Opcode::kContinuation, "x"), 1002},
      {"text during fragmented text", Frame(Opcode::kText, "a", false) + Frame(Opcode::kText, "b"),
       1002},
      {"binary during fragmented text",
       Frame(Opcode::kText, "a", false) + Frame(Opcode::kBinary, "b"), 1002},
      {"64-bit length with the top bit", top_bit, 1002},
      {"close payload of 1 byte", Frame(Opcode::kClose, "x"), 1002},
      {"close code 999", Frame(Opcode::kClose, "\x03\xe7"), 1002},
      {"close code 1005", Frame(Opcode::kClose, "\x03\xed"), 1002},
      {"close code 1006", Frame(Opcode::kClose, "\x03\xee"), 1002},
      {"close code 2000", Frame(Opcode::kClose, "\x07\xd0"), 1002},
      {"close code 5000", Frame(Opcode::kClose, "\x13\x88"), 1002},
      {"close reason not UTF-8", Frame(Opcode::kClose, "\x03\xe8\xff"), 1007},
  };
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15})
    cases.push_back({"unknown opcode", ClientFrame(kFin | op, "x"), 1002});
  ExpectErrors(cases);
}

TEST(FrameReader, InvalidUtf8) {
  std::vector<ErrorCase> cases;
  for (const char* bad : {
           "\x80",                  // a lone continuation byte
           "abc\xC3",               // truncated at the end
           "\xC3(",                 // a lead byte without its continuation
           "\xC0\xAF",              // overlong '/'
           "\xE0\x80\xAF",          // overlong, 3 bytes
           "\xF0\x80\x80\xAF",      // overlong, 4 bytes
           "\xED\xA0\x80",          // a surrogate (U+D800)
           "\xF4\x90\x80\x80",      // over U+10FFFF
           "\xF8\x88\x80\x80\x80",  // 5 bytes
           "\xFF",
           "0123456789abcdef\xFE",  // after the ASCII fast path
       }) {
    cases.push_back({bad, Frame(Opcode::kText, bad), 1007});
    // Validated as a whole once reassembled, with a ping between the fragments.
    cases.push_back({bad,
                     Frame(Opcode::kText, "ok ", false) + Frame(Opcode::kPing, "") +
                         Frame(Opcode::kContinuation, bad),
                     1007});
  }
  // The ping before the bad fragment is returned; the error comes after.
  for (const ErrorCase& c : cases) {
    const Outcome o = Read(c.bytes, 1);
    EXPECT_EQ(o.close_code, 1007) << c.what;
    for (const Message& m : o.messages) EXPECT_EQ(m.opcode, Opcode::kPing);
  }
  // Binary messages are not checked; valid text of every width passes.
  const std::string valid = "a\xC2\xA2\xE2\x82\xAC\xF0\x9F\x98\x80\xEF\xBF\xBF\xF4\x8F\xBF\xBF";
  const Outcome o = Read(
      Frame(Opcode::kBinary, "\xFF\xFE") + Frame(Opcode::kText, valid) + Frame(Opcode::kText, ""),
      3);
  ASSERT_EQ(o.messages.size(), 3u) << o.error;
  EXPECT_EQ(o.messages[1].payload, valid);
}

TEST(FrameReader, MessageTooBig) {
  constexpr size_t kMax = 1000;
  EXPECT_EQ(Read(Frame(Opcode::kBinary, std::string(kMax, 'x')), 7, kMax).messages.size(), 1u);
  EXPECT_EQ(Read(Frame(Opcode::kText, std::string(600, 'x'), false) +
                     Frame(Opcode::kContinuation, std::string(400, 'y')),
                 7, kMax)
                .messages.size(),
            1u);
  ExpectErrors(
      {
          {"one frame", Frame(Opcode::kBinary, std::string(kMax + 1, 'x')), 1009},
          {"fragments",
           Frame(Opcode::kText, std::string(600, 'x'), false) +
               Frame(Opcode::kContinuation, std::string(401, 'y')),
           1009},
          {"64-bit length", Frame(Opcode::kBinary, std::string(70000, 'x')), 1009},
      },
      kMax);
  // Known from the header alone: no payload byte needs to arrive.
  FrameReader reader(kMax);
  reader.Feed(Frame(Opcode::kBinary, std::string(kMax + 1, 'x')).substr(0, 8));
  Message m;
  EXPECT_EQ(reader.Next(&m), FrameReader::Result::kError);
  EXPECT_EQ(reader.close_code(), 1009);
  EXPECT_NE(reader.error(), "");
}

TEST(FrameReader, ErrorsKnownFromTheFirstTwoBytes) {
  Message m;
  for (const std::string& bytes : {std::string("\x81\x05"), std::string("\x09\x80"),
                                   std::string("\x80\x80"), std::string("\xC1\x80")}) {
    FrameReader reader(100);
    reader.Feed(bytes);
    EXPECT_EQ(reader.Next(&m), FrameReader::Result::kError);
    EXPECT_EQ(reader.close_code(), 1002);
  }
}

TEST(FrameReader, FeedLeftoverBytes) {
  const std::string a = Frame(Opcode::kText, "first");
  const std::string b = Frame(Opcode::kBinary, Pattern(10000));  // more than the initial buffer
  const std::string c = Frame(Opcode::kText, "third");
  FrameReader reader(1 << 20);
  reader.Feed(a + b + c.substr(0, 3));
  Message m;
  ASSERT_EQ(reader.Next(&m), FrameReader::Result::kMessage);
  EXPECT_EQ(m.payload, "first");
  ASSERT_EQ(reader.Next(&m), FrameReader::Result::kMessage);
  EXPECT_EQ(m.opcode, Opcode::kBinary);
  EXPECT_EQ(m.payload, Pattern(10000));
  ASSERT_EQ(reader.Next(&m), FrameReader::Result::kNeedMore);
  // Feed and reads mix: the rest of the third frame, a byte fed, the others read.
  reader.Feed(c.substr(3, 1));
  EXPECT_EQ(reader.Next(&m), FrameReader::Result::kNeedMore);
  const std::string rest = c.substr(4);
  std::span<char> space = reader.ReadSpace();
  ASSERT_GE(space.size(), rest.size());
  std::memcpy(space.data(), rest.data(), rest.size());
  reader.Commit(rest.size());
  ASSERT_EQ(reader.Next(&m), FrameReader::Result::kMessage);
  EXPECT_EQ(m.opcode, Opcode::kText);
  EXPECT_EQ(m.payload, "third");
  EXPECT_EQ(reader.Next(&m), FrameReader::Result::kNeedMore);
  // Nothing fed is fine too.
  reader.Feed("");
  EXPECT_EQ(reader.Next(&m), FrameReader::Result::kNeedMore);
}

TEST(ServerFrames, HeaderForms) {
  std::string out;
  AppendFrame(&out, Opcode::kText, "hi");
  EXPECT_EQ(out, "\x81\x02hi");
  out.clear();
  AppendFrame(&out, Opcode::kPong, "");
  EXPECT_EQ(out, std::string("\x8A\x00", 2));
  out.clear();
  AppendFrame(&out, Opcode::kBinary, std::string(126, 'x'));
  EXPECT_EQ(out.substr(0, 4), std::string("\x82\x7E\x00\x7E", 4));
  EXPECT_EQ(out.size(), 4u + 126);
  out.clear();
  AppendFrame(&out, Opcode::kBinary, std::string(65536, 'x'));
  EXPECT_EQ(out.substr(0, 10), std::string("\x82\x7F\0\0\0\0\0\x01\0\0", 10));
  EXPECT_EQ(out.size(), 10u + 65536);
  // Appends to what is there.
  out = "x";
  AppendFrame(&out, Opcode::kText, "y");
  EXPECT_EQ(out, "x\x81\x01y");
}

TEST(ServerFrames, RoundTripThroughTheReader) {
  std::string stream;
  std::vector<Message> sent;
  for (size_t size : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{127}, size_t{65535},
                      size_t{65536}, size_t{100000}}) {
    for (Opcode op : {Opcode::kText, Opcode::kBinary, Opcode::kPing, Opcode::kPong}) {
      if ((op == Opcode::kPing || op == Opcode::kPong) && size > 125) continue;
      Message m{op, op == Opcode::kText ? std::string(size, 't') : Pattern(size)};
      std::string frame;
      AppendFrame(&frame, op, m.payload);
      stream += MaskServerFrame(frame);
      sent.push_back(std::move(m));
    }
  }
  for (const Outcome& o : ReadAllSplits(stream)) {
    ASSERT_EQ(o.messages.size(), sent.size()) << o.error;
    for (size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(o.messages[i].opcode, sent[i].opcode);
      EXPECT_EQ(o.messages[i].payload, sent[i].payload);
    }
  }
}

TEST(ServerFrames, Close) {
  std::string out;
  AppendClose(&out, 1000, "bye");
  EXPECT_EQ(out,
            "\x88\x05\x03\xe8"
            "bye");
  const Outcome o = Read(MaskServerFrame(out), 1);
  ASSERT_EQ(o.messages.size(), 1u);
  EXPECT_EQ(o.messages[0].opcode, Opcode::kClose);
  EXPECT_EQ(CloseCode(o.messages[0].payload), 1000);

  // The reason is cut to fit 125 bytes.
  out.clear();
  AppendClose(&out, 1009, std::string(500, 'r'));
  ASSERT_EQ(out.size(), 2u + 125);
  EXPECT_EQ(out.substr(2, 2), "\x03\xf1");
  EXPECT_EQ(out.substr(4), std::string(123, 'r'));
  // ... before a character the limit would split (here a 3-byte one at bytes 122-124).
  out.clear();
  AppendClose(&out, 1002, std::string(122, 'a') + "\xE2\x82\xAC" + "tail");
  EXPECT_EQ(out.substr(4), std::string(122, 'a'));
  EXPECT_EQ(Read(MaskServerFrame(out), 5).messages.size(), 1u);  // the reason is valid UTF-8
  // Exactly 123 bytes of reason fit.
  out.clear();
  AppendClose(&out, 1011, std::string(120, 'a') + "\xE2\x82\xAC");
  EXPECT_EQ(out.size(), 2u + 125);

  // No code: an empty close, never 1005 on the wire.
  out.clear();
  AppendClose(&out, 1005, "ignored");
  EXPECT_EQ(out, std::string("\x88\x00", 2));
}

TEST(ServerFrames, CloseCode) {
  EXPECT_EQ(CloseCode(""), 1005);
  EXPECT_EQ(CloseCode("\x03"), 1005);
  EXPECT_EQ(CloseCode("\x03\xe8"), 1000);
  EXPECT_EQ(CloseCode("\x0f\xa0reason"), 4000);
  EXPECT_EQ(CloseCode("\xff\xff"), 65535);
}

}  // namespace
}  // namespace cairn::http::ws
