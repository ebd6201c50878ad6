// Hrana over WebSocket: one connection's state machine (websocket.h).
#include "hrana/websocket.h"

#include <deque>
#include <unordered_map>
#include <vector>

#include "base/json_writer.h"
#include "hrana/encode.h"
#include "hrana/stream_call.h"
#include "metrics/metrics.h"

namespace cairn::hrana {
namespace {

// A call whose message is known at once (hello, store_sql, protocol errors, ...). `stream`: the
// stream whose queue it came from (its successors wait for it), or none.
class ReadyCall final : public Call {
 public:
  explicit ReadyCall(std::string message) { response_.body = std::move(message); }
  bool Run(bool) override { return true; }
  std::optional<int32_t> stream;
};

std::string WsOk(int32_t request_id, std::string_view type) {
  std::string s;
  JsonWriter w(&s);
  WriteOk(w, request_id, type);
  return s;
}

std::string WsError(int32_t request_id, const Status& st) {
  std::string s;
  JsonWriter w(&s);
  WriteErrorResult(w, request_id, st);
  return s;
}

std::unique_ptr<Call> Ready(std::string message) {
  return std::make_unique<ReadyCall>(std::move(message));
}

// Cursors one WebSocket connection may hold open (each keeps its batch's entries in memory, up to
// the response size limit).
constexpr size_t kMaxWsCursors = 16;

}  // namespace

struct WsConnection::Impl {
  struct Slot {
    std::unique_ptr<Stream> stream;  // null while a call has it, or when failed
    bool busy = false;               // a call runs on the stream
    bool failed = false;             // its open_stream failed, or an error closed it
    std::deque<WsMessage> waiting;   // requests on the stream behind the running one
  };
  struct Cursor {
    int32_t stream_id = 0;
    bool pending = false;  // its open_cursor runs
    bool failed = false;
    std::deque<std::string> entries;  // JSON objects
  };

  Service* service = nullptr;
  int version = 3;
  std::string db;
  Authenticate authenticate;
  bool hello = false;  // a hello was accepted
  bool read_only = false;
  std::optional<int64_t> expires;  // the token's, Unix seconds
  std::unordered_map<int32_t, Slot> streams;
  // Requests that were queued on a stream closed by a queued close_stream: handled next.
  std::deque<WsMessage> orphans;
  size_t queued = 0;                             // requests in Slot::waiting and orphans
  std::unordered_map<int32_t, std::string> sql;  // store_sql, for every stream
  std::unordered_map<int32_t, Cursor> cursors;
  uint16_t close_code = 0;
  std::string close_reason;

  std::unique_ptr<Call> ProtocolError(std::string reason) {
    metrics::Process().hrana_errors.Inc("PROTOCOL_ERROR");
    if (close_code == 0) {
      close_code = 1002;
      close_reason = std::move(reason);
    }
    return Ready(std::string());
  }
  // The SQL texts a request names by sql_id, put in place (the call may run on another thread
  // while the connection stores or closes texts). False when one is not stored.
  bool Resolve(std::optional<std::string>* text, std::optional<int32_t>* id, int32_t* missing) {
    if (!id->has_value()) return true;
    auto it = sql.find(**id);
    if (it == sql.end()) {
      *missing = **id;
      return false;
    }
    *text = it->second;
    id->reset();
    return true;
  }
  bool ResolveAll(Request* r, int32_t* missing) {
    if (!Resolve(&r->stmt.sql, &r->stmt.sql_id, missing)) return false;
    for (BatchStep& step : r->batch.steps)
      if (!Resolve(&step.stmt.sql, &step.stmt.sql_id, missing)) return false;
    if (r->kind == Request::Kind::kSequence || r->kind == Request::Kind::kDescribe)
      return Resolve(&r->sql, &r->sql_id, missing);
    return true;
  }

