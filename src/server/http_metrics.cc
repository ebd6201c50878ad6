#include "server/http_metrics.h"

#include "libsql_sync/protocol.h"

namespace cairn::server {
namespace {

constexpr std::string_view kEndpointNames[] = {"pipeline", "cursor", "health", "sync", "other"};
constexpr std::string_view kStatusNames[] = {"2xx", "4xx", "5xx"};

}  // namespace

HttpMetrics::HttpMetrics() {
  for (auto& h : durations_) h = std::make_unique<metrics::Histogram>(metrics::Histogram::LatencySeconds());
}

HttpMetrics::Endpoint HttpMetrics::Classify(std::string_view path) {
  if (path == "/v2/pipeline" || path == "/v3/pipeline") return Endpoint::kPipeline;
  if (path == "/v3/cursor") return Endpoint::kCursor;
  if (path == "/health") return Endpoint::kHealth;
  if (libsql_sync::IsSyncPath(path)) return Endpoint::kSync;
  return Endpoint::kOther;
}

size_t HttpMetrics::StatusClass(int http_status) {
  if (http_status >= 500) return 2;
  if (http_status >= 400) return 1;
  return 0;
}

void HttpMetrics::Record(Endpoint endpoint, int http_status, double seconds) {
  const auto e = static_cast<size_t>(endpoint);
  requests_[e][StatusClass(http_status)].Inc();
  durations_[e]->Observe(seconds);
}

void HttpMetrics::Write(metrics::TextWriter& w) const {
  using Type = metrics::TextWriter::Type;
  w.Family("cairn_http_requests_total", "HTTP requests answered on the Hrana listener.",
           Type::kCounter);
  for (size_t e = 0; e < kEndpoints; ++e)
    for (size_t s = 0; s < 3; ++s)
      w.Sample("cairn_http_requests_total",
               {{"endpoint", kEndpointNames[e]}, {"status", kStatusNames[s]}},
               static_cast<double>(requests_[e][s].Value()));
  w.Family("cairn_http_request_duration_seconds",
           "Time from a request's last byte read to its response ready, by endpoint.",
           Type::kHistogram);
  for (size_t e = 0; e < kEndpoints; ++e)
    w.HistogramSamples("cairn_http_request_duration_seconds", {{"endpoint", kEndpointNames[e]}},
                       durations_[e]->Snapshot());
}

}  // namespace cairn::server
