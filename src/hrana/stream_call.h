// StreamCall and RequestRunner: the part of a Call that runs Hrana requests on one stream, shared
// by Hrana over HTTP (the pipeline and cursor calls, service.cc) and over WebSocket (a
// connection's stream calls, websocket.cc). Internal to hrana.
//
// A StreamCall holds its stream, and a use of the stream's database, while it runs; statements go
// to the stream's session, results go straight into the response through encode.h's sinks, under
// one response-size Budget. Everything is resumable: a statement that would block (kWouldBlock)
// leaves what earlier ones wrote, and the call is run again from there (see service.h).
//
// Thread-safety: a call is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/database.h"
#include "hrana/encode.h"
#include "hrana/protocol.h"
#include "hrana/service.h"
#include "hrana/streams.h"

namespace cairn::hrana {

// State shared by pipeline and cursor calls: the stream and how statements find their SQL.
class StreamCall : public Call {
 public:
  std::string_view database() const override { return db_; }
  bool HoldsWriteLock() const override;

 protected:
  StreamCall(Service* service, std::string db, std::string body, bool read_only);
  ~StreamCall() override = default;

  // Decodes the body into *req, once (see Call::Decode()).
  template <typename Req>
  const HttpRequestHead* DecodeOnce(Result<Req> (*decode)(std::string_view), Req* req) {
    if (!decoded_) {
      decoded_ = true;
      auto decoded = decode(body_);
      body_ = std::string();
      if (decoded.ok()) {
        *req = std::move(decoded).value();
      } else {
        decode_error_ = decoded.TakeStatus();
      }
    }
    return decode_error_.ok() ? req : nullptr;
  }

  // Opens the stream of the decoded request (null: it did not decode); on failure the response
  // is already set.
  bool Start(const HttpRequestHead* req);
  // Opens the stream named by the baton, or a new one. On failure the whole call fails.
  Status OpenStream(const std::optional<std::string>& baton);
  // Gives stream_ a session on a database that stays open while the call runs: the call holds a
  // use of it. A stream waiting between requests does not keep its database open: if the handle
  // was closed (idle, LRU), a session without a transaction simply moves to a fresh one. A new
  // stream takes a slot of its database's max_concurrent_streams.
  Status Attach(bool new_stream);
  // Read-only as the client's access says; the database's own max_response_bytes, if it has one.
  void ApplyLimits();

  // The SQL text a request or statement names, given or stored on the stream.
  Status Resolve(const std::optional<std::string>& sql, const std::optional<int32_t>& sql_id,
                 std::string_view* out) const;
  Status StreamAvailable() const;
  // Runs one statement through `sink`. kWouldBlock means nothing happened.
  Result<engine::ExecStats> RunStmt(const Stmt& stmt, engine::RowSink* sink, bool may_block);
  // Whether a batch step's condition holds, given the outcomes so far (-1 not run, 0 error, 1 ok).
  bool Eval(const Condition& c, const std::vector<int8_t>& outcome) const;

  // Runs a batch's steps from *next_step on, writing cursor entries (one JSON object per line) to
  // *entries. kWouldBlock: nothing of the blocked step was written, call again from *next_step;
  // kPermissionDenied: the call fails as a whole.
  Status RunCursorSteps(const Batch& batch, std::vector<int8_t>* outcome, size_t* next_step,
                        std::string* entries, bool may_block);

  // Hands the stream back to the table (or closes it) and writes the baton (or null).
  void FinishStream(JsonWriter& w);

  // The whole HTTP request fails with `st`.
  void Fail(const Status& st);
  // A read-only client tried to write: the whole request fails and its stream is closed.
  void Deny(const Status& st);

  Service* const service_;
  const std::string db_;
  std::string body_;  // the request body, until decoded
  bool decoded_ = false;
  Status decode_error_;  // why the body is not a valid request
  const bool read_only_;
  std::unique_ptr<Stream> stream_;
  engine::Database::Use use_;  // while the call runs (see Attach)
  Budget budget_;
  bool started_ = false;
};

// Runs Hrana requests on the call's stream, writing each one's result, in its envelope (encode.h:
// HTTP's, or WebSocket's when ws_id_ is set), into out_.
class RequestRunner : public StreamCall {
 protected:
  using StreamCall::StreamCall;

  // Writes the result of one request as the next value of `w` (a writer on out_);
  // kWouldBlock (with nothing written, `w` as it was) to be retried; kPermissionDenied fails the
  // whole call.
  Status RunRequest(const Request& r, JsonWriter& w, bool may_block);

  WsRequestId ws_id_;  // over WebSocket, the request's id
  std::string out_;

 private:
  Status RunRequestInner(const Request& r, JsonWriter& w, bool may_block);
  // A batch is resumable step by step: a step that would block leaves earlier steps' results.
  Status RunBatch(const Batch& b, JsonWriter& w, bool may_block);

  // In-progress batch.
  size_t next_step_ = 0;
  std::vector<int8_t> step_outcome_;  // -1 not run, 0 error, 1 ok
  std::vector<std::string> step_results_;
  std::vector<std::string> step_errors_;
};

}  // namespace cairn::hrana
