#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cairn::metrics {

size_t ThisThreadShard() {
  static std::atomic<size_t> next{0};
  thread_local const size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

uint64_t Counter::Value() const {
  uint64_t total = 0;
  for (const Shard& s : shards_) total += s.v.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  if (bounds_.size() > kMaxBuckets) bounds_.resize(kMaxBuckets);
}

void Histogram::Observe(double v) {
  // Few buckets: a linear scan beats a binary search and needs no branches that mispredict much.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  Shard& s = shards_[ThisThreadShard()];
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot out;
  out.bounds = bounds_;
  out.cumulative.assign(bounds_.size() + 1, 0);
  for (const Shard& s : shards_) {
    for (size_t i = 0; i <= bounds_.size(); ++i)
      out.cumulative[i] += s.buckets[i].load(std::memory_order_relaxed);
    out.sum += s.sum.load(std::memory_order_relaxed);
  }
  for (size_t i = 1; i < out.cumulative.size(); ++i) out.cumulative[i] += out.cumulative[i - 1];
  out.count = out.cumulative.back();
  return out;
}

std::vector<double> Histogram::LatencySeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
}

Counter* LabeledCounter::Find(std::string_view value) {
  std::lock_guard lk(mu_);
  for (auto& [v, c] : series_)
    if (v == value) return &c;
  if (series_.size() >= max_values_) {
    for (auto& [v, c] : series_)
      if (v == overflow_) return &c;
    // The overflow series is allowed beyond max_values_: exactly one more.
    value = overflow_;
  }
  series_.emplace_back(std::piecewise_construct, std::forward_as_tuple(value),
                       std::forward_as_tuple());
  return &series_.back().second;
}

void LabeledCounter::Inc(std::string_view value, uint64_t n) { Find(value)->Inc(n); }

std::vector<std::pair<std::string, uint64_t>> LabeledCounter::Values() const {
  std::lock_guard lk(mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(series_.size());
  for (const auto& [v, c] : series_) out.emplace_back(v, c.Value());
  return out;
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  }
  // The shortest of %.15g … %.17g that reads back as the same double (0.00025, not
  // 0.00025000000000000001).
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

TextWriter& TextWriter::Family(std::string_view name, std::string_view help, Type type) {
  static constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram", "summary",
                                                "untyped"};
  out_->append("# HELP ").append(name).append(" ").append(EscapeHelp(help)).append("\n");
  out_->append("# TYPE ").append(name).append(" ").append(kTypes[static_cast<int>(type)]);
  out_->append("\n");
  return *this;
}

void TextWriter::WriteLabels(const std::vector<Label>& labels, std::string_view le) {
  if (labels.empty() && le.empty()) return;
  out_->push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_->push_back(',');
    first = false;
    out_->append(k).append("=\"").append(EscapeLabelValue(v)).append("\"");
  }
  if (!le.empty()) {
    if (!first) out_->push_back(',');
    out_->append("le=\"").append(le).append("\"");
  }
  out_->push_back('}');
}

TextWriter& TextWriter::Sample(std::string_view name, std::initializer_list<Label> labels,
                               double value) {
  return Sample(name, std::vector<Label>(labels), value);
}

TextWriter& TextWriter::Sample(std::string_view name, const std::vector<Label>& labels,
                               double value) {
  out_->append(name);
  WriteLabels(labels, {});
  out_->append(" ").append(FormatValue(value)).append("\n");
  return *this;
}

TextWriter& TextWriter::HistogramSamples(std::string_view name, const std::vector<Label>& labels,
                                         const HistogramSnapshot& h) {
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < h.cumulative.size(); ++i) {
    const std::string le = i < h.bounds.size() ? FormatValue(h.bounds[i]) : "+Inf";
    out_->append(bucket);
    WriteLabels(labels, le);
    out_->append(" ").append(FormatValue(static_cast<double>(h.cumulative[i]))).append("\n");
  }
  Sample(std::string(name) + "_sum", labels, h.sum);
  Sample(std::string(name) + "_count", labels, static_cast<double>(h.count));
  return *this;
}

ProcessCounters& Process() {
  static ProcessCounters* counters = new ProcessCounters();  // never destroyed: used at exit
  return *counters;
}

}  // namespace cairn::metrics
