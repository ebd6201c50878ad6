// What the HTTP and WebSocket loops share about one client connection: its socket and the
// watchdog that closes it when idle or stuck, the request id and request log line of every
// answer, the answer after which a connection closes, and the shutdown state every request path
// reads (ServingState).
//
// Private to server (Asio appears in its signatures).
//
// Thread-safety: a ConnState is used on its connection's network thread only; ServingState is
// atomic; the functions are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace cairn::server {

inline constexpr std::chrono::seconds kIdleConnectionTimeout{120};  // between requests
inline constexpr std::chrono::seconds kWriteTimeout{60};            // a client too slow to read
inline constexpr const char* kRequestIdHeader = "x-request-id";

// Whether the server is shutting down, and how many requests run (shutdown waits for them).
struct ServingState {
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};
};

// One client connection. Idle and stuck connections are closed by a watchdog that wakes only at
// the connection's deadline, instead of arming and cancelling a timer around every read and
// write (which costs timer syscalls on every request).
struct ConnState {
  explicit ConnState(boost::asio::ip::tcp::socket s)
      : socket(std::move(s)), timer(socket.get_executor()) {}
  boost::asio::ip::tcp::socket socket;
  boost::asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline;
  bool done = false;
};

// Closes c's socket once its deadline passes (the pending read or write then fails); ends when
// c->done.
boost::asio::awaitable<void> Watchdog(std::shared_ptr<ConnState> c);

// The id of a request into *out (whose capacity is reused): the client's x-request-id when it is
// 1 to 128 characters of [A-Za-z0-9._:/+=@-] (safe in logs and headers), else a new one: a random
// per-process prefix and a counter.
void RequestIdOf(std::string_view sent, std::string* out);

// Every request at debug level, failed ones (5xx) at error level, with the request id.
void LogRequest(std::string_view id, bool admin, std::string_view method, std::string_view path,
                int status, double seconds);

// Writes an answer after which the connection closes (Connection: close); the write's error.
boost::asio::awaitable<boost::system::error_code> WriteLastAnswer(ConnState& c, int minor_version,
                                                                  int status,
                                                                  std::string_view content_type,
                                                                  std::string_view body,
                                                                  std::string_view request_id);

}  // namespace cairn::server
