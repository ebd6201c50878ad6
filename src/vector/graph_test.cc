// Property tests of the graph against exact brute force on random data.
#include "vector/graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace cairn::vector {
namespace {

struct Data {
  uint32_t dims;
  std::vector<std::vector<float>> rows;
};

// Clustered data (closer to real embeddings than uniform noise), fixed seed.
Data MakeData(size_t n, uint32_t dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<std::vector<float>> centers(16, std::vector<float>(dims));
  for (auto& c : centers)
    for (float& x : c) x = g(rng) * 3;
  Data d{dims, {}};
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> v = centers[rng() % centers.size()];
    for (float& x : v) x += g(rng);
    d.rows.push_back(std::move(v));
  }
  return d;
}

std::string Code(const Graph& g, const std::vector<float>& v) {
  std::string c;
  EXPECT_TRUE(g.EncodeVector(v.data(), &c));
  return c;
}

// Exact top-k by the graph's own distance over the live ids.
std::vector<int64_t> Exact(const Graph& g, const Data& d, const std::set<int64_t>& live,
                           const std::vector<float>& q, size_t k) {
  const std::string qc = Code(g, q);
  std::vector<Hit> all;
  for (int64_t id : live) all.push_back({g.Distance(qc, g.Code(id)), id});
  std::sort(all.begin(), all.end());
  std::vector<int64_t> r;
  for (size_t i = 0; i < k && i < all.size(); ++i) r.push_back(all[i].id);
  return r;
}

double Recall(const Graph& g, const Data& d, const std::set<int64_t>& live, size_t queries,
              uint32_t seed) {
  const Data qs = MakeData(queries, d.dims, seed);
  size_t hit = 0, total = 0;
  for (const auto& q : qs.rows) {
    const auto truth = Exact(g, d, live, q, 10);
    const auto found = g.Search(Code(g, q), 10, 64);
    std::set<int64_t> f;
    for (const Hit& h : found) f.insert(h.id);
    for (int64_t id : truth) hit += f.count(id);
    total += truth.size();
  }
  return static_cast<double>(hit) / static_cast<double>(total);
}

class GraphProperty : public ::testing::TestWithParam<std::tuple<Metric, Storage>> {};

TEST_P(GraphProperty, SearchMatchesBruteForceAndDeletesLeaveNoDanglingEdges) {
  const auto [metric, storage] = GetParam();
  GraphParams p;
  p.metric = metric;
  p.storage = storage;
  p.dims = 24;
  p.max_neighbors = 16;
  p.insert_l = 48;
  Graph g(p);
  const Data d = MakeData(3000, p.dims, 1);
  std::set<int64_t> live;
  std::vector<int64_t> changed;
  for (size_t i = 0; i < d.rows.size(); ++i) {
    g.Insert(static_cast<int64_t>(i) * 3 - 100, Code(g, d.rows[i]), &changed);  // negative ids too
    live.insert(static_cast<int64_t>(i) * 3 - 100);
  }
  std::string why;
  ASSERT_TRUE(g.CheckInvariants(&why)) << why;
  const double min_recall = storage == Storage::kF32 ? 0.88 : 0.85;
  EXPECT_GE(Recall(g, d, live, 100, 2), min_recall);

  // Remove a third (including the entry), then every edge must still point to a live node.
  std::mt19937 rng(3);
  std::vector<int64_t> ids(live.begin(), live.end());
  std::shuffle(ids.begin(), ids.end(), rng);
  const int64_t entry = *g.entry();
  g.Remove(entry, &changed);
  live.erase(entry);
  for (size_t i = 0; i < ids.size() / 3; ++i) {
    if (!live.count(ids[i])) continue;
    g.Remove(ids[i], &changed);
    live.erase(ids[i]);
  }
  ASSERT_TRUE(g.CheckInvariants(&why)) << why;
  EXPECT_EQ(g.size(), live.size());
  EXPECT_TRUE(live.count(*g.entry()));
  for (int64_t id : live)
    for (int64_t n : g.Neighbors(id)) ASSERT_TRUE(live.count(n)) << id << " -> " << n;
  EXPECT_GE(Recall(g, d, live, 100, 4), min_recall - 0.05);
}

