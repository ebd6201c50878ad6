// Tests of the S3 backend at two depths:
//
//  - S3RequestTest: against a scripted HTTP server in this process, which records every request.
//    Each signed request is checked by an independent SigV4 verifier (below) the way S3 checks it,
//    and the body's x-amz-content-sha256 against the bytes received; retries and error mapping
//    are driven by scripted answers.
//  - S3rverTest: against a real s3rver 3.7.1 child process (tests/node/node_modules, installed by
//    `make test` / `npm install` in tests/node). s3rver does not verify V4 signatures, which is why
//    the checks above exist. These tests fail, never skip, when s3rver is not installed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "objectstore/object_store.h"
#include "objectstore/s3_store.h"

#ifndef CAIRN_SOURCE_DIR
#error "CAIRN_SOURCE_DIR must name the repository (set by src/objectstore/CMakeLists.txt)"
#endif

namespace cairn::objectstore {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<std::string> Keys(const std::vector<ObjectInfo>& infos) {
  std::vector<std::string> keys;
  for (const auto& info : infos) keys.push_back(info.key);
  return keys;
}

// ---------------------------------------------------------------------------------------------
// An independent SigV4 verifier (AWS's documented algorithm, written from the spec for this test;
// it shares no code with the store).

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 0xf];
  }
  return out;
}

std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string Decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string Encode(std::string_view s, bool keep_slash) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

struct HttpRequest {
  std::string method;
  std::string target;                                        // path?query, as received
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
  bool Has(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return true;
    }
    return false;
  }
  std::string Path() const { return target.substr(0, target.find('?')); }
};

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