  std::unique_ptr<Call> Handle(WsMessage m);
  std::unique_ptr<Call> Next(int32_t stream_id);
  void Queue(Slot& slot, WsMessage m) {
    slot.waiting.push_back(std::move(m));
    ++queued;
  }
};

namespace {

// Runs one request of a WebSocket connection on one of its streams (open_stream and open_cursor
// included). The stream is the call's while it runs — on the network thread, or on a thread that
// may block — and goes back to the connection in WsConnection::Complete, on the network thread.
class WsStreamCall final : public RequestRunner {
 public:
  WsStreamCall(Service* service, WsConnection::Impl* conn, WsMessage m)
      : RequestRunner(service, conn->db, std::string(), conn->read_only), m_(std::move(m)) {
    ws_id_ = m_.request_id;
    WsConnection::Impl::Slot& slot = conn->streams[m_.stream_id];
    slot.busy = true;
    if (m_.op == WsMessage::Op::kOpenStream) {
      stream_ = std::make_unique<Stream>();
      stream_->db = db_;
    } else {
      stream_ = std::move(slot.stream);
    }
  }

  bool Run(bool may_block) override {
    if (!started_) {
      started_ = true;
      const bool opening = m_.op == WsMessage::Op::kOpenStream;
      Status st = Attach(/*new_stream=*/opening);
      if (!st.ok()) {
        stream_.reset();  // the id stays in use; its requests fail until close_stream
        return Finish(st);
      }
      ApplyLimits();
      if (opening) {
        JsonWriter w(&out_);
        WriteOk(w, ws_id_, "open_stream");
        return Finish(Status::Ok());
      }
      if (m_.op == WsMessage::Op::kOpenCursor) outcome_.assign(m_.request.batch.steps.size(), -1);
    }
    if (m_.op == WsMessage::Op::kOpenCursor) {
      Status st = RunCursorSteps(m_.request.batch, &outcome_, &cursor_step_, &entries_, may_block);
      if (st.code() == Code::kWouldBlock) return false;
      if (!st.ok()) {
        stream_.reset();  // a read-only client wrote: its stream closes, as over HTTP
        return Finish(st);
      }
      JsonWriter w(&out_);
      WriteOk(w, ws_id_, "open_cursor");
      return Finish(Status::Ok());
    }
    JsonWriter w(&out_);
    Status st = RunRequest(m_.request, w, may_block);
    if (st.code() == Code::kWouldBlock) return false;
    if (!st.ok()) {  // kPermissionDenied: the stream closes, as over HTTP
      stream_.reset();
      return Finish(st);
    }
    return Finish(Status::Ok());
  }

  // On the network thread, once Run() returned true: the stream (or its failure) and a cursor's
  // entries go back to the connection. Returns the stream's id.
  int32_t PutBack(WsConnection::Impl* conn) {
    use_ = engine::Database::Use();
    WsConnection::Impl::Slot& slot = conn->streams[m_.stream_id];
    slot.busy = false;
    slot.failed = stream_ == nullptr;
    slot.stream = std::move(stream_);
    if (m_.op == WsMessage::Op::kOpenCursor) {
      WsConnection::Impl::Cursor& c = conn->cursors[m_.cursor_id];
      c.pending = false;
      c.failed = failed_;
      for (size_t at = 0; !failed_ && at < entries_.size();) {
        const size_t nl = entries_.find('\n', at);
        c.entries.emplace_back(entries_, at, nl - at);
        at = nl + 1;
      }
    }
    return m_.stream_id;
  }

 private:
  bool Finish(const Status& st) {
    if (!st.ok()) {
      failed_ = true;
      out_.clear();
      JsonWriter w(&out_);
      WriteErrorResult(w, ws_id_, st);
    }
    response_.body = std::move(out_);
    return true;
  }

