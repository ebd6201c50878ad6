// FaultyStore: wraps another ObjectStore and fails calls on demand, for tests of the components
// that must survive an unreachable or misbehaving store (backup uploads, restore). Faults can be
// switched on and off from any thread while other threads use the store:
//
//   InMemoryStore mem;
//   FaultyStore store(&mem);
//   store.SetDown(true);          // every call: kUnavailable, the inner store is not touched
//   store.FailNextPuts(2);        // the next two Puts fail, later ones go through
//   store.LoseNextPutAcks(1);     // the next Put is written but reported as failed
//   EXPECT_EQ(store.calls(FaultyStore::Op::kPut), 3);
//
// Injected failures never reach the inner store, except for LoseNextPutAcks which is a failure
// after the fact. When several faults apply, SetDown wins, then FailNext, then lost acks.
//
// Thread-safety: all methods may be called concurrently. The inner store is not owned and must
// outlive the wrapper.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "objectstore/object_store.h"

namespace cairn::objectstore {

class FaultyStore final : public ObjectStore {
 public:
  enum class Op { kPut = 0, kGet, kList, kDelete };

  explicit FaultyStore(ObjectStore* inner) : inner_(inner) {}

  Status Put(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  std::string Describe() const override { return "faulty(" + inner_->Describe() + ")"; }

  // While down, every call fails with kUnavailable.
  void SetDown(bool down) { down_.store(down); }
  bool down() const { return down_.load(); }

  // The next `n` calls of `op` fail with `code` (added to any failures still pending for `op`;
  // the latest code applies to all of them).
  void FailNext(Op op, int n, Code code = Code::kUnavailable);
  void FailNextPuts(int n) { FailNext(Op::kPut, n); }
  // Drops every pending FailNext and lost ack (not SetDown).
  void ClearFailures();

  // The next `n` Puts are written to the inner store, then reported as kUnavailable: the answer
  // was lost on the way back, so the caller cannot know the object is there.
  void LoseNextPutAcks(int n);

  // Every call sleeps this long before anything else (0 by default): a slow store.
  void SetDelay(std::chrono::milliseconds delay) { delay_ms_.store(delay.count()); }

  // Calls of `op` made so far, failed or not.
  int64_t calls(Op op) const { return calls_[static_cast<size_t>(op)].load(); }
  // Calls failed by injection (SetDown, FailNext, lost acks).
  int64_t injected_failures() const { return injected_.load(); }

 private:
  // Counts the call and sleeps; returns the failure to inject before the inner call, if any.
  Status Before(Op op);

  ObjectStore* const inner_;
  std::atomic<bool> down_{false};
  std::atomic<int64_t> delay_ms_{0};
  std::array<std::atomic<int64_t>, 4> calls_{};
  std::atomic<int64_t> injected_{0};

  struct Pending {
    int count = 0;
    Code code = Code::kUnavailable;
  };
  std::mutex mu_;
  std::array<Pending, 4> fail_next_;  // guarded by mu_
  int lost_put_acks_ = 0;             // guarded by mu_
};

}  // namespace cairn::objectstore
