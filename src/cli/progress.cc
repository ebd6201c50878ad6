#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace cairn::cli {

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), enabled_(::isatty(2) == 1) {}

void ProgressBar::Update(double fraction, std::string_view detail, bool finished) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && !finished && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  constexpr int kWidth = 30;
  const double f = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(f * kWidth);
  std::fprintf(stderr, "\r%s [%s%s] %3d%%  %.*s\x1b[K", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '-').c_str(), static_cast<int>(f * 100),
               static_cast<int>(detail.size()), detail.data());
  std::fflush(stderr);
}

void ProgressBar::Done() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace cairn::cli
