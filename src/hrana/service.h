// Service: Hrana over HTTP without the HTTP library — request bodies in, response bodies out.
//
// Each HTTP request becomes a Call. Run(may_block=false) does all the work it can without waiting;
// if a statement needs the write lock while another session holds it, Run returns false having
// done nothing for that statement, and the server calls Run(true) again on a thread that may wait.
// This keeps reads (and uncontended writes) on the network threads and never makes a read queue
// behind a waiting writer.
//
// Thread-safety: a Service is shared by all threads; a Call is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "engine/registry.h"
#include "hrana/protocol.h"
#include "hrana/streams.h"

namespace cairn::hrana {

struct ServiceOptions {
  std::chrono::milliseconds stream_idle_timeout{10'000};
  size_t max_streams = 10'000;
  size_t max_response_bytes = 16 << 20;
  size_t max_stored_sql = 150;             // per stream (SQL_STORE_TOO_MANY beyond)
  size_t max_stored_sql_bytes = 64 << 10;  // per text
  Clock* clock = Clock::Real();
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class Call {
 public:
  virtual ~Call() = default;
  // Advances the call; true when response() is ready. See the file comment for may_block.
  virtual bool Run(bool may_block) = 0;
  // After Run(false) returned false: the call's session already holds its database's write lock,
  // so Run(true) will not wait for another session (the server runs it where it cannot queue
  // behind calls that wait for that lock).
  virtual bool HoldsWriteLock() const { return false; }
  // The database the call runs on (empty: none).
  virtual std::string_view database() const { return {}; }
  // A call of Hrana over HTTP: decodes its body now — Run() would first; a body is decoded once —
  // and returns the request's head, what a replica routes it by (server/forwarding.h). Null when
  // the body is not a valid request (Run() answers the error), and for other calls.
  virtual const HttpRequestHead* Decode() { return nullptr; }
  Response& response() { return response_; }

 protected:
  Response response_;
};

class Service {
 public:
  Service(engine::Registry* registry, const ServiceOptions& opts);

  // POST /v2/pipeline, /v3/pipeline on database `db`.
  //
  // `read_only`: the client's credentials only allow reading `db`. A statement that would write
  // then fails the whole request (kPermissionDenied → HTTP 403 with an error body, as sqld does;
  // results of earlier requests in the pipeline are not sent), and the stream is closed, rolling
  // back its transaction: the response carries no baton to continue it with.
  std::unique_ptr<Call> Pipeline(Version version, std::string db, std::string body,
                                 bool read_only = false);
  // POST /v3/cursor on database `db`: newline-delimited JSON entries. `read_only` as above.
  std::unique_ptr<Call> Cursor(std::string db, std::string body, bool read_only = false);

  StreamTable& streams() { return streams_; }
  engine::Registry& registry() { return *registry_; }
  const ServiceOptions& options() const { return opts_; }

 private:
  engine::Registry* const registry_;
  const ServiceOptions opts_;
  StreamTable streams_;
};

}  // namespace cairn::hrana
