// Data-driven protocol tests: every tests/protocol/*.json file is a sequence of HTTP requests sent to
// a fresh in-process server, each with the response it must get.
//
// Case file:
//   {"description": "...",
//    "server": {"statement_timeout_ms": 200, "txn_timeout_ms": 100, "stream_idle_timeout_ms": 100,
//               "max_body_bytes": 1000, "max_response_bytes": 1000},          (all optional)
//    "steps": [{"admin": false, "sleep_ms": 0,
//               "request": {"method": "POST", "path": "/v2/pipeline", "headers": {...},
//                           "body": {...JSON...} | "body_raw": "text"},
//               "expect": {"status": 200, "content_type": "application/json",
//                          "body": {...} | "body_raw": "text" | "body_contains": ["text"],
//                          "lines": [{...}, ...]}}]}
// Expected JSON is matched as a subset for objects (extra keys in the response are fine) and
// exactly for arrays and scalars. "$any" matches any value; "$save:NAME" matches any value and
// saves it; a request string "$NAME" is replaced by the saved value (e.g. a baton).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "server/server.h"

namespace cairn {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using simdjson::dom::element;

struct HttpResult {
  int status = 0;
  std::string content_type;
  std::string body;
};

HttpResult Send(uint16_t port, const std::string& method, const std::string& path,
                const std::map<std::string, std::string>& headers, const std::string& body) {
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http::write(sock, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code ec;
  http::read(sock, buf, parser, ec);
  HttpResult r;
  if (ec) {
    r.status = -1;
    r.body = ec.message();
    return r;
  }
  auto& res = parser.get();
  r.status = res.result_int();
  r.content_type = std::string(res[http::field::content_type]);
  r.body = res.body();
  return r;
}

std::string Minify(element e) { return simdjson::minify(e); }

class Matcher {
 public:
  explicit Matcher(std::map<std::string, std::string>* saved) : saved_(saved) {}

  // Returns "" on match, else a description of the first difference.
  std::string Match(element expected, element actual, const std::string& where) {
    if (expected.is_string()) {
      std::string_view s = expected.get_string().value_unsafe();
      if (s == "$any") return "";
      if (s.substr(0, 6) == "$save:") {
        std::string v = actual.is_string() ? std::string(actual.get_string().value_unsafe())
                                           : Minify(actual);
        (*saved_)[std::string(s.substr(6))] = v;
        return "";
      }
    }
    if (expected.type() != actual.type()) {
      // Integers and doubles compare by value.
      if (expected.is_number() && actual.is_number() &&
          expected.get_double().value_unsafe() == actual.get_double().value_unsafe())
        return "";
      return where + ": expected " + Minify(expected) + ", got " + Minify(actual);
    }
    switch (expected.type()) {
      case simdjson::dom::element_type::OBJECT: {
        simdjson::dom::object eo = expected.get_object().value_unsafe();
        simdjson::dom::object ao = actual.get_object().value_unsafe();
        for (auto [key, value] : eo) {
          element a;
          if (ao.at_key(key).get(a))
            return where + "." + std::string(key) + ": missing in " + Minify(actual);
          auto m = Match(value, a, where + "." + std::string(key));
          if (!m.empty()) return m;
        }
        return "";
      }
      case simdjson::dom::element_type::ARRAY: {
        simdjson::dom::array ea = expected.get_array().value_unsafe();
        simdjson::dom::array aa = actual.get_array().value_unsafe();
        if (ea.size() != aa.size())
          return where + ": expected " + std::to_string(ea.size()) + " elements, got " +
                 Minify(actual);
        size_t i = 0;
        auto it = aa.begin();
        for (element x : ea) {
          auto m = Match(x, *it, where + "[" + std::to_string(i) + "]");
          if (!m.empty()) return m;
          ++it;
          ++i;
        }
        return "";
      }
      default:
        if (Minify(expected) != Minify(actual))
          return where + ": expected " + Minify(expected) + ", got " + Minify(actual);
        return "";
    }
  }

 private:
  std::map<std::string, std::string>* saved_;
};

std::string Substitute(std::string text, const std::map<std::string, std::string>& saved) {
  for (const auto& [name, value] : saved) {
    std::string token = "\"$" + name + "\"";
    std::string repl = "\"" + value + "\"";
    for (size_t pos; (pos = text.find(token)) != std::string::npos;)
      text.replace(pos, token.size(), repl);
  }
  return text;
}

class ProtocolCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ProtocolCase, Run) {
  const fs::path file = fs::path(CAIRN_PROTOCOL_DIR) / GetParam();
  simdjson::dom::parser parser;
  element root;
  ASSERT_FALSE(parser.load(file.string()).get(root)) << "cannot parse " << file;

