// Checkpointer: the background thread that keeps databases' files and logs moving, so that no
// client request ever pays for a checkpoint or a log fsync.
//
// - Log flushes: a database whose writer captured transactions asks for a flush (RequestFlush);
//   the thread makes them durable (TxLog::Flush) once `flush_interval` has passed since the
//   request — one file per database per interval however many commits it had.
// - Checkpoints: a database asks when its WAL passes a size threshold (from the writer's WAL hook);
//   requests coalesce. Checkpoints are PASSIVE (never block the writer or readers) and gated on the
//   log: no WAL frame is copied into the database file before it is durable in the log.
//
// Thread-safety: Request() and RequestFlush() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace cairn::engine {

class Database;

class Checkpointer {
 public:
  explicit Checkpointer(std::chrono::milliseconds flush_interval = std::chrono::milliseconds(50));
  ~Checkpointer();  // finishes the work in progress, drops the rest
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void Request(std::weak_ptr<Database> db);
  void RequestFlush(std::weak_ptr<Database> db);
  // Runs `fn` on the thread soon (e.g. closing idle databases off a request's path).
  void Post(std::function<void()> fn);

 private:
  void Loop();

  const std::chrono::milliseconds flush_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::weak_ptr<Database>> queue_;  // guarded by mu_
  struct FlushRequest {
    std::chrono::steady_clock::time_point due;
    std::weak_ptr<Database> db;
  };
  std::deque<FlushRequest> flushes_;  // guarded by mu_; in order of due time
  std::deque<std::function<void()>> posted_;  // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::thread thread_;
};

}  // namespace cairn::engine
