#include "net/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace cairn::net {
namespace {

using namespace std::chrono_literals;

// What the test server received.
struct Received {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> fields;  // lower-case names, in order
  std::string body;

  std::string Field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return "";
  }
  bool Has(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return true;
    }
    return false;
  }
};

// A one-thread HTTP/1.1 server on 127.0.0.1 that answers each request with what `respond` returns
// (the whole response), or never when it returns nullopt. Connections are served one at a time
// and kept open between requests.
class TestServer {
 public:
  using Respond = std::function<std::optional<std::string>(const Received&)>;

  explicit TestServer(Respond respond) : respond_(std::move(respond)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  std::vector<Received> received() {
    std::lock_guard lk(mu_);
    return received_;
  }

 private:
  // Waits until `fd` is readable or the server stops.
  bool WaitReadable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void Serve() {
    while (WaitReadable(listener_)) {
      const int conn = ::accept(listener_, nullptr, nullptr);
      if (conn < 0) continue;
      ++connections_;
      std::string buf;
      while (ServeOne(conn, &buf)) {
      }
      ::close(conn);
    }
  }

  // Reads one request from `conn` and answers it; false when the connection is done.
  bool ServeOne(int conn, std::string* buf) {
    size_t head_end;
    while ((head_end = buf->find("\r\n\r\n")) == std::string::npos) {
      if (!Read(conn, buf)) return false;
    }
    Received r;
    std::string_view head(buf->data(), head_end);
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    r.method = std::string(line.substr(0, line.find(' ')));
    line.remove_prefix(r.method.size() + 1);
    r.target = std::string(line.substr(0, line.find(' ')));
    size_t content_length = 0;
    while (eol != std::string_view::npos) {
      head.remove_prefix(eol + 2);
      eol = head.find("\r\n");
      std::string_view field = head.substr(0, eol);
      const size_t colon = field.find(':');
      std::string name(field.substr(0, colon));
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string_view value = field.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "content-length") content_length = std::stoul(std::string(value));
      if (name == "expect") ::send(conn, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL);
      r.fields.emplace_back(std::move(name), std::string(value));
    }
    buf->erase(0, head_end + 4);
    while (buf->size() < content_length) {
      if (!Read(conn, buf)) return false;
    }
    r.body = buf->substr(0, content_length);
    buf->erase(0, content_length);
    std::optional<std::string> answer = respond_(r);
    {
      std::lock_guard lk(mu_);
      received_.push_back(std::move(r));
    }
    if (!answer) {
      // Never answers: holds the connection until the client closes it or the server stops.
      while (Read(conn, buf)) {
      }
      return false;
    }
    ::send(conn, answer->data(), answer->size(), MSG_NOSIGNAL);
    return true;
  }

