// A one-line progress bar on stderr, drawn only when stderr is a terminal (scripts see nothing),
// redrawn at most every 100 ms.
//
// Thread-safety: one thread at a time.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace cairn::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar() { Done(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `fraction` in [0, 1]; `detail` follows the bar ("12 / 300 MB", "5/20 databases").
  void Update(double fraction, std::string_view detail, bool finished);
  // Clears the bar so that what follows starts on a clean line.
  void Done();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace cairn::cli
