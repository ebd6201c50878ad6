#include "server/internal/connection.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "base/log.h"
#include "http/http.h"

namespace cairn::server {

namespace asio = boost::asio;

asio::awaitable<void> Watchdog(std::shared_ptr<ConnState> c) {
  while (!c->done) {
    c->timer.expires_at(c->deadline);
    boost::system::error_code ec;
    co_await c->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (c->done) break;
    if (std::chrono::steady_clock::now() >= c->deadline) {
      c->socket.close(ec);  // the pending read or write fails; the connection's loop ends
      break;
    }
  }
}

void RequestIdOf(std::string_view sent, std::string* out) {
  auto safe = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("._:/+=@-").find(c) != std::string_view::npos;
  };
  out->clear();
  if (!sent.empty() && sent.size() <= 128 && std::all_of(sent.begin(), sent.end(), safe)) {
    out->append(sent);
    return;
  }
  static const uint64_t prefix = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::atomic<uint64_t> next{1};
  fmt::format_to(std::back_inserter(*out), "{:016x}-{:x}", prefix,
                 next.fetch_add(1, std::memory_order_relaxed));
}

void LogRequest(std::string_view id, bool admin, std::string_view method, std::string_view path,
                int status, double seconds) {
  const auto level = status >= 500 ? spdlog::level::err : spdlog::level::debug;
  if (!spdlog::should_log(level)) return;
  RequestIdScope scope(id);
  spdlog::log(level, "{} {} {} -> {} in {:.3f} ms", admin ? "admin" : "hrana", method, path, status,
              seconds * 1000);
}

asio::awaitable<boost::system::error_code> WriteLastAnswer(ConnState& c, int minor_version,
                                                           int status,
                                                           std::string_view content_type,
                                                           std::string_view body,
                                                           std::string_view request_id) {
  const http::Header fields[] = {{"Server", "cairn"},
                                 {"Content-Type", content_type},
                                 {kRequestIdHeader, request_id},
                                 {"Access-Control-Allow-Origin", "*"}};
  std::string head;
  http::AppendResponseHead(&head, minor_version, status, fields, body.size(),
                           /*keep_alive=*/false);
  boost::system::error_code ec;
  c.deadline = std::chrono::steady_clock::now() + kWriteTimeout;
  const std::array<asio::const_buffer, 2> gather = {asio::buffer(head),
                                                    asio::buffer(body.data(), body.size())};
  co_await asio::async_write(c.socket, gather, asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

}  // namespace cairn::server
