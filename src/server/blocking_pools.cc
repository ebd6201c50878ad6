#include "server/internal/blocking_pools.h"

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <algorithm>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>

#include "base/log.h"

namespace cairn::server {

namespace asio = boost::asio;

namespace {
constexpr size_t kLockHolderThreads = 4;
}  // namespace

void BlockingGate::Submit(const std::string& db, Task task) {
  {
    std::lock_guard lk(mu_);
    Entry& e = entries_[db];
    if (e.running >= per_database_) {
      e.waiting.push_back(std::move(task));
      return;
    }
    e.running++;
  }
  asio::post(pool_, [this, db, task = std::move(task)]() mutable {
    for (;;) {
      task();
      std::lock_guard lk(mu_);
      auto it = entries_.find(db);
      if (it->second.waiting.empty()) {
        if (--it->second.running == 0) entries_.erase(it);
        return;
      }
      task = std::move(it->second.waiting.front());
      it->second.waiting.pop_front();
    }
  });
}

BlockingPools::BlockingPools(int blocking_threads)
    : blocking_(static_cast<size_t>(std::max(1, blocking_threads))),
      holders_(kLockHolderThreads),
      gate_(blocking_, std::max(1, std::min(4, blocking_threads / 4))) {}

asio::awaitable<void> BlockingPools::Finish(hrana::Call& call, std::string request_id) {
  auto run = [&call, &request_id]() -> asio::awaitable<void> {
    RequestIdScope scope(request_id);
    call.Run(/*may_block=*/true);
    co_return;
  };
  if (call.HoldsWriteLock()) {
    co_await asio::co_spawn(holders_, run, asio::use_awaitable);
    co_return;
  }
  const std::string db(call.database());
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, &call, &request_id, &db](auto resume) {
        gate_.Submit(db, Task([&call, &request_id, resume = std::move(resume)]() mutable {
                       {
                         RequestIdScope scope(request_id);
                         call.Run(/*may_block=*/true);
                       }
                       auto network = asio::get_associated_executor(resume);
                       asio::post(network, std::move(resume));  // back to the network thread
                     }));
      },
      asio::use_awaitable);
}

void BlockingPools::Join() {
  blocking_.join();
  holders_.join();
}

}  // namespace cairn::server
