// Metrics: counters, gauges and fixed-bucket histograms cheap enough for the point-select path, and
// the Prometheus text exposition format (version 0.0.4) to publish them.
//
// The hot path never locks and never allocates: Counter and Histogram are sharded — each thread
// updates one of kShards cache-line-aligned slots with relaxed atomics, and a reader sums the
// shards — so two network threads serving point selects never write the same cache line. Values
// read while updates run are each exact but not a consistent snapshot across metrics (a scrape
// may see a request counted in _count and not yet in a bucket); Prometheus tolerates that.
//
// Label sets are the caller's business and must be bounded: an instrument is one time series, and
// LabeledCounter caps how many distinct label values it will ever hold.
//
// Thread-safety: every method of Counter, Gauge, Histogram and LabeledCounter is thread-safe.
// TextWriter is not (one per scrape).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::metrics {

inline constexpr size_t kShards = 16;

// The shard of the calling thread (assigned round-robin on a thread's first use).
size_t ThisThreadShard();

// A monotonically increasing count.
class Counter {
 public:
  void Inc(uint64_t n = 1) {
    shards_[ThisThreadShard()].v.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Value() const;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> v{0};
  };
  std::array<Shard, kShards> shards_;
};

// A value that goes up and down (set by whoever owns it; usually computed at scrape time instead).
class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

struct HistogramSnapshot {
  std::vector<double> bounds;       // upper bounds, ascending, without +Inf
  std::vector<uint64_t> cumulative; // observations <= bounds[i]; size bounds.size() + 1 (+Inf)
  double sum = 0;
  uint64_t count = 0;               // == cumulative.back()
};

// Observations counted in fixed buckets (Prometheus "le" semantics: a value equal to a bound falls
// in that bound's bucket). At most kMaxBuckets bounds.
class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 24;
  // `bounds` must be ascending and finite; extra ones beyond kMaxBuckets are dropped.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  HistogramSnapshot Snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

  // 100 µs … 10 s, roughly ×2.5 per step: request latencies.
  static std::vector<double> LatencySeconds();

 private:
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kMaxBuckets + 1> buckets{};  // non-cumulative
    std::atomic<double> sum{0};
  };
  std::vector<double> bounds_;
  std::array<Shard, kShards> shards_;
};

// A counter per label value, for a bounded set of values (say, error codes). The first
// `max_values` distinct values get a series of their own; later ones are counted under
// `overflow_value`. Inc takes a mutex (to find the value) and is meant for
// paths that are already slow (errors), not for the point-select path.
class LabeledCounter {
 public:
  explicit LabeledCounter(size_t max_values, std::string overflow_value = "other")
      : max_values_(max_values), overflow_(std::move(overflow_value)) {}
  void Inc(std::string_view value, uint64_t n = 1);
  // (value, count) for every value seen, in first-seen order.
  std::vector<std::pair<std::string, uint64_t>> Values() const;

 private:
  Counter* Find(std::string_view value);
  const size_t max_values_;
  const std::string overflow_;
  mutable std::mutex mu_;
  std::deque<std::pair<std::string, Counter>> series_;  // guarded by mu_; elements never move
};

using Label = std::pair<std::string_view, std::string_view>;

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view v);
// Escapes HELP text: backslash and newline.
std::string EscapeHelp(std::string_view v);
// Formats a sample value: integers exactly, +Inf/-Inf/NaN as Prometheus spells them.
std::string FormatValue(double v);

// Writes the text exposition format into a string. Call Family once per metric name, then its
// samples, before the next family (the format wants a family's samples together).
class TextWriter {
 public:
  enum class Type { kCounter, kGauge, kHistogram, kSummary, kUntyped };
  explicit TextWriter(std::string* out) : out_(out) {}

  // # HELP and # TYPE lines.
  TextWriter& Family(std::string_view name, std::string_view help, Type type);
  // name{labels} value
  TextWriter& Sample(std::string_view name, std::initializer_list<Label> labels, double value);
  TextWriter& Sample(std::string_view name, const std::vector<Label>& labels, double value);
  // name_bucket{labels,le="…"} for every bound and +Inf, then name_sum and name_count.
  TextWriter& HistogramSamples(std::string_view name, const std::vector<Label>& labels,
                               const HistogramSnapshot& h);

 private:
  void WriteLabels(const std::vector<Label>& labels, std::string_view le);
  std::string* out_;
};

// Counters fed from layers that hold no handle to the server (the Hrana error path); one per
// process.
struct ProcessCounters {
  // Hrana error codes sent to clients, by code (a bounded set: hrana/errors.cc).
  LabeledCounter hrana_errors{64};
};
ProcessCounters& Process();

}  // namespace cairn::metrics
