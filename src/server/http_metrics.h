// HttpMetrics: what the Hrana listener counts about each request it answers (requests by endpoint
// and status class, latency histograms by endpoint), rendered into the admin API's /metrics.
//
// Record is on every request's path: it costs one sharded counter increment and one histogram
// observation (no locks, no allocation). The label sets are fixed: 4 endpoints × 3 classes.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <array>
#include <memory>
#include <string_view>

#include "metrics/metrics.h"

namespace cairn::server {

class HttpMetrics {
 public:
  enum class Endpoint { kPipeline, kCursor, kHealth, kSync, kOther };
  static constexpr size_t kEndpoints = 5;

  HttpMetrics();
  // The endpoint a request path belongs to.
  static Endpoint Classify(std::string_view path);
  void Record(Endpoint endpoint, int http_status, double seconds);
  // cairn_http_requests_total and cairn_http_request_duration_seconds.
  void Write(metrics::TextWriter& w) const;

 private:
  static size_t StatusClass(int http_status);  // 0: 1xx–3xx ("2xx"), 1: 4xx, 2: 5xx
  std::array<std::array<metrics::Counter, 3>, kEndpoints> requests_;
  std::array<std::unique_ptr<metrics::Histogram>, kEndpoints> durations_;
};

}  // namespace cairn::server
