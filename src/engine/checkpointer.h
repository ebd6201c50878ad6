// Checkpointer: moves WAL content into database files on a background thread, so that no client
// request ever pays for a checkpoint (and its fsync).
//
// A database asks for a checkpoint when its WAL passes a size threshold (from the writer's WAL
// hook); requests for the same database coalesce. Checkpoints are PASSIVE: they never block the
// writer or readers, and copy as much as the oldest reader's snapshot allows.
//
// Thread-safety: Request() may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace cairn::engine {

class Database;

class Checkpointer {
 public:
  Checkpointer();
  ~Checkpointer();  // finishes the checkpoint in progress, drops the rest
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void Request(std::weak_ptr<Database> db);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::weak_ptr<Database>> queue_;  // guarded by mu_
  bool stop_ = false;                           // guarded by mu_
  std::thread thread_;
};

}  // namespace cairn::engine