// "" when `req` carries a valid SigV4 signature by `access_key`/`secret` for S3 in `region` and a
// correct x-amz-content-sha256, else what is wrong.
std::string VerifySigV4(const HttpRequest& req, std::string_view access_key,
                        std::string_view secret, std::string_view region) {
  std::string auth = req.Header("authorization");
  const std::string kAlgo = "AWS4-HMAC-SHA256 ";
  if (!auth.starts_with(kAlgo)) return "no SigV4 Authorization header";
  std::map<std::string, std::string> parts;
  for (const std::string& part : Split(auth.substr(kAlgo.size()), ',')) {
    std::string p = Trim(part);
    size_t eq = p.find('=');
    parts[p.substr(0, eq)] = p.substr(eq + 1);
  }
  std::vector<std::string> scope = Split(parts["Credential"], '/');
  if (scope.size() != 5) return "bad Credential " + parts["Credential"];
  if (scope[0] != access_key) return "wrong access key";
  if (scope[2] != region || scope[3] != "s3" || scope[4] != "aws4_request") return "bad scope";
  std::string amz_date = req.Header("x-amz-date");
  if (amz_date.substr(0, 8) != scope[1]) return "x-amz-date does not match the scope";

  std::string payload_hash = req.Header("x-amz-content-sha256");
  if (payload_hash != Sha256(req.body)) return "x-amz-content-sha256 is not the body's SHA-256";

  // Canonical URI: S3 encodes the (decoded) path once.
  std::string canonical_uri = Encode(Decode(req.Path()), true);
  // Canonical query: decoded, re-encoded, sorted.
  std::vector<std::pair<std::string, std::string>> params;
  if (size_t q = req.target.find('?'); q != std::string::npos) {
    for (const std::string& p : Split(req.target.substr(q + 1), '&')) {
      if (p.empty()) continue;
      size_t eq = p.find('=');
      params.emplace_back(Encode(Decode(p.substr(0, eq)), false),
                          eq == std::string::npos ? "" : Encode(Decode(p.substr(eq + 1)), false));
    }
  }
  std::sort(params.begin(), params.end());
  std::string canonical_query;
  for (const auto& [n, v] : params) {
    canonical_query += (canonical_query.empty() ? "" : "&") + n + "=" + v;
  }
  std::string signed_headers = parts["SignedHeaders"];
  std::vector<std::string> names = Split(signed_headers, ';');
  if (!std::is_sorted(names.begin(), names.end())) return "SignedHeaders not sorted";
  for (const char* required : {"host", "x-amz-content-sha256", "x-amz-date"}) {
    if (std::find(names.begin(), names.end(), required) == names.end()) {
      return std::string(required) + " is not signed";
    }
  }
  std::string canonical_headers;
  for (const std::string& name : names) {
    if (!req.Has(name)) return "signed header " + name + " was not sent";
    canonical_headers += name + ":" + Trim(req.Header(name)) + "\n";
  }
  std::string canonical_request = req.method + "\n" + canonical_uri + "\n" + canonical_query +
                                  "\n" + canonical_headers + "\n" + signed_headers + "\n" +
                                  payload_hash;
  std::string string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope[1] + "/" +
                               std::string(region) + "/s3/aws4_request\n" +
                               Sha256(canonical_request);
  std::string key = Hmac("AWS4" + std::string(secret), scope[1]);
  key = Hmac(key, region);
  key = Hmac(key, "s3");
  key = Hmac(key, "aws4_request");
  std::string sig = Hmac(key, string_to_sign);
  std::string expected = Hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
  if (expected != parts["Signature"]) {
    return "signature mismatch; canonical request was:\n" + canonical_request;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// A scripted HTTP/1.1 server on a loopback port: one connection at a time, "Connection: close".

struct HttpResponse {
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};  // before answering
};

class FakeS3Server {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit FakeS3Server(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on a loopback port";
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeS3Server() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  int port() const { return port_; }
  std::vector<HttpRequest> requests() const {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      HandleConnection(conn);
      ::close(conn);
    }
  }

  void Send(int conn, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(conn, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  void HandleConnection(int conn) {
    std::string buf;
    char chunk[65536];
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(conn, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
    }
    HttpRequest req;
    std::vector<std::string> lines = Split(buf.substr(0, header_end), '\n');
    std::istringstream request_line(lines[0]);
    request_line >> req.method >> req.target;
    size_t content_length = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      std::string line = lines[i];
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = Trim(line.substr(colon + 1));
      if (name == "content-length") content_length = std::stoul(value);
      req.headers.emplace_back(name, value);
    }
    req.body = buf.substr(header_end + 4);
    if (req.Header("expect") == "100-continue") Send(conn, "HTTP/1.1 100 Continue\r\n\r\n");
    while (req.body.size() < content_length) {
      ssize_t n = ::recv(conn, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      req.body.append(chunk, static_cast<size_t>(n));
    }
    {
      std::lock_guard lk(mu_);
      requests_.push_back(req);
    }
    HttpResponse resp = handler_(req);
    for (auto until = Clock::now() + resp.delay; Clock::now() < until && !stop_;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    Send(conn, "HTTP/1.1 " + std::to_string(resp.status) + " Whatever\r\nContent-Length: " +
                   std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n" + resp.body);
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<HttpRequest> requests_;  // guarded by mu_
};

std::string ErrorXml(std::string_view code, std::string_view message) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
         "</Code><Message>" + std::string(message) + "</Message><RequestId>1</RequestId></Error>";
}

StoreOptions FastOptions(int port) {
  StoreOptions opts;
  opts.endpoint = "http://127.0.0.1:" + std::to_string(port);
  opts.region = "eu-central-1";
  opts.access_key_id = "AKIDEXAMPLE";
  opts.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  opts.max_attempts = 3;
  opts.initial_backoff = std::chrono::milliseconds(10);
  opts.connect_timeout = std::chrono::milliseconds(1000);
  opts.request_timeout = std::chrono::milliseconds(3000);
  return opts;
}

std::unique_ptr<S3Store> MustCreate(S3Location loc, StoreOptions opts) {
  auto store = S3Store::Create(std::move(loc), std::move(opts));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

TEST(S3RequestTest, EveryRequestIsSignedAndCarriesThePayloadHash) {
  const std::string key = "dir/a b+c~(é)!.txt";
  const std::string big(1536 * 1024, 'x');  // over 1 MiB: curl sends Expect: 100-continue
  FakeS3Server server([&](const HttpRequest& req) -> HttpResponse {
    if (req.method == "PUT" || req.method == "DELETE") return {req.method == "PUT" ? 200 : 204};
    if (req.target.find("list-type=2") == std::string::npos) return {200, "object body"};
    if (req.target.find("continuation-token=") == std::string::npos) {
      return {
          200,
          "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
          "<IsTruncated>true</IsTruncated><NextContinuationToken>page/2+==</NextContinuationToken>"
          "<Contents><Key>pre/dir/b</Key><Size>7</Size></Contents>"
          "<Contents><Key>pre/dir/a &amp; b</Key><Size>3</Size></Contents></ListBucketResult>"};
    }
    return {200,
            "<ListBucketResult><IsTruncated>false</IsTruncated>"
            "<Contents><Key>pre/dir/c/</Key><Size>0</Size></Contents>"  // a folder marker
            "<Contents><Key>pre/dir/é</Key><Size>12345678901</Size></Contents>"
            "</ListBucketResult>"};
  });
  StoreOptions opts = FastOptions(server.port());
  opts.session_token = "session/token+=";
  auto store = MustCreate({"bkt", "pre/"}, opts);
  ASSERT_TRUE(store);

  ASSERT_TRUE(store->Put(key, "hello").ok());
  ASSERT_TRUE(store->Put("big", big).ok());
  ASSERT_TRUE(store->Put("empty", "").ok());
  EXPECT_EQ(store->Get(key).value(), "object body");
  ASSERT_TRUE(store->Delete(key).ok());
  auto listed = store->List("dir/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(Keys(*listed), (std::vector<std::string>{"dir/a & b", "dir/b", "dir/é"}));
  EXPECT_EQ((*listed)[2].size, 12345678901u);

  std::vector<HttpRequest> reqs = server.requests();
  ASSERT_EQ(reqs.size(), 7u);
  for (const HttpRequest& req : reqs) {
    EXPECT_EQ(VerifySigV4(req, opts.access_key_id, opts.secret_access_key, opts.region), "")
        << req.method << " " << req.target;
    EXPECT_EQ(req.Header("x-amz-security-token"), opts.session_token);
    EXPECT_NE(req.Header("authorization").find("x-amz-security-token"), std::string::npos);
    EXPECT_EQ(req.Header("host"), "127.0.0.1:" + std::to_string(server.port()));
  }
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/bkt/pre/dir/a%20b%2Bc~%28%C3%A9%29%21.txt");
  EXPECT_EQ(reqs[0].body, "hello");
  EXPECT_EQ(reqs[0].Header("x-amz-content-sha256"), Sha256Hex("hello"));
  EXPECT_EQ(reqs[1].body, big);
  EXPECT_EQ(reqs[1].Header("x-amz-content-sha256"), Sha256Hex(big));
  EXPECT_EQ(reqs[2].Header("x-amz-content-sha256"), s3_internal::kEmptyPayloadSha256);
  EXPECT_EQ(reqs[3].method, "GET");
  EXPECT_EQ(reqs[3].Header("x-amz-content-sha256"), s3_internal::kEmptyPayloadSha256);
  EXPECT_EQ(reqs[4].method, "DELETE");
  EXPECT_EQ(reqs[4].Header("x-amz-content-sha256"), s3_internal::kEmptyPayloadSha256);
  EXPECT_EQ(reqs[5].target, "/bkt?list-type=2&max-keys=1000&prefix=pre%2Fdir%2F");
  EXPECT_EQ(
      reqs[6].target,
      "/bkt?continuation-token=page%2F2%2B%3D%3D&list-type=2&max-keys=1000&prefix=pre%2Fdir%2F");
}

TEST(S3RequestTest, VirtualHostStyleSignsTheBucketHost) {
  FakeS3Server server([](const HttpRequest&) -> HttpResponse { return {200, "v"}; });
  StoreOptions opts = FastOptions(server.port());
  // Names under .localhost reach the loopback address (curl resolves them itself).
  opts.endpoint = "http://s3.localhost:" + std::to_string(server.port());
  auto store = MustCreate({"bkt", "p/"}, opts);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Put("k", "data").ok());
  EXPECT_EQ(store->Get("k").value(), "v");
  std::vector<HttpRequest> reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  for (const HttpRequest& req : reqs) {
    EXPECT_EQ(req.Header("host"), "bkt.s3.localhost:" + std::to_string(server.port()));
    EXPECT_EQ(req.target, "/p/k");
    EXPECT_EQ(VerifySigV4(req, opts.access_key_id, opts.secret_access_key, opts.region), "");
  }
}

TEST(S3RequestTest, NoCredentialsMeansUnsignedRequests) {
  FakeS3Server server([](const HttpRequest&) -> HttpResponse { return {200}; });
  StoreOptions opts = FastOptions(server.port());
  opts.access_key_id.clear();
  opts.secret_access_key.clear();
  auto store = MustCreate({"bkt", ""}, opts);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Put("k", "data").ok());
  std::vector<HttpRequest> reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].Has("authorization"));
  EXPECT_EQ(reqs[0].Header("x-amz-content-sha256"), Sha256Hex("data"));
}

TEST(S3RequestTest, RetriesServerErrorsAndThrottling) {
  std::atomic<int> n{0};
  FakeS3Server server([&](const HttpRequest&) -> HttpResponse {
    switch (n++) {
      case 0:
        return {503, ErrorXml("SlowDown", "Please reduce your request rate.")};
      case 1:
        return {429, ""};
      case 2:
        return {500, ErrorXml("InternalError", "oops")};
      default:
        return {200, "finally"};
    }
  });
  StoreOptions opts = FastOptions(server.port());
  opts.max_attempts = 4;
  auto store = MustCreate({"bkt", ""}, opts);
  ASSERT_TRUE(store);
  auto got = store->Get("k");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "finally");
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST(S3RequestTest, GivesUpWithUnavailableAfterMaxAttempts) {
  FakeS3Server server([](const HttpRequest&) -> HttpResponse {
    return {503, ErrorXml("ServiceUnavailable", "busy")};
  });
  auto store = MustCreate({"bkt", ""}, FastOptions(server.port()));
  ASSERT_TRUE(store);
  Status st = store->Put("k", "v");
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("3 attempts"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("ServiceUnavailable: busy"), std::string::npos) << st.message();
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(S3RequestTest, ClientErrorsAreFinalAndMapped) {
  std::atomic<int> status{403};
  std::string code = "AccessDenied", message = "Access Denied";
  FakeS3Server server([&](const HttpRequest&) -> HttpResponse {
    return {status.load(), ErrorXml(code, message)};
  });
  auto store = MustCreate({"bkt", ""}, FastOptions(server.port()));
  ASSERT_TRUE(store);

  Status denied = store->Put("k", "v");
  EXPECT_EQ(denied.code(), Code::kPermissionDenied);
  EXPECT_NE(denied.message().find("HTTP 403 AccessDenied: Access Denied"), std::string::npos)
      << denied.message();
  EXPECT_EQ(server.requests().size(), 1u);

  status = 404, code = "NoSuchKey", message = "The specified key does not exist.";
  EXPECT_EQ(store->Get("k").status().code(), Code::kNotFound);
  EXPECT_TRUE(store->Delete("k").ok());  // already gone is fine
  code = "NoSuchBucket";
  EXPECT_EQ(store->Delete("k").code(), Code::kNotFound);  // a missing bucket is not
  EXPECT_EQ(store->List("").status().code(), Code::kNotFound);

  status = 400, code = "InvalidArgument", message = "nope";
  EXPECT_EQ(store->Put("k", "v").code(), Code::kIOError);
  EXPECT_EQ(server.requests().size(), 6u);  // one request each: no retries
}

TEST(S3RequestTest, TimeoutsAndRefusedConnectionsEndInUnavailable) {
  FakeS3Server slow([](const HttpRequest&) -> HttpResponse {
    return {200, "late", std::chrono::milliseconds(2000)};
  });
  StoreOptions opts = FastOptions(slow.port());
  opts.request_timeout = std::chrono::milliseconds(200);
  opts.max_attempts = 2;
  auto store = MustCreate({"bkt", ""}, opts);
  ASSERT_TRUE(store);
  auto start = Clock::now();
  Status st = store->Get("k").status();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));

  int closed_port;
  {
    FakeS3Server gone([](const HttpRequest&) -> HttpResponse { return {200}; });
    closed_port = gone.port();
  }
  auto refused = MustCreate({"bkt", ""}, FastOptions(closed_port));
  ASSERT_TRUE(refused);
  st = refused->Put("k", "v");
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("3 attempts"), std::string::npos) << st.message();
}

// ---------------------------------------------------------------------------------------------
// A real s3rver.

constexpr char kBucket[] = "cairn-test";

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool Answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class S3rverTest : public ::testing::Test {
 protected:
  static std::string Script() {
    return std::string(CAIRN_SOURCE_DIR) + "/tests/node/node_modules/s3rver/bin/s3rver.js";
  }

  void SetUp() override {
    ASSERT_TRUE(fs::exists(Script()))
        << "s3rver is not installed: run `npm install` in tests/node (`make test` does it)";
    std::string tmpl = (fs::temp_directory_path() / "cairn-s3rver-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
    port_ = FreeLoopbackPort();
    Start();
  }

  void TearDown() override {
    Kill();
    if (HasFailure()) {
      std::string log = ReadLog();
      if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
      std::cerr << "s3rver's log (end):\n" << log << "\n";
    }
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  // Starts s3rver on port_ with its data in root_/data and waits until it accepts connections.
  void Start() {
    std::string data = root_ + "/data", log = root_ + "/s3rver.log", port = std::to_string(port_);
    fs::create_directories(data);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      // s3rver makes continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
      ::execlp("node", "node", "--openssl-legacy-provider", Script().c_str(), "--directory",
               data.c_str(), "--address", "127.0.0.1", "--port", port.c_str(), "--service-endpoint",
               "localhost", "--configure-bucket", kBucket, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_GT(pid_, 0);
    for (auto deadline = Clock::now() + std::chrono::seconds(15); !Answers(port_);) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "s3rver exited at start (is node installed?); its log:\n" << ReadLog();
      }
      if (Clock::now() > deadline)
        FAIL() << "s3rver did not answer in 15 s; its log:\n" << ReadLog();
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string ReadLog() const {
    std::ifstream f(root_ + "/s3rver.log");
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }

  StoreOptions Options() const {
    StoreOptions opts;
    opts.endpoint = "http://127.0.0.1:" + std::to_string(port_);
    opts.access_key_id = "S3RVER";  // s3rver's built-in account
    opts.secret_access_key = "S3RVER";
    opts.max_attempts = 3;
    opts.initial_backoff = std::chrono::milliseconds(20);
    opts.connect_timeout = std::chrono::milliseconds(1000);
    opts.request_timeout = std::chrono::milliseconds(5000);
    return opts;
  }

  std::unique_ptr<ObjectStore> OpenStore(const std::string& url_tail = "/backups",
                                         StoreOptions opts = {}) {
    if (opts.endpoint.empty()) opts = Options();
    auto store = Open(std::string("s3://") + kBucket + url_tail, opts);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::string root_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(S3rverTest, PutGetListDelete) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  const std::string binary("\0\x01\x02\xff\r\n", 6);
  const std::string large(3 * 1024 * 1024 + 7, 'L');
  const std::vector<std::string> keys = {"db/a b.txt",      "db/a+b.txt", "db/ünï/cødé-€😀.bin",
                                         "db/x~y_z.(1)!'*", "db/bin",     "db/large",
                                         "db/empty",        "other/k"};
  for (const std::string& key : keys) {
    std::string data = key == "db/bin"     ? binary
                       : key == "db/large" ? large
                       : key == "db/empty" ? ""
                                           : "data of " + key;
    Status st = store->Put(key, data);
    ASSERT_TRUE(st.ok()) << key << ": " << st.ToString();
  }
  for (const std::string& key : keys) {
    auto got = store->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    if (key == "db/bin") {
      EXPECT_EQ(*got, binary);
    } else if (key == "db/large") {
      EXPECT_EQ(*got, large);
    } else if (key == "db/empty") {
      EXPECT_EQ(*got, "");
    } else {
      EXPECT_EQ(*got, "data of " + key);
    }
  }
  ASSERT_TRUE(store->Put("db/a b.txt", "replaced").ok());
  EXPECT_EQ(store->Get("db/a b.txt").value(), "replaced");

  auto listed = store->List("db/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(Keys(*listed),
            (std::vector<std::string>{"db/a b.txt", "db/a+b.txt", "db/bin", "db/empty", "db/large",
                                      "db/x~y_z.(1)!'*", "db/ünï/cødé-€😀.bin"}));
  for (const ObjectInfo& info : *listed) {
    if (info.key == "db/large") {
      EXPECT_EQ(info.size, large.size());
    } else if (info.key == "db/empty") {
      EXPECT_EQ(info.size, 0u);
    }
  }
  EXPECT_EQ(Keys(store->List("db/a").value()),
            (std::vector<std::string>{"db/a b.txt", "db/a+b.txt"}));
  EXPECT_EQ(store->List("").value().size(), keys.size());
  EXPECT_TRUE(store->List("nothing/").value().empty());

  // The store's prefix is a real prefix in the bucket: another root sees none of it.
  auto other_root = OpenStore("/elsewhere");
  EXPECT_TRUE(other_root->List("").value().empty());
  EXPECT_EQ(other_root->Get("db/bin").status().code(), Code::kNotFound);
  auto bucket_root = OpenStore("");
  EXPECT_EQ(bucket_root->Get("backups/db/bin").value(), binary);

  EXPECT_EQ(store->Get("db/missing").status().code(), Code::kNotFound);
  ASSERT_TRUE(store->Delete("db/a+b.txt").ok());
  ASSERT_TRUE(store->Delete("db/ünï/cødé-€😀.bin").ok());
  ASSERT_TRUE(store->Delete("db/never-existed").ok());
  EXPECT_EQ(store->Get("db/a+b.txt").status().code(), Code::kNotFound);
  EXPECT_EQ(store->Get("db/a b.txt").value(), "replaced");  // its neighbour is untouched
  EXPECT_EQ(store->List("db/").value().size(), 5u);
}

TEST_F(S3rverTest, ListFollowsContinuationTokens) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  constexpr int kKeys = 1100;  // more than one default page of 1000
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kKeys; i += 4) {
        char key[32];
        std::snprintf(key, sizeof key, "many/k%05d", i);
        if (!store->Put(key, std::to_string(i)).ok()) ++failures;
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(store->Put("few/one", "1").ok());

  auto all = store->List("many/");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "many/k%05d", i);
    ASSERT_EQ((*all)[i].key, key);
  }

  StoreOptions small = Options();
  small.list_page_size = 150;  // 8 pages
  auto paged = OpenStore("/backups", small);
  auto again = paged->List("");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->size(), static_cast<size_t>(kKeys + 1));
  EXPECT_EQ(again->back().key, "many/k01099");
  EXPECT_EQ(again->front().key, "few/one");
}

TEST_F(S3rverTest, VirtualHostStyle) {
  StoreOptions opts = Options();
  opts.endpoint = "http://s3.localhost:" + std::to_string(port_);  // bucket.s3.localhost
  auto vhost = OpenStore("/v", opts);
  ASSERT_TRUE(vhost);
  ASSERT_TRUE(vhost->Put("dir/k é", "vhost").ok());
  EXPECT_EQ(vhost->Get("dir/k é").value(), "vhost");
  EXPECT_EQ(Keys(vhost->List("").value()), (std::vector<std::string>{"dir/k é"}));
  // The same object, seen through path-style addressing.
  EXPECT_EQ(OpenStore("/v?path_style=true", opts)->Get("dir/k é").value(), "vhost");
  ASSERT_TRUE(vhost->Delete("dir/k é").ok());
}

TEST_F(S3rverTest, ErrorsFromARealServer) {
  StoreOptions wrong_key = Options();
  wrong_key.access_key_id = "NOT-A-KEY";
  auto store = OpenStore("/x", wrong_key);
  Status st = store->Put("k", "v");
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_NE(st.message().find("InvalidAccessKeyId"), std::string::npos) << st.message();

  auto no_bucket = Open("s3://no-such-bucket/x", Options());
  ASSERT_TRUE(no_bucket.ok());
  EXPECT_EQ((*no_bucket)->Get("k").status().code(), Code::kNotFound);
  auto listed = (*no_bucket)->List("");
  EXPECT_EQ(listed.status().code(), Code::kNotFound);
  EXPECT_NE(listed.status().message().find("NoSuchBucket"), std::string::npos);
}

TEST_F(S3rverTest, OutageIsUnavailableAndRecoveryNeedsNoReopen) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Put("before", "kept").ok());

  Kill();
  auto start = Clock::now();
  EXPECT_EQ(store->Get("before").status().code(), Code::kUnavailable);
  Status put = store->Put("during", "x");
  EXPECT_EQ(put.code(), Code::kUnavailable);
  EXPECT_NE(put.message().find("3 attempts"), std::string::npos) << put.message();
  EXPECT_EQ(store->List("").status().code(), Code::kUnavailable);
  EXPECT_EQ(store->Delete("before").code(), Code::kUnavailable);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));

  Start();  // same port, same directory
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(store->Get("before").value(), "kept");
  ASSERT_TRUE(store->Put("after", "y").ok());
  EXPECT_EQ(Keys(store->List("").value()), (std::vector<std::string>{"after", "before"}));
}

}  // namespace
}  // namespace cairn::objectstore
