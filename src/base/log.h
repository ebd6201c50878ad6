// Logging set-up. Code logs through spdlog directly from .cc files (never from headers).
#pragma once

#include <string_view>

namespace cairn {

// Configures the process-wide logger: level is trace|debug|info|warn|error|off; json selects one JSON
// object per line instead of the human format.
void InitLogging(std::string_view level, bool json);

}  // namespace cairn
