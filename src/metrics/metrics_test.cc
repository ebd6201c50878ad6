#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace cairn::metrics {
namespace {

TEST(Counter, SumsShardsAcrossThreads) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Inc();
    });
  for (auto& t : threads) t.join();
  c.Inc(5);
  EXPECT_EQ(c.Value(), 80005u);
}

TEST(Histogram, BucketsAreCumulativeWithLeSemantics) {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, 100.0}) h.Observe(v);
  HistogramSnapshot s = h.Snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);  // 0.5, 1.0 (a value equal to a bound is in that bucket)
  EXPECT_EQ(s.cumulative[1], 4u);  // + 1.5, 2.0
  EXPECT_EQ(s.cumulative[2], 5u);  // + 3.0
  EXPECT_EQ(s.cumulative[3], 6u);  // +Inf
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.sum, 108.0);
}

TEST(Histogram, ConcurrentObservationsAllCounted) {
  Histogram h(Histogram::LatencySeconds());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) h.Observe(0.001);
    });
  for (auto& t : threads) t.join();
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 20000u);
  EXPECT_NEAR(s.sum, 20.0, 1e-9);
  EXPECT_EQ(s.cumulative[2], 0u);      // le=0.0005
  EXPECT_EQ(s.cumulative[3], 20000u);  // le=0.001
}

TEST(LabeledCounter, BoundsTheNumberOfSeries) {
  LabeledCounter c(2);
  c.Inc("A");
  c.Inc("B", 3);
  c.Inc("A");
  c.Inc("C");
  c.Inc("D", 2);
  auto v = c.Values();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], (std::pair<std::string, uint64_t>{"A", 2}));
  EXPECT_EQ(v[1], (std::pair<std::string, uint64_t>{"B", 3}));
  EXPECT_EQ(v[2], (std::pair<std::string, uint64_t>{"other", 3}));
}

TEST(TextFormat, Escaping) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(EscapeHelp("say \"hi\"\\\n"), "say \"hi\"\\\\\\n");
}

TEST(TextFormat, Values) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(0.00025), "0.00025");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
}

TEST(TextFormat, FamiliesSamplesAndHistograms) {
  std::string out;
  TextWriter w(&out);
  w.Family("x_total", "Things.\nMore", TextWriter::Type::kCounter)
      .Sample("x_total", {{"code", "A\"B"}}, 7)
      .Sample("x_total", {}, 1);
  Histogram h({0.5, 1});
  h.Observe(0.25);
  h.Observe(0.75);
  h.Observe(2);
  w.Family("d_seconds", "Durations.", TextWriter::Type::kHistogram)
      .HistogramSamples("d_seconds", {{"endpoint", "pipeline"}}, h.Snapshot());
  EXPECT_EQ(out,
            "# HELP x_total Things.\\nMore\n"
            "# TYPE x_total counter\n"
            "x_total{code=\"A\\\"B\"} 7\n"
            "x_total 1\n"
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{endpoint=\"pipeline\",le=\"0.5\"} 1\n"
            "d_seconds_bucket{endpoint=\"pipeline\",le=\"1\"} 2\n"
            "d_seconds_bucket{endpoint=\"pipeline\",le=\"+Inf\"} 3\n"
            "d_seconds_sum{endpoint=\"pipeline\"} 3\n"
            "d_seconds_count{endpoint=\"pipeline\"} 3\n");
}

}  // namespace
}  // namespace cairn::metrics
