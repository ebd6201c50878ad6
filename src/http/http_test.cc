#include "http/http.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace cairn::http {
namespace {

// What a request looked like, copied out of the reader.
struct Seen {
  std::string method, target, body;
  int minor_version = 1;
  bool keep_alive = true;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Outcome {
  std::vector<Seen> requests;
  int error = 0;  // status of the error that stopped the reader, 0 if none
  int continues = 0;
  size_t left = 0;  // bytes buffered at the end
};

// Feeds `bytes` to a reader `step` bytes per read (as a socket might deliver them) and collects
// every request until the input runs out or the reader fails.
Outcome Feed(const std::string& bytes, size_t step, const Limits& limits = Limits{}) {
  RequestReader reader(limits);
  Outcome out;
  size_t pos = 0;
  for (;;) {
    const RequestReader::Result r = reader.Next();
    if (r == RequestReader::Result::kError) {
      out.error = reader.error().status;
      EXPECT_FALSE(reader.error().message.empty());
      break;
    }
    if (r == RequestReader::Result::kRequest) {
      const Request& req = reader.request();
      Seen s{std::string(req.method), std::string(req.target), std::string(req.body),
             req.minor_version,       req.keep_alive,          {}};
      for (const Header& h : req.headers) s.headers.emplace_back(h.name, h.value);
      out.requests.push_back(std::move(s));
      reader.Done();
      continue;
    }
    if (reader.ContinueNeeded()) ++out.continues;
    if (pos == bytes.size()) break;
    std::span<char> space = reader.ReadSpace();
    EXPECT_FALSE(space.empty());
    if (space.empty()) break;
    const size_t n = std::min({step, space.size(), bytes.size() - pos});
    std::memcpy(space.data(), bytes.data() + pos, n);
    reader.Commit(n);
    pos += n;
  }
  out.left = reader.buffered();
  return out;
}

// The same input split at every step size from 1 byte to the whole: the result must not depend on
// how the bytes arrive.
std::vector<Outcome> FeedAllSplits(const std::string& bytes, const Limits& limits = Limits{}) {
  std::vector<Outcome> all;
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, bytes.size() + 1})
    all.push_back(Feed(bytes, step, limits));
  return all;
}

TEST(RequestReader, SimpleGet) {
  for (const Outcome& o : FeedAllSplits("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")) {
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_EQ(o.error, 0);
    const Seen& s = o.requests[0];
    EXPECT_EQ(s.method, "GET");
    EXPECT_EQ(s.target, "/health");
    EXPECT_EQ(s.minor_version, 1);
    EXPECT_TRUE(s.keep_alive);
    EXPECT_EQ(s.body, "");
    ASSERT_EQ(s.headers.size(), 1u);
    EXPECT_EQ(s.headers[0].first, "Host");
    EXPECT_EQ(s.headers[0].second, "x");
    EXPECT_EQ(o.left, 0u);
  }
}

TEST(RequestReader, FindIsCaseInsensitiveAndTrimsValues) {
  RequestReader reader(Limits{});
  const std::string in =
      "POST /v2/pipeline?x=1 HTTP/1.1\r\nX-Namespace: \t tenant1 \t\r\nx-empty:\r\n"
      "Content-Length: 2\r\n\r\n{}";
  std::span<char> space = reader.ReadSpace();
  std::memcpy(space.data(), in.data(), in.size());
  reader.Commit(in.size());
  ASSERT_EQ(reader.Next(), RequestReader::Result::kRequest);
  const Request& req = reader.request();
  EXPECT_EQ(req.Find("x-namespace"), "tenant1");
  EXPECT_EQ(req.Find("X-NAMESPACE"), "tenant1");
  EXPECT_EQ(req.Find("x-empty"), "");
  EXPECT_EQ(req.Find("absent"), "");
  EXPECT_EQ(req.path(), "/v2/pipeline");
  EXPECT_EQ(req.body, "{}");
  // Calling Next again before Done returns the same request.
  EXPECT_EQ(reader.Next(), RequestReader::Result::kRequest);
  EXPECT_EQ(reader.request().body, "{}");
}