  fs::path dir = fs::temp_directory_path() /
                 ("cairn-proto-" + std::to_string(::getpid()) + "-" + file.stem().string());
  fs::remove_all(dir);
  server::ServerOptions so;
  so.listen = "127.0.0.1:0";
  so.admin_listen = "127.0.0.1:0";
  so.network_threads = 2;
  so.blocking_threads = 4;
  so.registry.data_dir = dir.string();
  element cfg;
  if (!root["server"].get(cfg)) {
    int64_t v;
    if (!cfg["statement_timeout_ms"].get(v))
      so.registry.database.statement_timeout = std::chrono::milliseconds(v);
    if (!cfg["txn_timeout_ms"].get(v)) so.registry.database.txn_timeout = std::chrono::milliseconds(v);
    if (!cfg["write_lock_wait_ms"].get(v))
      so.registry.database.write_lock_wait = std::chrono::milliseconds(v);
    if (!cfg["stream_idle_timeout_ms"].get(v))
      so.hrana.stream_idle_timeout = std::chrono::milliseconds(v);
    if (!cfg["max_body_bytes"].get(v)) so.max_body_bytes = static_cast<size_t>(v);
    if (!cfg["max_response_bytes"].get(v)) so.hrana.max_response_bytes = static_cast<size_t>(v);
  }
  auto server = server::Server::Create(so);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_TRUE((*server)->Start().ok());

  std::map<std::string, std::string> saved;
  Matcher matcher(&saved);
  int index = 0;
  simdjson::dom::array steps = root["steps"].get_array().value();
  for (element step : steps) {
    SCOPED_TRACE("step " + std::to_string(index++));
    int64_t sleep_ms = 0;
    if (!step["sleep_ms"].get(sleep_ms))
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    bool admin = false;
    if (step["admin"].get(admin)) admin = false;
    element req = step["request"].value();
    std::string method = "POST", path;
    std::string_view sv;
    if (!req["method"].get(sv)) method = std::string(sv);
    path = std::string(req["path"].get_string().value());
    std::map<std::string, std::string> headers;
    element hs;
    if (!req["headers"].get(hs)) {
      simdjson::dom::object ho = hs.get_object().value();
      for (auto [k, v] : ho) headers[std::string(k)] = std::string(v.get_string().value());
    }
    std::string body;
    element b;
    if (!req["body"].get(b)) body = Substitute(Minify(b), saved);
    if (!req["body_raw"].get(sv)) body = std::string(sv);
    int64_t repeat_body = 0;
    if (!req["body_repeat"].get(repeat_body)) {  // body_raw repeated N times (size limits)
      std::string one = body;
      for (int64_t i = 1; i < repeat_body; ++i) body += one;
    }

    HttpResult r = Send(admin ? (*server)->admin_port() : (*server)->port(), method, path,
                        headers, body);
    element expect = step["expect"].value();
    int64_t status = 0;
    if (!expect["status"].get(status)) {
      EXPECT_EQ(r.status, status) << r.body;
    }
    if (!expect["content_type"].get(sv)) {
      EXPECT_EQ(r.content_type, sv);
    }
    if (!expect["body_raw"].get(sv)) {
      EXPECT_EQ(r.body, sv);
    }
    element contains;
    if (!expect["body_contains"].get(contains)) {  // raw substrings (for what JSON parsers refuse)
      simdjson::dom::array parts = contains.get_array().value();
      for (element part : parts) {
        std::string_view needle = part.get_string().value();
        EXPECT_NE(r.body.find(needle), std::string::npos) << needle << " not in " << r.body;
      }
    }
    element lines;
    if (!expect["lines"].get(lines)) {  // newline-delimited JSON, one expected object per line
      std::vector<std::string> got;
      std::istringstream in(r.body);
      for (std::string line; std::getline(in, line);) got.push_back(line);
      simdjson::dom::array want = lines.get_array().value();
      ASSERT_EQ(got.size(), want.size()) << r.body;
      size_t i = 0;
      for (element w : want) {
        simdjson::dom::parser p2;
        element actual;
        ASSERT_FALSE(p2.parse(got[i]).get(actual)) << "line is not JSON: " << got[i];
        EXPECT_EQ(matcher.Match(w, actual, "line" + std::to_string(i)), "") << r.body;
        ++i;
      }
    }
    element eb;
    if (!expect["body"].get(eb)) {
      simdjson::dom::parser p2;
      element actual;
      auto err = p2.parse(r.body).get(actual);
      ASSERT_FALSE(err) << "response is not JSON: " << r.body;
      std::string diff = matcher.Match(eb, actual, "body");
      EXPECT_EQ(diff, "") << "full response: " << r.body;
    }
  }
  (*server)->Stop();
  server->reset();
  fs::remove_all(dir);
}

std::vector<std::string> CaseFiles() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(CAIRN_PROTOCOL_DIR))
    if (e.path().extension() == ".json") out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Protocol, ProtocolCase, ::testing::ValuesIn(CaseFiles()),
                         [](const auto& info) {
                           std::string n = fs::path(info.param).stem().string();
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace cairn
