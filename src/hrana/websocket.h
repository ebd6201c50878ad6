// WsConnection: one Hrana-over-WebSocket connection (HRANA_3_SPEC, "Hrana over WebSocket", JSON
// encoding; subprotocols hrana3, hrana2 and hrana1) without the WebSocket: text messages in,
// text messages out. It owns what lives as long as the connection — the streams the client opened
// by id, the SQL texts it stored, its cursors, and its access once `hello` authenticated it.
//
// The server hands it each text message in order and runs the Call it gets back like an HTTP call:
// Run(false) on the network thread, and when that returns false (a statement waits for the write
// lock) Run(true) on a thread that may block — meanwhile the connection goes on with the next
// messages, so a write waiting on one stream holds up no other stream. Requests on one stream run
// in order: a request behind a running one gets no call yet (null); Complete() of the running call
// hands it out. When a call is done its response().body is the message to send (empty: none), and
// close_code() says whether the connection must then close: a protocol error (1002: a request
// before hello, an unknown stream or cursor, a stream id in use, malformed JSON) or a refused hello
// (1008, after `hello_error`). Every call must be completed (Complete, on the network thread)
// before the connection is destroyed.

// Statement results, batches, cursor entries and errors are those of Hrana over HTTP (service.h);
// a stream here is a baton-less stream that lives until close_stream or the connection's end
// (open transactions roll back then).
//
// Thread-safety: Message, Complete and close_code on one thread (the connection's); a call may
// Run(true) on another thread meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "hrana/service.h"

namespace cairn::hrana {

// What a hello's token grants on the connection's database.
struct WsAccess {
  bool read_only = false;
  std::optional<int64_t> expires;  // Unix seconds; past it, requests close the connection (1008)
};

class WsConnection {
 public:
  // Checks the JWT of a `hello` (nullopt: the client sent none) for the connection's database.
  using Authenticate = std::function<Result<WsAccess>(const std::optional<std::string>& jwt)>;

  // `version`: 1, 2 or 3, from the negotiated subprotocol. `db`: the database the connection
  // was opened on (x-namespace or Host at the upgrade).
  WsConnection(Service* service, int version, std::string db, Authenticate authenticate);
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Handles one text message: the call to run, or null when it waits behind a request on its
  // stream (see the file comment).
  std::unique_ptr<Call> Message(std::string text);
  // `call` (from Message or Complete) has finished; on the network thread. Returns the next call
  // of its stream that was waiting, or null.
  std::unique_ptr<Call> Complete(Call* call);

  // Requests waiting behind others on their streams (for back-pressure).
  size_t queued() const;
  // After a call completed: nonzero when the connection must close after sending its message.
  uint16_t close_code() const;
  const std::string& close_reason() const;

  struct Impl;  // websocket.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::hrana