TEST(RequestReader, ContentLengthBody) {
  const std::string body = R"({"requests":[{"type":"close"}]})";
  const std::string in =
      "POST /v2/pipeline HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
      body;
  for (const Outcome& o : FeedAllSplits(in)) {
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_EQ(o.requests[0].body, body);
    EXPECT_EQ(o.left, 0u);
  }
}

TEST(RequestReader, PipelinedRequests) {
  std::string in;
  for (int i = 0; i < 5; ++i) {
    const std::string body = "body-" + std::to_string(i);
    in += "POST /r" + std::to_string(i) +
          " HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    in += "GET /g" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  }
  in += "POST /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  in += "GET /last HTTP/1.1\r\n\r\n";
  for (const Outcome& o : FeedAllSplits(in)) {
    ASSERT_EQ(o.requests.size(), 12u);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(o.requests[2 * i].target, "/r" + std::to_string(i));
      EXPECT_EQ(o.requests[2 * i].body, "body-" + std::to_string(i));
      EXPECT_EQ(o.requests[2 * i + 1].target, "/g" + std::to_string(i));
      EXPECT_EQ(o.requests[2 * i + 1].body, "");
    }
    EXPECT_EQ(o.requests[10].body, "abc");
    EXPECT_EQ(o.requests[11].target, "/last");
    EXPECT_EQ(o.left, 0u);
  }
}

TEST(RequestReader, IncompleteRequestWaits) {
  const Outcome o = Feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345", 100);
  EXPECT_TRUE(o.requests.empty());
  EXPECT_EQ(o.error, 0);
  EXPECT_EQ(o.left, 44u);
}

TEST(RequestReader, ChunkedBody) {
  const std::string in =
      "POST /v2/pipeline HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "5\r\nhello\r\n"
      "1;name=value ; other\r\n \r\n"
      "A\r\n0123456789\r\n"
      "0\r\nX-Trailer: dropped\r\n\r\n";
  for (const Outcome& o : FeedAllSplits(in)) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    EXPECT_EQ(o.requests[0].body, "hello 0123456789");
    EXPECT_EQ(o.left, 0u);
  }
}

TEST(RequestReader, LargeChunkedBodyGrowsTheBuffer) {
  std::string body, in = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 200; ++i) {
    const std::string chunk(1000 + i, static_cast<char>('a' + i % 26));
    char size[16];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    in += std::string(size) + "\r\n" + chunk + "\r\n";
    body += chunk;
  }
  in += "0\r\n\r\n";
  for (size_t step : {size_t{100}, size_t{4096}, in.size()}) {
    const Outcome o = Feed(in, step);
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_EQ(o.requests[0].body, body);
  }
}

TEST(RequestReader, LargeContentLengthBody) {
  const std::string body(3 << 20, 'z');
  const std::string in =
      "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const Outcome o = Feed(in, 65536);
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].body.size(), body.size());
  EXPECT_EQ(o.requests[0].body, body);
}

TEST(RequestReader, ExpectContinue) {
  const std::string head = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  Outcome o = Feed(head + "abcd", 1);
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.continues, 1);
  EXPECT_EQ(o.requests[0].body, "abcd");
  // The body arrived with the head: no 100 needed.
  o = Feed(head + "abcd", 1000);
  EXPECT_EQ(o.continues, 0);
  ASSERT_EQ(o.requests.size(), 1u);
  // HTTP/1.0 clients do not wait for it.
  o = Feed("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nabcd", 1);
  EXPECT_EQ(o.continues, 0);
  ASSERT_EQ(o.requests.size(), 1u);
  // Chunked too.
  o = Feed("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           5);
  EXPECT_EQ(o.continues, 1);
  ASSERT_EQ(o.requests.size(), 1u);
  // Over the limit: no 100, a 413.
  Limits small;
  small.max_body_bytes = 3;
  o = Feed(head + "abcd", 1, small);
  EXPECT_EQ(o.continues, 0);
  EXPECT_EQ(o.error, 413);
  // Another expectation: 417.
  o = Feed("POST / HTTP/1.1\r\nExpect: something-else\r\nContent-Length: 4\r\n\r\nabcd", 1000);
  EXPECT_EQ(o.error, 417);
}