INSTANTIATE_TEST_SUITE_P(
    AllStorages, GraphProperty,
    ::testing::Values(std::make_tuple(Metric::kCosine, Storage::kF32),
                      std::make_tuple(Metric::kL2, Storage::kF32),
                      std::make_tuple(Metric::kCosine, Storage::kI8),
                      std::make_tuple(Metric::kL2, Storage::kI8)));

TEST(GraphTest, StoredFormRoundTripsToAnIdenticalGraph) {
  GraphParams p;
  p.dims = 12;
  p.max_neighbors = 8;
  Graph a(p);
  const Data d = MakeData(500, p.dims, 9);
  std::vector<int64_t> changed;
  for (size_t i = 0; i < d.rows.size(); ++i) a.Insert(static_cast<int64_t>(i), Code(a, d.rows[i]), &changed);
  for (int64_t id = 0; id < 500; id += 7) a.Remove(id, &changed);

  Graph b(p);
  for (int64_t id = 0; id < 500; ++id) {
    if (a.Contains(id)) {
      ASSERT_TRUE(b.LoadNode(id, a.Code(id)));
    }
  }
  for (int64_t id = 0; id < 500; ++id) {
    if (a.Contains(id)) {
      ASSERT_TRUE(b.LoadEdges(id, a.EncodeEdges(id)));
    }
  }
  ASSERT_TRUE(b.LoadEntry(a.entry()));
  std::string why;
  ASSERT_TRUE(b.CheckInvariants(&why)) << why;
  const Data qs = MakeData(50, p.dims, 10);
  for (const auto& q : qs.rows) {
    const auto ra = a.Search(Code(a, q), 10, 32), rb = b.Search(Code(b, q), 10, 32);
    ASSERT_EQ(ra.size(), rb.size());
    for (size_t i = 0; i < ra.size(); ++i) EXPECT_EQ(ra[i].id, rb[i].id);
  }
  // Malformed stored data is refused, never trusted.
  Graph c(p);
  ASSERT_TRUE(c.LoadNode(1, a.Code(1)));
  EXPECT_FALSE(c.LoadNode(2, "short"));
  EXPECT_FALSE(c.LoadEdges(1, a.EncodeEdges(1)));  // neighbours that were never loaded
  EXPECT_FALSE(c.LoadEdges(1, std::string("\xff\xff", 2)));
  EXPECT_FALSE(c.LoadEntry(42));
}

TEST(GraphTest, EdgeEncodingIsSortedDeltaVarints) {
  std::vector<int64_t> ids;
  ASSERT_TRUE(Graph::DecodeEdges(std::string("\x03\x02\x80\x01", 4), &ids));  // -2, 0, 128
  EXPECT_EQ(ids, (std::vector<int64_t>{-2, 0, 128}));
  EXPECT_FALSE(Graph::DecodeEdges(std::string("\x02\x00", 2), &ids));  // not ascending
  EXPECT_TRUE(Graph::DecodeEdges("", &ids));
  EXPECT_TRUE(ids.empty());
}

TEST(GraphTest, DeterministicForTheSameSequence) {
  GraphParams p;
  p.dims = 8;
  const Data d = MakeData(400, p.dims, 11);
  Graph a(p), b(p);
  std::vector<int64_t> changed;
  for (size_t i = 0; i < d.rows.size(); ++i) {
    a.Insert(static_cast<int64_t>(i), Code(a, d.rows[i]), &changed);
    b.Insert(static_cast<int64_t>(i), Code(b, d.rows[i]), &changed);
  }
  for (int64_t id = 0; id < 400; ++id) ASSERT_EQ(a.EncodeEdges(id), b.EncodeEdges(id));
  EXPECT_EQ(a.entry(), b.entry());
}

TEST(GraphTest, EmptyAndSingleNodeGraphs) {
  GraphParams p;
  p.dims = 2;
  Graph g(p);
  const std::vector<float> v = {1, 0};
  EXPECT_TRUE(g.Search(Code(g, v), 5, 10).empty());
  std::vector<int64_t> changed;
  g.Insert(7, Code(g, v), &changed);
  auto r = g.Search(Code(g, v), 5, 10);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, 7);
  EXPECT_NEAR(r[0].distance, 0, 1e-6);
  g.Remove(7, &changed);
  EXPECT_FALSE(g.entry().has_value());
  std::string code;
  const float bad[2] = {NAN, 1};
  EXPECT_FALSE(g.EncodeVector(bad, &code));
}

}  // namespace
}  // namespace cairn::vector
