// BlockingPools: where calls that must wait run, so that the network threads never block.
//
// A Hrana call runs on its connection's network thread until it must wait for its database's
// write lock (hrana::Call::Run(may_block=false) returns false); Finish then completes it on a
// thread that may block and resumes the caller on its network thread. Two pools:
//  - the lock holders' pool runs the statements of transactions that already hold their write
//    lock: they never wait for a lock, and must not queue behind calls that wait for theirs (with
//    every blocking thread waiting, a holder's COMMIT would wait until the lock timeout rolled it
//    back);
//  - the blocking pool runs the rest, admitted per database by a BlockingGate, and anything else
//    that blocks (RunBlocking: a request to the primary, a replication snapshot).
//
// Private to server (Asio appears in its signatures).
//
// Thread-safety: Finish and RunBlocking may be called from any network thread; Join once, from
// the thread that stops the server.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "hrana/service.h"

namespace cairn::server {

// A task that runs once. Move-only, as Asio's completion handlers are.
class Task {
 public:
  template <typename F>
  explicit Task(F f) : impl_(std::make_unique<Impl<F>>(std::move(f))) {}
  void operator()() { impl_->Run(); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void Run() = 0;
  };
  template <typename F>
  struct Impl final : Base {
    explicit Impl(F fn) : f(std::move(fn)) {}
    void Run() override { f(); }
    F f;
  };
  std::unique_ptr<Base> impl_;
};

// Admission of one database's calls to the blocking pool: at most `per_database` of them run
// (or wait for its write lock, which only one can hold anyway) on the pool at once; the others
// queue here, and a pool thread that finishes a call of that database takes the next one itself
// (no thread switch). Without it, the writers queued on one database's lock could take every
// blocking thread, and a write to any other database would wait behind them.
// Thread-safety: Submit from any thread.
class BlockingGate {
 public:
  BlockingGate(boost::asio::thread_pool& pool, int per_database)
      : pool_(pool), per_database_(per_database) {}

  void Submit(const std::string& db, Task task);

 private:
  struct Entry {
    int running = 0;
    std::deque<Task> waiting;
  };
  boost::asio::thread_pool& pool_;
  const int per_database_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

class BlockingPools {
 public:
  // `blocking_threads`: the blocking pool's size (at least 1); the lock holders' pool has a
  // fixed size, and a database gets at most a quarter of the blocking threads (1 to 4).
  explicit BlockingPools(int blocking_threads);

  // Finishes a call that must wait (Run(false) returned false) on a thread that may block, and
  // resumes on the calling network thread: on the lock holders' pool when its transaction holds
  // the write lock, else on the blocking pool when its database has a place there.
  boost::asio::awaitable<void> Finish(hrana::Call& call, std::string request_id);

  // Runs f() on the blocking pool and resumes on the calling network thread.
  template <typename F>
  boost::asio::awaitable<void> RunBlocking(F f) {
    co_await boost::asio::co_spawn(
        blocking_,
        [&f]() -> boost::asio::awaitable<void> {
          f();
          co_return;
        },
        boost::asio::use_awaitable);
  }

  // Waits for what runs on both pools to finish; nothing may be submitted after.
  void Join();

 private:
  boost::asio::thread_pool blocking_;
  boost::asio::thread_pool holders_;
  BlockingGate gate_;
};

}  // namespace cairn::server