TEST(RequestReader, KeepAliveByVersionAndConnection) {
  struct Case {
    const char* in;
    int minor;
    bool keep_alive;
  };
  for (const Case& c : {
           Case{"GET / HTTP/1.1\r\n\r\n", 1, true},
           Case{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 1, false},
           Case{"GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", 1, false},
           Case{"GET / HTTP/1.0\r\n\r\n", 0, false},
           Case{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, true},
           Case{"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\n\r\n",
                0, false},
       }) {
    const Outcome o = Feed(c.in, 1000);
    ASSERT_EQ(o.requests.size(), 1u) << c.in;
    EXPECT_EQ(o.requests[0].minor_version, c.minor) << c.in;
    EXPECT_EQ(o.requests[0].keep_alive, c.keep_alive) << c.in;
  }
}

TEST(RequestReader, EmptyLinesBeforeARequestAreSkipped) {
  for (const Outcome& o :
       FeedAllSplits("\r\n\r\nGET /a HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n")) {
    ASSERT_EQ(o.requests.size(), 2u);
    EXPECT_EQ(o.requests[0].target, "/a");
    EXPECT_EQ(o.requests[1].target, "/b");
  }
}

TEST(RequestReader, MalformedRequestsAre400) {
  for (const char* in : {
           "GET\r\n\r\n",
           "GET /\r\n\r\n",
           " GET / HTTP/1.1\r\n\r\n",
           "GET  / HTTP/1.1\r\n\r\n",
           "GET / HTTP/1.1 \r\n\r\n",
           "GET / HTTP/1.x\r\n\r\n",
           "GET / HTTQ/1.1\r\n\r\n",
           "G(T / HTTP/1.1\r\n\r\n",
           "GET /a\x01 HTTP/1.1\r\n\r\n",
           "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
           "GET / HTTP/1.1\r\nName : value\r\n\r\n",
           "GET / HTTP/1.1\r\n: value\r\n\r\n",
           "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
           "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
           "GET / HTTP/1.1\r\nA: b\nB: c\r\n\r\n",
           "GET / HTTP/1.1\r\nA: b\rB: c\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
           "POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\nab",
           "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n0\r\n\r\n",
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
       }) {
    const Outcome o = Feed(in, 1000);
    EXPECT_EQ(o.error, 400) << in;
    EXPECT_TRUE(o.requests.empty()) << in;
  }
}

TEST(RequestReader, RepeatedEqualContentLengthsAreAccepted) {
  const Outcome o =
      Feed("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nab", 1000);
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].body, "ab");
}

TEST(RequestReader, UnsupportedVersionsAndCodings) {
  EXPECT_EQ(Feed("GET / HTTP/2.0\r\n\r\n", 1000).error, 505);
  EXPECT_EQ(Feed("GET / HTTP/1.2\r\n\r\n", 1000).error, 505);
  EXPECT_EQ(Feed("GET / HTTP/0.9\r\n\r\n", 1000).error, 505);
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 1000).error, 501);
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 1000).error, 501);
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 1000).error,
            501);
}

TEST(RequestReader, LimitsOnHeadAndBody) {
  Limits limits;
  limits.max_header_bytes = 256;
  limits.max_headers = 4;
  limits.max_body_bytes = 100;
  // A request line longer than the head limit: 414, at any split.
  for (const Outcome& o :
       FeedAllSplits("GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n", limits))
    EXPECT_EQ(o.error, 414);
  // Fields over the byte limit: 431, whether or not the head's end has arrived.
  const std::string big_field = "GET / HTTP/1.1\r\nX: " + std::string(300, 'b') + "\r\n\r\n";
  for (const Outcome& o : FeedAllSplits(big_field, limits)) EXPECT_EQ(o.error, 431);
  EXPECT_EQ(Feed(big_field.substr(0, 280), 1000, limits).error, 431);
  // Too many fields: 431.
  EXPECT_EQ(
      Feed("GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n", 1000, limits).error,
      431);
  EXPECT_EQ(
      Feed("GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\n\r\n", 1000, limits).requests.size(),
      1u);
  // A body over the limit: 413 from Content-Length, before the body is sent.
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 1000, limits).error, 413);
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 1000, limits)
                .error,
            413);
  EXPECT_EQ(
      Feed("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'), 7, limits)
          .requests.size(),
      1u);
  // Chunked: as soon as the decoded size would pass the limit.
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" +
                     std::string(100, 'x') + "\r\n1\r\n",
                 1000, limits)
                .error,
            413);
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                 1000, limits)
                .error,
            413);
  // A chunk-size line without end.
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(5000, 'e'),
                 1000, limits)
                .error,
            400);
  // Trailer fields count against the head limit.
  EXPECT_EQ(Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
                     std::string(300, 't') + "\r\n\r\n",
                 1000, limits)
                .error,
            431);
}

