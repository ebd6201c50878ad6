// Clock: the one source of time for Cairn, behind an interface so tests can drive time by hand.
//
// Thread-safety: implementations are safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace cairn {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time for deadlines and durations, in microseconds from an arbitrary origin.
  virtual int64_t MonotonicMicros() const = 0;
  // Wall-clock time, microseconds since the Unix epoch.
  virtual int64_t WallMicros() const = 0;

  // The process-wide real clock.
  static Clock* Real();
};

// A clock that moves only when told to; for tests of expiry and timeouts.
class ManualClock final : public Clock {
 public:
  int64_t MonotonicMicros() const override { return now_.load(); }
  int64_t WallMicros() const override { return 1'700'000'000'000'000 + now_.load(); }
  void Advance(std::chrono::microseconds d) { now_ += d.count(); }

 private:
  std::atomic<int64_t> now_{1'000'000};
};

}  // namespace cairn
