// Logging set-up. Code logs through spdlog directly from .cc files (never from headers).
#pragma once

#include <string_view>

namespace cairn {

// Configures the process-wide logger: level is trace|debug|info|warn|error|off; json selects one JSON
// object per line instead of the human format. Lines written while a RequestIdScope is active carry
// its id: "request_id" in JSON, `[id]` before the message in the human format.
void InitLogging(std::string_view level, bool json);

// Marks the request this thread works on now, for every log line written meanwhile. Only around
// synchronous work: a coroutine must not keep one across a suspension, where other requests run on
// the same thread. `id` must outlive the scope; scopes nest.
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string_view id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::string_view previous_;
};

// The id of the innermost RequestIdScope of this thread; empty outside any.
std::string_view CurrentRequestId();

}  // namespace cairn