TEST(RequestReader, ErrorsAreSticky) {
  RequestReader reader(Limits{});
  const std::string in = "BAD\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  std::span<char> space = reader.ReadSpace();
  std::memcpy(space.data(), in.data(), in.size());
  reader.Commit(in.size());
  EXPECT_EQ(reader.Next(), RequestReader::Result::kError);
  EXPECT_EQ(reader.error().status, 400);
  reader.Done();
  EXPECT_EQ(reader.Next(), RequestReader::Result::kError);
}

TEST(RequestReader, ReusesItsBufferAcrossRequests) {
  RequestReader reader(Limits{});
  const std::string one = "POST /v2/pipeline HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  const char* first_space = nullptr;
  for (int i = 0; i < 1000; ++i) {
    std::span<char> space = reader.ReadSpace();
    if (first_space == nullptr) first_space = space.data();
    EXPECT_EQ(space.data(), first_space);  // answered requests leave nothing behind
    std::memcpy(space.data(), one.data(), one.size());
    reader.Commit(one.size());
    ASSERT_EQ(reader.Next(), RequestReader::Result::kRequest);
    EXPECT_EQ(reader.request().body, "abc");
    reader.Done();
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(RequestReader, GivesBackTheMemoryOfALargeBody) {
  RequestReader reader(Limits{});
  const std::string body(2 << 20, 'b');
  const std::string in = "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\n\r\n" + body + "GET /next HTTP/1.1\r\n\r\n";
  size_t pos = 0;
  auto feed = [&] {  // as much of `in` as the reader has room for
    std::span<char> space = reader.ReadSpace();
    const size_t n = std::min(space.size(), in.size() - pos);
    std::memcpy(space.data(), in.data() + pos, n);
    reader.Commit(n);
    pos += n;
  };
  while (reader.Next() == RequestReader::Result::kNeedMore) feed();
  ASSERT_EQ(reader.Next(), RequestReader::Result::kRequest);
  EXPECT_EQ(reader.request().body.size(), body.size());
  EXPECT_GE(reader.capacity(), body.size());
  reader.Done();
  EXPECT_LE(reader.capacity(), size_t{64 << 10});
  // What followed the large request survives the move to the smaller buffer.
  while (pos < in.size()) feed();
  ASSERT_EQ(reader.Next(), RequestReader::Result::kRequest);
  EXPECT_EQ(reader.request().target, "/next");
}

TEST(ResponseHead, Rendering) {
  std::string out;
  const Header headers[] = {{"Server", "cairn"}, {"Content-Type", "application/json"}};
  AppendResponseHead(&out, 1, 200, headers, 42, true);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nServer: cairn\r\nContent-Type: application/json\r\n"
            "Content-Length: 42\r\n\r\n");
  out.clear();
  AppendResponseHead(&out, 1, 413, {}, 0, false);
  EXPECT_EQ(out,
            "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  out.clear();
  AppendResponseHead(&out, 0, 404, {}, 7, true);
  EXPECT_EQ(out, "HTTP/1.0 404 Not Found\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\n");
  out.clear();
  AppendResponseHead(&out, 0, 200, {}, 0, false);
  EXPECT_EQ(out, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
  out.clear();
  AppendResponseHead(&out, 1, 204, {}, 0, true);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(ReasonPhrase(599), "Unknown");
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
}

}  // namespace
}  // namespace cairn::http
