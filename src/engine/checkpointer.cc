#include "engine/checkpointer.h"

#include <spdlog/spdlog.h>

#include "engine/database.h"

namespace cairn::engine {

Checkpointer::Checkpointer() : thread_([this] { Loop(); }) {}

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

void Checkpointer::Loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::weak_ptr<Database> weak = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    if (auto db = weak.lock()) {
      Status st = db->CheckpointPassive();
      if (!st.ok() && st.code() != Code::kUnavailable)
        spdlog::warn("db {}: checkpoint failed: {}", db->name(), st.ToString());
    }
    lk.lock();
  }
}

}  // namespace cairn::engine