  bool Read(int conn, std::string* buf) {
    if (!WaitReadable(conn)) return false;
    char chunk[4096];
    const ssize_t n = ::recv(conn, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf->append(chunk, static_cast<size_t>(n));
    return true;
  }

  Respond respond_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<Received> received_;  // guarded by mu_
  std::thread thread_;
};

std::string Ok(std::string_view body, std::string_view extra_fields = "") {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Answer-Field: one\r\n" +
         std::string(extra_fields) + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

TEST(HttpClientTest, GetSendsBearerAndUserAgentAndReadsTheAnswer) {
  TestServer server([](const Received&) { return Ok("hello"); });
  HttpClient client(server.url() + "//", "secret", {.user_agent = "cairn-test"});
  EXPECT_EQ(client.base_url(), server.url());
  auto a = client.Get("/v1/thing?x=1", 5s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "hello");
  EXPECT_EQ(a->content_type, "text/plain");
  EXPECT_EQ(a->Header("x-answer-field"), "one");  // names lower-cased
  EXPECT_EQ(a->Header("missing"), "");
  const auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "GET");
  EXPECT_EQ(got[0].target, "/v1/thing?x=1");
  EXPECT_EQ(got[0].Field("authorization"), "Bearer secret");
  EXPECT_EQ(got[0].Field("user-agent"), "cairn-test");
  EXPECT_FALSE(got[0].Has("accept-encoding"));
}

TEST(HttpClientTest, AnyStatusIsAnAnswer) {
  TestServer server([](const Received&) {
    return std::string("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
  });
  HttpClient client(server.url(), "");
  auto a = client.Get("/", 5s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->status, 503);
  EXPECT_EQ(a->body, "busy");
  EXPECT_FALSE(server.received()[0].Has("authorization"));
}

TEST(HttpClientTest, PostSendsBodyAndFieldsWithoutWaitingForContinue) {
  TestServer server([](const Received& r) { return Ok(r.body); });
  HttpClient client(server.url(), "", {.headers = {"X-Every: 1"}, .accept_compressed = true});
  const std::string big(2 << 20, 'b');  // over 1 MiB: libcurl would ask for 100 Continue
  const std::vector<std::string> fields = {"Content-Type: application/json", "X-Own: 2"};
  auto a = client.Post("/v3/pipeline", big, fields, 5s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->body, big);
  auto empty = client.Post("/empty", "", {}, 5s);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  const auto got = server.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].body, big);
  EXPECT_EQ(got[0].Field("content-type"), "application/json");
  EXPECT_EQ(got[0].Field("x-every"), "1");
  EXPECT_EQ(got[0].Field("x-own"), "2");
  EXPECT_FALSE(got[0].Has("expect"));
  EXPECT_TRUE(got[0].Has("accept-encoding"));
  EXPECT_EQ(got[1].body, "");
  EXPECT_EQ(got[1].Field("content-length"), "0");
  EXPECT_EQ(server.connections(), 1);  // one kept-alive connection
}

TEST(HttpClientTest, PutUploadsAndOtherMethodsAreSentByName) {
  TestServer server([](const Received& r) { return Ok(r.method + " " + r.body); });
  HttpClient client("", "", {.expect_continue = true});
  const std::string big(1536 * 1024, 'p');
  auto put = client.Send({.method = "PUT", .target = server.url() + "/obj", .body = big});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->body, "PUT " + big);
  auto del = client.Send({.method = "DELETE", .target = server.url() + "/obj"});
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del->body, "DELETE ");
  const auto got = server.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].Field("expect"), "100-continue");  // asked for, as S3 wants
  EXPECT_EQ(got[0].body, big);
  EXPECT_EQ(got[1].method, "DELETE");
}

TEST(HttpClientTest, NoServerIsUnavailableAndNamesTheRequest) {
  int port;
  {
    TestServer gone([](const Received&) { return Ok(""); });
    port = std::stoi(gone.url().substr(gone.url().rfind(':') + 1));
  }
  HttpClient client("http://127.0.0.1:" + std::to_string(port), "");
  auto a = client.Get("/v1/replication", 5s);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kUnavailable);
  EXPECT_NE(a.status().message().find("GET http://127.0.0.1:" + std::to_string(port) +
                                      "/v1/replication: "),
            std::string::npos)
      << a.status().message();
}

TEST(HttpClientTest, WhatNoRetryCanFixIsAnIOError) {
  HttpClient client("", "");
  auto a = client.Get("ftp://127.0.0.1/file", 5s);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kIOError) << a.status().ToString();
}

TEST(HttpClientTest, ASilentServerTimesOut) {
  TestServer server([](const Received&) { return std::nullopt; });
  HttpClient client(server.url(), "");
  const auto start = std::chrono::steady_clock::now();
  auto a = client.Get("/", 200ms);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(HttpClientTest, AbortEndsTheRequestInProgressAndEveryLaterOne) {
  TestServer server([](const Received&) { return std::nullopt; });
  HttpClient client(server.url(), "");
  std::thread aborter([&] {
    while (server.received().empty()) std::this_thread::sleep_for(5ms);
    client.Abort();
  });
  const auto start = std::chrono::steady_clock::now();
  auto a = client.Get("/v1/replication/changes", 60s);
  aborter.join();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  auto later = client.Get("/", 60s);
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.status().code(), Code::kUnavailable);
  EXPECT_EQ(server.received().size(), 1u);  // the later request never left
}

}  // namespace
}  // namespace cairn::net