  WsMessage m_;
  bool failed_ = false;
  std::vector<int8_t> outcome_;  // open_cursor
  size_t cursor_step_ = 0;
  std::string entries_;
};

}  // namespace

std::unique_ptr<Call> WsConnection::Impl::Handle(WsMessage m) {
  if (m.kind == WsMessage::Kind::kHello) {
    auto access = authenticate ? authenticate(m.jwt) : Result<WsAccess>(WsAccess{});
    if (!access.ok()) {
      close_code = 1008;
      close_reason = "hello refused";
      std::string msg;
      JsonWriter w(&msg);
      w.BeginObject().Key("type").String("hello_error").Key("error");
      WriteCountedError(w, access.status());
      w.EndObject();
      return Ready(std::move(msg));
    }
    hello = true;
    read_only = access->read_only;
    expires = access->expires;
    return Ready(R"({"type":"hello_ok"})");
  }
  if (!hello) return ProtocolError("the first message must be hello");
  if (expires && service->options().clock->WallMicros() / 1'000'000 >= *expires) {
    close_code = 1008;
    close_reason = "the token expired: send hello with a new one";
    return Ready(std::string());
  }
  const int32_t id = m.request_id;
  const std::string sid = std::to_string(m.stream_id);
  switch (m.op) {
    case WsMessage::Op::kOpenStream:
      if (streams.count(m.stream_id)) return ProtocolError("stream " + sid + " is already open");
      if (streams.size() >= service->options().max_streams) {
        if (streams.size() >= 2 * service->options().max_streams)
          return ProtocolError("too many streams, even failed ones, are open");
        streams[m.stream_id].failed = true;  // the id is in use until close_stream
        return Ready(WsError(
            id, Status(Code::kTooManyStreams, "this connection has too many open streams")));
      }
      return std::make_unique<WsStreamCall>(service, this, std::move(m));
    case WsMessage::Op::kCloseStream: {
      auto it = streams.find(m.stream_id);
      if (it != streams.end() && it->second.busy) {
        Queue(it->second, std::move(m));
        return nullptr;
      }
      if (it != streams.end()) {
        // An open transaction rolls back with the session; the stream's cursors go with it.
        // What still waited on it (sent after close_stream: cursor closes, or mistakes) is
        // answered next.
        for (WsMessage& w : it->second.waiting) orphans.push_back(std::move(w));
        streams.erase(it);
        std::erase_if(cursors, [&](const auto& c) { return c.second.stream_id == m.stream_id; });
      }
      return Ready(WsOk(id, "close_stream"));
    }
    case WsMessage::Op::kStream:
    case WsMessage::Op::kOpenCursor: {
      auto it = streams.find(m.stream_id);
      if (it == streams.end()) return ProtocolError("stream " + sid + " is not open");
      const bool cursor = m.op == WsMessage::Op::kOpenCursor;
      if (cursor && cursors.count(m.cursor_id))
        return ProtocolError("cursor " + std::to_string(m.cursor_id) + " is already open");
      // Stored texts are looked up now, as the request arrives: a close_sql / store_sql sent
      // after it must not change what it runs, even if it waits behind another request.
      int32_t missing = 0;
      if (!ResolveAll(&m.request, &missing)) {
        if (cursor) cursors[m.cursor_id] = Cursor{m.stream_id, false, /*failed=*/true};
        return Ready(
            WsError(id, Status(Code::kSqlUnknownId,
                               "SQL text with id " + std::to_string(missing) + " was not stored")));
      }
      if (cursor && cursors.size() >= kMaxWsCursors) {
        cursors[m.cursor_id] = Cursor{m.stream_id, false, /*failed=*/true};
        return Ready(WsError(id, Status(Code::kInvalidRequest,
                                        "this connection has " + std::to_string(kMaxWsCursors) +
                                            " open cursors: close one first")));
      }
      if (cursor) cursors[m.cursor_id] = Cursor{m.stream_id, /*pending=*/true};
      if (it->second.busy) {
        Queue(it->second, std::move(m));
        return nullptr;
      }
      if (it->second.failed) {
        if (cursor) cursors[m.cursor_id] = Cursor{m.stream_id, false, /*failed=*/true};
        return Ready(
            WsError(id, Status(Code::kStreamInvalid,
                               "stream " + sid + " failed to open or was closed by an error")));
      }
      return std::make_unique<WsStreamCall>(service, this, std::move(m));
    }
    case WsMessage::Op::kStoreSql: {
      const int32_t sql_id = *m.request.sql_id;
      if (sql.count(sql_id))
        return ProtocolError("SQL text " + std::to_string(sql_id) + " is already stored");
      const ServiceOptions& o = service->options();
      if (sql.size() >= o.max_stored_sql)
        return Ready(
            WsError(id, Status(Code::kSqlStoreLimit, "The server already stores " +
                                                         std::to_string(o.max_stored_sql) +
                                                         " SQL texts, it cannot store more")));
      if (m.request.sql->size() > o.max_stored_sql_bytes)
        return Ready(WsError(id, Status(Code::kSqlStoreLimit,
                                        "The statement is too large to be stored: " +
                                            std::to_string(m.request.sql->size()) + " bytes")));
      sql.emplace(sql_id, std::move(*m.request.sql));
      return Ready(WsOk(id, "store_sql"));
    }
    case WsMessage::Op::kCloseSql:
      sql.erase(*m.request.sql_id);
      return Ready(WsOk(id, "close_sql"));
    case WsMessage::Op::kCloseCursor:
    case WsMessage::Op::kFetchCursor: {
      auto it = cursors.find(m.cursor_id);
      const bool fetch = m.op == WsMessage::Op::kFetchCursor;
      if (it == cursors.end()) {
        if (!fetch) return Ready(WsOk(id, "close_cursor"));
        return ProtocolError("cursor " + std::to_string(m.cursor_id) + " is not open");
      }
      if (it->second.pending) {  // behind its open_cursor, on its stream
        Queue(streams[it->second.stream_id], std::move(m));
        return nullptr;
      }
      if (!fetch) {
        cursors.erase(it);
        return Ready(WsOk(id, "close_cursor"));
      }
      if (it->second.failed)
        return Ready(
            WsError(id, Status(Code::kInvalidRequest,
                               "cursor " + std::to_string(m.cursor_id) + " failed to open")));
      std::string msg;
      JsonWriter w(&msg);
      BeginOk(w, id, "fetch_cursor");
      w.Key("entries").BeginArray();
      auto& entries = it->second.entries;
      for (uint32_t n = 0; n < m.max_count && !entries.empty(); ++n) {
        w.Raw(entries.front());
        entries.pop_front();
      }
      w.EndArray().Key("done").Bool(entries.empty());
      w.EndObject().EndObject();
      return Ready(std::move(msg));
    }
  }
  return ProtocolError("unhandled request");
}

// The next request that waited: one whose stream was closed under it, else the next on
// `stream_id`, now that nothing runs there.
std::unique_ptr<Call> WsConnection::Impl::Next(int32_t stream_id) {
  for (;;) {
    WsMessage m;
    if (!orphans.empty()) {
      m = std::move(orphans.front());
      orphans.pop_front();
    } else {
      auto it = streams.find(stream_id);
      if (it == streams.end() || it->second.busy || it->second.waiting.empty()) return nullptr;
      m = std::move(it->second.waiting.front());
      it->second.waiting.pop_front();
    }
    --queued;
    if (m.op == WsMessage::Op::kOpenCursor) cursors.erase(m.cursor_id);  // Handle registers it
    std::unique_ptr<Call> call = Handle(std::move(m));
    if (call == nullptr) continue;  // queued again (behind a cursor still opening)
    // Its completion goes on with what waits on this stream.
    if (auto* ready = dynamic_cast<ReadyCall*>(call.get())) ready->stream = stream_id;
    return call;
  }
}

WsConnection::WsConnection(Service* service, int version, std::string db, Authenticate authenticate)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = service;
  impl_->version = version;
  impl_->db = std::move(db);
  impl_->authenticate = std::move(authenticate);
}

WsConnection::~WsConnection() = default;

std::unique_ptr<Call> WsConnection::Message(std::string text) {
  if (impl_->close_code != 0) return Ready(std::string());
  auto m = DecodeWsMessage(text, impl_->version);
  if (!m.ok()) return impl_->ProtocolError(m.status().message());
  return impl_->Handle(std::move(m).value());
}

size_t WsConnection::queued() const { return impl_->queued; }

std::unique_ptr<Call> WsConnection::Complete(Call* call) {
  std::optional<int32_t> stream;
  if (auto* s = dynamic_cast<WsStreamCall*>(call)) {
    stream = s->PutBack(impl_.get());
  } else if (auto* r = dynamic_cast<ReadyCall*>(call)) {
    stream = r->stream;
  }
  if (!stream || impl_->close_code != 0) return nullptr;
  return impl_->Next(*stream);
}

uint16_t WsConnection::close_code() const { return impl_->close_code; }
const std::string& WsConnection::close_reason() const { return impl_->close_reason; }

}  // namespace cairn::hrana
