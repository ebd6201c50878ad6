#include "vector/graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>

#include "vector/distance.h"
#include "vector/format.h"

namespace cairn::vector {
namespace {

size_t StrideFor(const GraphParams& p) {
  switch (p.storage) {
    case Storage::kF32: return size_t{p.dims} * 4;
    case Storage::kI8: return 8 + size_t{p.dims};
    case Storage::k1Bit: return (size_t{p.dims} + 7) / 8;
  }
  return 0;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Per-thread visited marks for searches (searches run concurrently under a shared lock).
struct Visited {
  std::vector<uint32_t> mark;
  uint32_t epoch = 0;
  void Reset(size_t n) {
    if (mark.size() < n) mark.resize(n, 0);
    if (++epoch == 0) {
      std::fill(mark.begin(), mark.end(), 0);
      epoch = 1;
    }
  }
  bool TestAndSet(uint32_t s) {
    if (mark[s] == epoch) return true;
    mark[s] = epoch;
    return false;
  }
};
thread_local Visited tl_visited;

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

bool Graph::IsPivot(int64_t id) { return Mix(static_cast<uint64_t>(id)) % kPivotRate == 0; }

Graph::Graph(const GraphParams& params) : p_(params), stride_(StrideFor(params)) {
  if (p_.max_neighbors < 2) p_.max_neighbors = 2;
  if (p_.insert_l < 1) p_.insert_l = 1;
  if (p_.search_l < 1) p_.search_l = 1;
}

std::optional<int64_t> Graph::entry() const {
  if (entry_ == kNone) return std::nullopt;
  return ids_[entry_];
}

size_t Graph::MemoryBytes() const {
  size_t edges = 0;
  for (const auto& v : out_) edges += v.capacity() * 4;
  for (const auto& v : in_) edges += v.capacity() * 4;
  return codes_.capacity() + edges + ids_.capacity() * 9 + slot_of_.size() * 32 +
         out_.capacity() * 48;
}

bool Graph::EncodeVector(const float* x, std::string* code) const {
  const size_t d = p_.dims;
  for (size_t i = 0; i < d; ++i)
    if (!std::isfinite(x[i])) return false;
  std::vector<float> v(x, x + d);
  if (p_.metric == Metric::kCosine && p_.storage != Storage::k1Bit) {
    double norm = 0;
    for (float f : v) norm += double{f} * f;
    if (norm > 0) {
      const float inv = static_cast<float>(1 / std::sqrt(norm));
      for (float& f : v) f *= inv;
    }
  }
  code->assign(stride_, '\0');
  auto* out = reinterpret_cast<unsigned char*>(code->data());
  switch (p_.storage) {
    case Storage::kF32:
      for (size_t i = 0; i < d; ++i) StoreF32(out + 4 * i, v[i]);
      break;
    case Storage::kI8: {
      float maxabs = 0, norm = 0;
      for (float f : v) maxabs = std::max(maxabs, std::fabs(f));
      const float scale = maxabs > 0 ? maxabs / 127 : 1;
      for (size_t i = 0; i < d; ++i) {
        const int q = static_cast<int>(std::lround(v[i] / scale));
        const int8_t c = static_cast<int8_t>(std::clamp(q, -127, 127));
        out[8 + i] = static_cast<unsigned char>(c);
        norm += (scale * c) * (scale * c);
      }
      StoreF32(out, scale);
      StoreF32(out + 4, norm);
      break;
    }
    case Storage::k1Bit:
      for (size_t i = 0; i < d; ++i)
        if (v[i] > 0) out[i / 8] = static_cast<unsigned char>(out[i / 8] | (1u << (i & 7)));
      break;
  }
  return true;
}

std::string_view Graph::Code(int64_t id) const {
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return {};
  return {reinterpret_cast<const char*>(CodeAt(it->second)), stride_};
}

float Graph::SlotDistance(const uint8_t* a, const uint8_t* b) const {
  switch (p_.storage) {
    case Storage::kF32: {
      const auto* x = reinterpret_cast<const float*>(a);
      const auto* y = reinterpret_cast<const float*>(b);
      if (p_.metric == Metric::kCosine) return 1.0f - DotF32(x, y, p_.dims);
      return L2SquaredF32(x, y, p_.dims);
    }
    case Storage::kI8: {
      const float sa = LoadF32(a), sb = LoadF32(b);
      const float dot = sa * sb *
                        static_cast<float>(DotI8(reinterpret_cast<const int8_t*>(a + 8),
                                                 reinterpret_cast<const int8_t*>(b + 8), p_.dims));
      if (p_.metric == Metric::kCosine) return 1.0f - dot;
      return std::max(0.0f, LoadF32(a + 4) + LoadF32(b + 4) - 2 * dot);
    }
    case Storage::k1Bit:
      return static_cast<float>(HammingBits(a, b, stride_));
  }
  return 0;
}

float Graph::Distance(std::string_view a, std::string_view b) const {
  return SlotDistance(reinterpret_cast<const uint8_t*>(a.data()),
                      reinterpret_cast<const uint8_t*>(b.data()));
}

uint32_t Graph::NewSlot(int64_t id, std::string_view code) {
  uint32_t s;
  if (!free_.empty()) {
    s = free_.back();
    free_.pop_back();
  } else {
    s = static_cast<uint32_t>(ids_.size());
    ids_.push_back(0);
    live_.push_back(0);
    out_.emplace_back();
    in_.emplace_back();
    codes_.resize(codes_.size() + stride_);
  }
  ids_[s] = id;
  live_[s] = 1;
  if (IsPivot(id)) pivots_.push_back(s);
  out_[s].clear();
  in_[s].clear();
  std::memcpy(codes_.data() + size_t{s} * stride_, code.data(), stride_);
  slot_of_[id] = s;
  return s;
}

bool Graph::LoadNode(int64_t id, std::string_view code) {
  if (code.size() != stride_ || Contains(id)) return false;
  NewSlot(id, code);
  return true;
}

bool Graph::LoadEdges(int64_t id, std::string_view encoded) {
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return false;
  std::vector<int64_t> ids;
  if (!DecodeEdges(encoded, &ids) || ids.size() > p_.max_neighbors * 2u) return false;
  std::vector<uint32_t> out;
  out.reserve(ids.size());
  for (int64_t n : ids) {
    auto nt = slot_of_.find(n);
    if (nt == slot_of_.end() || n == id) return false;
    out.push_back(nt->second);
  }
  SetOut(it->second, std::move(out));
  return true;
}

bool Graph::LoadEntry(std::optional<int64_t> id) {
  if (!id) {
    entry_ = kNone;
    return slot_of_.empty();
  }
  auto it = slot_of_.find(*id);
  if (it == slot_of_.end()) return false;
  entry_ = it->second;
  return true;
}

void Graph::SortById(std::vector<uint32_t>* v) const {
  std::sort(v->begin(), v->end(), [&](uint32_t a, uint32_t b) { return ids_[a] < ids_[b]; });
}

bool Graph::Points(uint32_t from, uint32_t to) const {
  const auto& o = out_[from];
  return std::find(o.begin(), o.end(), to) != o.end();
}

// Replaces a node's out-list. Reverse lists only ever gain entries here: an entry whose edge is
// gone is filtered out when the list is read (TrueIn) or compacted, so hubs with thousands of
// in-edges cost nothing per change.
void Graph::SetOut(uint32_t slot, std::vector<uint32_t> out) {
  SortById(&out);
  const std::vector<uint32_t>& old = out_[slot];
  for (uint32_t n : out) {
    if (std::find(old.begin(), old.end(), n) != old.end()) continue;
    auto& in = in_[n];
    in.push_back(slot);
    if (in.size() >= 64 && (in.size() & (in.size() - 1)) == 0) {  // at powers of two: compact
      std::vector<uint32_t> keep;
      for (uint32_t q : in)
        if (live_[q] && (q == slot || Points(q, n)) && std::find(keep.begin(), keep.end(), q) == keep.end())
          keep.push_back(q);
      in = std::move(keep);
    }
  }
  out_[slot] = std::move(out);
}

std::vector<uint32_t> Graph::TrueIn(uint32_t slot) const {
  std::vector<uint32_t> r;
  for (uint32_t q : in_[slot])
    if (live_[q] && q != slot && Points(q, slot) && std::find(r.begin(), r.end(), q) == r.end())
      r.push_back(q);
  return r;
}

void Graph::BeamSearch(const uint8_t* query, size_t l,
                       std::vector<std::pair<float, uint32_t>>* out) const {
  out->clear();
  if (entry_ == kNone) return;
  Visited& visited = tl_visited;
  visited.Reset(ids_.size());
  auto less = [&](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    return a.first < b.first || (a.first == b.first && ids_[a.second] < ids_[b.second]);
  };
  auto greater = [&](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    return less(b, a);
  };
  // Candidates to expand (nearest on top) and the best l seen (farthest on top).
  std::priority_queue<std::pair<float, uint32_t>, std::vector<std::pair<float, uint32_t>>,
                      decltype(greater)>
      todo(greater);
  std::priority_queue<std::pair<float, uint32_t>, std::vector<std::pair<float, uint32_t>>,
                      decltype(less)>
      best(less);
  // Seeds: the entry and the pivots (a fixed sample of nodes), so that a query far from the entry
  // starts near its answer instead of walking there.
  auto seed = [&](uint32_t s) {
    if (visited.TestAndSet(s)) return;
    const std::pair<float, uint32_t> c{SlotDistance(query, CodeAt(s)), s};
    if (best.size() < l || less(c, best.top())) {
      todo.push(c);
      best.push(c);
      if (best.size() > l) best.pop();
    }
  };
  seed(entry_);
  for (uint32_t s : pivots_) seed(s);
  while (!todo.empty()) {  // bounded: every node enters `todo` at most once (visited marks)
    const auto cur = todo.top();
    if (best.size() >= l && less(best.top(), cur)) break;
    todo.pop();
    // Unvisited neighbours first, their codes prefetched, then the distances: the codes are
    // scattered over memory and waiting for them one at a time dominates otherwise.
    thread_local std::vector<uint32_t> batch;
    batch.clear();
    for (uint32_t n : out_[cur.second]) {
      if (visited.TestAndSet(n)) continue;
      batch.push_back(n);
      const uint8_t* code = CodeAt(n);
      for (size_t off = 0; off < stride_; off += 64) __builtin_prefetch(code + off);
    }
    for (uint32_t n : batch) {
      const std::pair<float, uint32_t> c{SlotDistance(query, CodeAt(n)), n};
      if (best.size() < l || less(c, best.top())) {
        todo.push(c);
        best.push(c);
        if (best.size() > l) best.pop();
      }
    }
  }
  out->resize(best.size());
  for (size_t i = best.size(); i-- > 0;) {
    (*out)[i] = best.top();
    best.pop();
  }
}

std::vector<uint32_t> Graph::Prune(const std::vector<std::pair<float, uint32_t>>& cands,
                                   size_t limit) const {
  // alpha scales Euclidean distances (as in Vamana); cosine distance of unit vectors and squared
  // L2 are squared Euclidean distances, so they are compared with alpha².
  const float alpha = p_.alpha;
  std::vector<uint32_t> chosen;
  chosen.reserve(limit);
  for (const auto& [d, c] : cands) {
    if (chosen.size() >= limit) break;
    bool keep = true;
    for (uint32_t r : chosen) {
      if (alpha * SlotDistance(CodeAt(r), CodeAt(c)) <= d) {
        keep = false;
        break;
      }
    }
    if (keep) chosen.push_back(c);
  }
  return chosen;
}

void Graph::Insert(int64_t id, std::string_view code, std::vector<int64_t>* changed) {
  if (code.size() != stride_ || Contains(id)) return;
  std::vector<std::pair<float, uint32_t>> cands;
  BeamSearch(reinterpret_cast<const uint8_t*>(code.data()), p_.insert_l, &cands);
  const uint32_t s = NewSlot(id, code);
  changed->push_back(id);
  if (entry_ == kNone) {
    entry_ = s;
    return;
  }
  std::vector<uint32_t> mine = Prune(cands, p_.max_neighbors);
  SetOut(s, mine);
  // Reverse edges go to the nearest R/4 chosen neighbours only: each one rewrites that
  // neighbour's edge row, i.e. a page, and pages written per insert are what every commit pays
  // for in the log, replication and backups. Later inserts add more in-edges to this node.
  if (mine.size() > BackEdges()) mine.resize(BackEdges());
  for (uint32_t b : mine) {
    std::vector<uint32_t> list = out_[b];
    list.push_back(s);
    if (list.size() > MaxDegree()) {
      std::vector<std::pair<float, uint32_t>> c;
      c.reserve(list.size());
      for (uint32_t n : list) c.emplace_back(SlotDistance(CodeAt(b), CodeAt(n)), n);
      std::sort(c.begin(), c.end(), [&](const auto& x, const auto& y) {
        return x.first < y.first || (x.first == y.first && ids_[x.second] < ids_[y.second]);
      });
      list = Prune(c, p_.max_neighbors);
    }
    SetOut(b, std::move(list));
    changed->push_back(ids_[b]);
  }
}

void Graph::Remove(int64_t id, std::vector<int64_t>* changed) {
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return;
  const uint32_t s = it->second;
  const std::vector<uint32_t> outs = out_[s];
  std::vector<uint32_t> ins = TrueIn(s);
  SortById(&ins);  // repair in a deterministic order
  out_[s].clear();
  for (uint32_t q : ins) {
    std::vector<uint32_t> pool;
    for (uint32_t n : out_[q])
      if (n != s) pool.push_back(n);
    for (uint32_t n : outs)
      if (n != q && std::find(pool.begin(), pool.end(), n) == pool.end()) pool.push_back(n);
    std::vector<std::pair<float, uint32_t>> c;
    c.reserve(pool.size());
    for (uint32_t n : pool) c.emplace_back(SlotDistance(CodeAt(q), CodeAt(n)), n);
    std::sort(c.begin(), c.end(), [&](const auto& x, const auto& y) {
      return x.first < y.first || (x.first == y.first && ids_[x.second] < ids_[y.second]);
    });
    SetOut(q, Prune(c, p_.max_neighbors));
    changed->push_back(ids_[q]);
  }
  if (entry_ == s) {
    entry_ = kNone;
    float best = 0;
    for (uint32_t n : outs) {
      const float d = SlotDistance(CodeAt(s), CodeAt(n));
      if (entry_ == kNone || d < best || (d == best && ids_[n] < ids_[entry_])) {
        entry_ = n;
        best = d;
      }
    }
    if (entry_ == kNone) {  // an isolated entry: the smallest remaining id
      for (const auto& [nid, slot] : slot_of_)
        if (slot != s && (entry_ == kNone || nid < ids_[entry_])) entry_ = slot;
    }
  }
  if (IsPivot(id)) pivots_.erase(std::find(pivots_.begin(), pivots_.end(), s));
  live_[s] = 0;
  in_[s].clear();
  slot_of_.erase(it);
  free_.push_back(s);
}

std::vector<Hit> Graph::Search(std::string_view query_code, size_t k, size_t l) const {
  std::vector<Hit> hits;
  if (query_code.size() != stride_ || k == 0) return hits;
  std::vector<std::pair<float, uint32_t>> cands;
  BeamSearch(reinterpret_cast<const uint8_t*>(query_code.data()), std::max(k, l), &cands);
  for (size_t i = 0; i < cands.size() && i < k; ++i)
    hits.push_back(Hit{cands[i].first, ids_[cands[i].second]});
  return hits;
}

std::string Graph::EncodeEdges(int64_t id) const {
  std::string out;
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return out;
  int64_t prev = 0;
  bool first = true;
  for (uint32_t n : out_[it->second]) {  // sorted by id
    const int64_t v = ids_[n];
    if (first) {
      PutVarint(&out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
      first = false;
    } else {
      PutVarint(&out, static_cast<uint64_t>(v) - static_cast<uint64_t>(prev));
    }
    prev = v;
  }
  return out;
}

bool Graph::DecodeEdges(std::string_view encoded, std::vector<int64_t>* ids) {
  ids->clear();
  uint64_t v;
  int64_t prev = 0;
  for (size_t n = 0; !encoded.empty(); ++n) {  // bounded: each pass consumes ≥ 1 byte
    if (!GetVarint(&encoded, &v)) return false;
    int64_t cur;
    if (n == 0) {
      cur = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
    } else {
      if (v == 0) return false;  // ids strictly ascending
      cur = static_cast<int64_t>(static_cast<uint64_t>(prev) + v);
      if (cur <= prev) return false;
    }
    ids->push_back(cur);
    prev = cur;
  }
  return true;
}

std::vector<int64_t> Graph::Neighbors(int64_t id) const {
  std::vector<int64_t> r;
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return r;
  for (uint32_t n : out_[it->second]) r.push_back(ids_[n]);
  return r;
}

bool Graph::CheckInvariants(std::string* why) const {
  auto fail = [&](std::string m) {
    *why = std::move(m);
    return false;
  };
  if (slot_of_.empty() != (entry_ == kNone)) return fail("entry does not match emptiness");
  if (entry_ != kNone && !live_[entry_]) return fail("entry is not live");
  std::vector<std::vector<uint32_t>> in(ids_.size());
  for (const auto& [id, s] : slot_of_) {
    if (!live_[s] || ids_[s] != id) return fail("slot map broken at " + std::to_string(id));
    const auto& out = out_[s];
    if (out.size() > MaxDegree()) return fail("degree above its bound at " + std::to_string(id));
    for (size_t i = 0; i < out.size(); ++i) {
      const uint32_t n = out[i];
      if (n >= ids_.size() || !live_[n]) return fail("dangling edge from " + std::to_string(id));
      if (n == s) return fail("self edge at " + std::to_string(id));
      if (i > 0 && ids_[out[i - 1]] >= ids_[n]) return fail("unsorted edges at " + std::to_string(id));
      in[n].push_back(s);
    }
  }
  for (const auto& [id, s] : slot_of_) {
    std::vector<uint32_t> a = in[s], b = TrueIn(s);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b) return fail("reverse edges out of step at " + std::to_string(id));
  }
  return true;
}

}  // namespace cairn::vector
