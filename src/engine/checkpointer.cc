#include "engine/checkpointer.h"

#include <spdlog/spdlog.h>

#include "engine/database.h"

namespace cairn::engine {

Checkpointer::Checkpointer(std::chrono::milliseconds flush_interval)
    : flush_interval_(flush_interval), thread_([this] { Loop(); }) {}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Checkpointer::Request(std::weak_ptr<Database> db) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(db));
  }
  cv_.notify_one();
}

void Checkpointer::RequestFlush(std::weak_ptr<Database> db) {
  {
    std::lock_guard lk(mu_);
    flushes_.push_back({std::chrono::steady_clock::now() + flush_interval_, std::move(db)});
  }
  cv_.notify_one();
}

void Checkpointer::Post(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    posted_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

void Checkpointer::Loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    if (stop_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!flushes_.empty() && flushes_.front().due <= now) {
      std::weak_ptr<Database> weak = std::move(flushes_.front().db);
      flushes_.pop_front();
      lk.unlock();
      if (auto db = weak.lock()) {
        Status st = db->FlushLog();
        if (!st.ok() && st.code() != Code::kUnavailable)
          spdlog::warn("db {}: log flush failed: {}", db->name(), st.ToString());
      }
      lk.lock();
      continue;
    }
    if (!posted_.empty()) {
      std::function<void()> fn = std::move(posted_.front());
      posted_.pop_front();
      lk.unlock();
      fn();
      lk.lock();
      continue;
    }
    if (!queue_.empty()) {
      std::weak_ptr<Database> weak = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      if (auto db = weak.lock()) {
        Status st = db->CheckpointPassive();
        if (!st.ok() && st.code() != Code::kUnavailable)
          spdlog::warn("db {}: checkpoint failed: {}", db->name(), st.ToString());
      }
      lk.lock();
      continue;
    }
    if (flushes_.empty()) cv_.wait(lk);
    else cv_.wait_until(lk, flushes_.front().due);
  }
}

}  // namespace cairn::engine
