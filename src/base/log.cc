#include "base/log.h"

#include "base/json_writer.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace cairn {
namespace {

thread_local std::string_view current_request_id;

// %* in the pattern: the current request id, as a JSON member (`,"request_id":"..."`) or as
// `[id] `; nothing outside a request. Ids are checked by the server (no quotes or controls), so
// they need no escaping.
class RequestIdFlag final : public spdlog::custom_flag_formatter {
 public:
  explicit RequestIdFlag(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view id = current_request_id;
    if (id.empty()) return;
    const std::string_view before = json_ ? ",\"request_id\":\"" : "[";
    const std::string_view after = json_ ? "\"" : "] ";
    dest.append(before.data(), before.data() + before.size());
    dest.append(id.data(), id.data() + id.size());
    dest.append(after.data(), after.data() + after.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>(json_);
  }

 private:
  const bool json_;
};

// %~ in the JSON pattern: the message, escaped as a JSON string's contents.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string escaped;
    JsonWriter::AppendEscaped(&escaped, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

RequestIdScope::RequestIdScope(std::string_view id) : previous_(current_request_id) {
  current_request_id = id;
}

RequestIdScope::~RequestIdScope() { current_request_id = previous_; }

std::string_view CurrentRequestId() { return current_request_id; }

void InitLogging(std::string_view level, bool json) {
  auto logger = spdlog::stderr_color_mt("cairn");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  auto formatter = std::make_unique<spdlog::pattern_formatter>(
      json ? spdlog::pattern_time_type::utc : spdlog::pattern_time_type::local);
  formatter->add_flag<RequestIdFlag>('*', json);
  formatter->add_flag<JsonMessageFlag>('~');
  if (json) {
    formatter->set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","thread":%t%*,"msg":"%~"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %*%v");
  }
  spdlog::set_formatter(std::move(formatter));
}

}  // namespace cairn
