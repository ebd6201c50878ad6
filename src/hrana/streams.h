// StreamTable: Hrana streams that outlive one HTTP request, and the batons that name them.
//
// A baton is base64url(stream id ‖ sequence ‖ HMAC-SHA256(key, id ‖ sequence ‖ database)[0..16)),
// with a random key per server process: it cannot be forged, it binds the stream to its database,
// and since every response hands out the next sequence number a baton works exactly once.
// A stream is checked out (removed from the table) while a request uses it, so two requests can
// // never use one stream at once. Streams idle longer than idle_timeout are closed by Sweep(); their
// ids are remembered for 5 minutes so a late baton gets STREAM_EXPIRED rather than "invalid".
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.h"
#include "base/status.h"
#include "engine/limits.h"
#include "engine/session.h"

namespace cairn::hrana {

struct Stream {
  uint64_t id = 0;
  uint64_t seq = 0;
  std::string db;  // database name the stream belongs to
  std::unique_ptr<engine::Session> session;
  // Counts the stream against its database's max_concurrent_streams while it lives.
  engine::LiveLimits::StreamSlot slot;
  std::unordered_map<int32_t, std::string> stored_sql;  // store_sql / close_sql
  int64_t last_used = 0;
};

class StreamTable {
 public:
  StreamTable(Clock* clock, std::chrono::milliseconds idle_timeout, size_t max_streams);
  ~StreamTable();

  // Takes the stream named by `baton` for exclusive use by one request on database `db`.
  // kStreamExpired when it was closed for idleness; kStreamInvalid for anything else.
  Result<std::unique_ptr<Stream>> Checkout(std::string_view baton, std::string_view db);
  // Puts a stream back after a request and returns its next baton. kUnavailable when the table is
  // full (the stream is closed).
  Result<std::string> Return(std::unique_ptr<Stream> stream);
  // A fresh stream id.
  uint64_t NewId();
  // Closes streams idle past the timeout (rolling back their transactions).
  void Sweep();
  // Closes every stream (shutdown).
  void CloseAll();
  size_t size() const;

 private:
  std::string MakeBaton(uint64_t id, uint64_t seq, std::string_view db) const;
  void Mac(uint64_t id, uint64_t seq, std::string_view db, unsigned char out[32]) const;

  Clock* const clock_;
  const int64_t idle_micros_;
  const size_t max_streams_;
  unsigned char key_[32];

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::unique_ptr<Stream>> streams_;  // guarded by mu_
  std::unordered_map<uint64_t, int64_t> expired_;  // id → when it expired; guarded by mu_
  std::deque<uint64_t> expired_order_;              // guarded by mu_
  uint64_t next_id_ = 1;                             // guarded by mu_
};

}  // namespace cairn::hrana
