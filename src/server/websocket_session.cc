#include "server/internal/websocket_session.h"

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>
#include <string_view>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "base/log.h"
#include "hrana/errors.h"
#include "hrana/websocket.h"
#include "http/websocket.h"
#include "metrics/metrics.h"
#include "server/internal/reply.h"
#include "server/routing.h"

namespace cairn::server {

namespace asio = boost::asio;

namespace {

// A WebSocket with no message for this long is closed (its streams roll back).
constexpr std::chrono::seconds kWebSocketIdleTimeout{600};
// A WebSocket stops reading while this many of its requests wait for the write lock.
constexpr int kWebSocketMaxWaiting = 64;
// A WebSocket stops reading while this many of its requests wait behind others on their streams.
constexpr size_t kWebSocketMaxQueued = 256;

// One WebSocket's state, shared by its reading loop and the calls that wait on a blocking
// thread; used on the connection's network thread only.
struct WsState {
  WsState(hrana::Service* service, int version, std::string db,
          hrana::WsConnection::Authenticate auth)
      : conn(service, version, std::move(db), std::move(auth)) {}
  hrana::WsConnection conn;
  std::string out;       // frames to send
  bool writing = false;  // a WsFlush is sending
  bool closing = false;  // a close frame is in `out`: no more messages
  bool broken = false;   // a write failed
  int waiting = 0;       // calls on blocking threads
};

void WsClose(WsState& st, uint16_t code, std::string_view reason) {
  if (st.closing) return;
  http::ws::AppendClose(&st.out, code, reason);
  st.closing = true;
}

void WsDeliver(WsState& st, hrana::Call& call) {
  const std::string& reply = call.response().body;
  if (!reply.empty() && !st.closing) http::ws::AppendFrame(&st.out, http::ws::Opcode::kText, reply);
  if (st.conn.close_code() != 0) WsClose(st, st.conn.close_code(), st.conn.close_reason());
}

// Sends what is in st->out; one Flush at a time sends, the others return at once (what they
// added goes out with the running one).
asio::awaitable<void> WsFlush(std::shared_ptr<ConnState> c, std::shared_ptr<WsState> st) {
  if (st->writing) co_return;
  st->writing = true;
  std::string sending;
  boost::system::error_code ec;
  while (!st->out.empty() && !st->broken) {
    sending.clear();
    std::swap(sending, st->out);
    c->deadline = std::chrono::steady_clock::now() + kWriteTimeout;
    co_await asio::async_write(c->socket, asio::buffer(sending),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) st->broken = true;
  }
  c->deadline = std::chrono::steady_clock::now() + kWebSocketIdleTimeout;  // reading again
  st->writing = false;
}

asio::awaitable<void> WsPause(std::shared_ptr<ConnState> c) {
  asio::steady_timer timer(c->socket.get_executor(), std::chrono::milliseconds(2));
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void WsRun(const WebSocketDeps& deps, std::shared_ptr<ConnState> c, std::shared_ptr<WsState> st,
           std::unique_ptr<hrana::Call> call, const std::string& request_id);

asio::awaitable<void> WsWait(const WebSocketDeps& deps, std::shared_ptr<ConnState> c,
                             std::shared_ptr<WsState> st, std::unique_ptr<hrana::Call> call,
                             std::string request_id) {
  deps.serving->in_flight++;
  co_await deps.pools->Finish(*call, request_id);
  deps.serving->in_flight--;
  WsDeliver(*st, *call);
  WsRun(deps, c, st, st->conn.Complete(call.get()), request_id);
  st->waiting--;  // after WsRun: the reading loop must not see 0 while this stream has more
  co_await WsFlush(c, st);
}

// Runs `call` and the calls of its stream that waited behind it, on this thread as far as they
// go without waiting; one that must wait for the write lock finishes on a blocking thread while
// the connection goes on (WsWait).
void WsRun(const WebSocketDeps& deps, std::shared_ptr<ConnState> c, std::shared_ptr<WsState> st,
           std::unique_ptr<hrana::Call> call, const std::string& request_id) {
  while (call != nullptr && !st->closing && !st->broken) {
    bool done = false;
    {
      RequestIdScope scope(request_id);
      done = call->Run(/*may_block=*/false);
    }
    if (!done) {
      st->waiting++;
      asio::co_spawn(c->socket.get_executor(), WsWait(deps, c, st, std::move(call), request_id),
                     asio::detached);
      return;
    }
    WsDeliver(*st, *call);
    call = st->conn.Complete(call.get());
  }
}

}  // namespace

// GCC 12 reports this coroutine's frame as freed by a delete that does not match its new: a false
// positive (both are the operators of Asio's awaitable_frame_base, inlined into the ramp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
asio::awaitable<void> WebSocketSessions::Serve(std::shared_ptr<ConnState> c,
                                               http::RequestReader& reader,
                                               std::string request_id) {
  const WebSocketDeps& deps = deps_;
  static constexpr std::string_view kSubprotocols[] = {"hrana3", "hrana2", "hrana1"};
  const http::Request& req = reader.request();
  const auto started = std::chrono::steady_clock::now();
  const std::string_view offered = req.Find("sec-websocket-protocol");
  const std::string_view chosen = http::ws::ChooseSubprotocol(offered, kSubprotocols);
  std::optional<Reply> refusal;
  Result<std::string> db = std::string();
  if (std::string_view why = http::ws::CheckUpgrade(req); !why.empty()) {
    refusal = ErrorReply(Status(Code::kInvalidRequest, std::string(why)));
  } else if (!offered.empty() && chosen.empty()) {
    refusal = ErrorReply(Status(Code::kInvalidRequest,
                                "none of the WebSocket subprotocols offered is supported (hrana3, "
                                "hrana2, hrana1)"));
  } else if (deps.serving->stopping) {
    refusal = ErrorReply(Status(Code::kUnavailable, "the server is shutting down"));
  } else if (deps.is_replica->load(std::memory_order_acquire)) {
    refusal = ErrorReply(Status(Code::kInvalidRequest,
                                "this server is a read replica: use Hrana over HTTP here (writes "
                                "are forwarded to the primary) or WebSocket on the primary"),
                         Refusal::kWrongRole);
  } else {
    db = SelectDatabase(req.Find("x-namespace"), req.Find("x-namespace-bin"), req.Find("host"),
                        *deps.registry);
    // With authentication, whether a database exists is told only to an authenticated client
    // (in the answer to its hello), as over HTTP.
    if (!db.ok() && !deps.authenticator) refusal = ErrorReply(db.status());
  }
  boost::system::error_code ec;
  if (refusal) {
    metrics::Process().hrana_errors.Inc("PROTOCOL_ERROR");
    deps.http_metrics->Record(HttpMetrics::Classify(req.path()), refusal->status, 0);
    LogRequest(request_id, false, req.method, req.path(), refusal->status, 0);
    ec = co_await WriteLastAnswer(*c, req.minor_version, refusal->status, refusal->content_type,
                                  refusal->body, request_id);
    co_return;
  }
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  out += "Sec-WebSocket-Accept: " + http::ws::AcceptKey(req.Find("sec-websocket-key")) + "\r\n";
  if (!chosen.empty()) out += "Sec-WebSocket-Protocol: " + std::string(chosen) + "\r\n";
  out += "Server: cairn\r\n" + std::string(kRequestIdHeader) + ": " + request_id + "\r\n\r\n";
  const int version = chosen == "hrana3" ? 3 : chosen == "hrana2" ? 2 : 1;
  const std::string path(req.path());
  deps.http_metrics->Record(
      HttpMetrics::Classify(path), 101,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  LogRequest(request_id, false, req.method, path, 101, 0);

  const std::string name = db.ok() ? *db : std::string();
  auto st = std::make_shared<WsState>(
      deps.service, version, name,
      [authenticator = deps.authenticator, name,
       selected = db.status()](const std::optional<std::string>& jwt) -> Result<hrana::WsAccess> {
        if (!authenticator) return hrana::WsAccess{};  // every client reads and writes
        CAIRN_ASSIGN_OR_RETURN(auto grant,
                               authenticator->Authenticate(jwt ? "Bearer " + *jwt : std::string()));
        if (!selected.ok()) return selected;
        const auth::Access access = grant->To(name);
        if (access == auth::Access::kNone)
          return Status(Code::kPermissionDenied,
                        "the token does not grant access to database '" + name + "'");
        return hrana::WsAccess{access == auth::Access::kRead, grant->expires()};
      });
  const int max_waiting = std::max(1, std::min(kWebSocketMaxWaiting, deps.blocking_threads / 2));
  http::ws::FrameReader frames(deps.max_message_bytes);
  reader.Done();
  frames.Feed(reader.Buffered());  // frames the client sent right behind its request
  st->out = std::move(out);        // the 101 answer goes first
  co_await WsFlush(c, st);
  while (!st->broken && !st->closing) {
    http::ws::Message m;
    const auto next = frames.Next(&m);
    if (next == http::ws::FrameReader::Result::kNeedMore) {
      c->deadline = std::chrono::steady_clock::now() + kWebSocketIdleTimeout;
      const std::span<char> space = frames.ReadSpace();
      const size_t n = co_await c->socket.async_read_some(
          asio::buffer(space.data(), space.size()), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        st->broken = true;  // the client is gone: what waits on its streams does not run
        break;
      }
      frames.Commit(n);
      continue;
    }
    if (next == http::ws::FrameReader::Result::kError) {
      WsClose(*st, frames.close_code(), frames.error());
    } else if (m.opcode == http::ws::Opcode::kPing) {
      http::ws::AppendFrame(&st->out, http::ws::Opcode::kPong, m.payload);
    } else if (m.opcode == http::ws::Opcode::kPong) {
      continue;
    } else if (m.opcode == http::ws::Opcode::kClose) {
      const uint16_t code = http::ws::CloseCode(m.payload);
      WsClose(*st, code == 1005 ? 1000 : code, "");
    } else if (m.opcode == http::ws::Opcode::kBinary) {
      WsClose(*st, 1003, "Hrana here is JSON in text messages");
    } else if (deps.serving->stopping) {
      WsClose(*st, 1001, "the server is shutting down");
    } else {
      WsRun(deps, c, st, st->conn.Message(std::move(m.payload)), request_id);
    }
    co_await WsFlush(c, st);
    // Back-pressure: with many calls waiting for the write lock, read no more for a while.
    while (!st->broken && (st->waiting >= max_waiting || st->conn.queued() >= kWebSocketMaxQueued))
      co_await WsPause(c);
  }
  // The calls still waiting hold the connection's streams: let them finish first (each wait is
  // bounded by the transaction lock timeout).
  while (st->waiting > 0 || st->writing) co_await WsPause(c);
  co_await WsFlush(c, st);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace cairn::server
