// The approximate-nearest-neighbour graph of one vector index, in memory.
//
// A single-layer proximity graph in the style of Vamana (DiskANN): every node has at most R
// out-edges chosen by "robust pruning" (a candidate is skipped when an already chosen neighbour is
// alpha times closer to it than the node is), searched greedily with a beam of L candidates from
// one fixed entry node plus a hashed sample of "pivot" nodes. Inserting a node searches for it,
// prunes its candidates to R out-edges and adds reverse edges from its R/4 nearest, re-pruning
// a neighbour whose list overflows (R + R/8) back to R. Removing a node repairs every node that
// pointed to it (its in-neighbours, tracked in memory) by re-pruning that node's list joined with
// the removed node's out-edges, so no edge ever points to a removed node.
//
// The graph is deterministic: it depends only on the sequence of inserts and removes, and a search
// depends only on the graph (ties are broken by id; edge lists are kept sorted by id, which is also
// their order on disk). Loading a graph back from its stored nodes and edges gives a graph that
// searches identically to the one that wrote them.
//
// Vectors are held as "codes", the bytes the index stores per node (Storage):
//   kF32   D little-endian f32 (unit length under the cosine metric)
//   kI8    f32 scale, f32 squared norm, D int8 (x ≈ scale·q; unit length first under cosine)
//   k1Bit  ⌈D/8⌉ bytes of signs; distance = Hamming distance
// Distances are cosine distance (1 − cos) or squared Euclidean distance; callers take the square
// root to report L2. Compressed codes give approximate distances: callers re-rank with exact ones.
//
// Thread-safety: const methods may run concurrently; mutations need exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cairn::vector {

enum class Metric : uint8_t { kCosine, kL2 };
enum class Storage : uint8_t { kF32, kI8, k1Bit };

struct GraphParams {
  Metric metric = Metric::kCosine;
  Storage storage = Storage::kF32;
  uint32_t dims = 0;
  uint32_t max_neighbors = 64;  // R
  uint32_t insert_l = 64;       // beam width while inserting
  uint32_t search_l = 250;      // default beam width of a query (at least k is used)
  float alpha = 1.2f;
};

struct Hit {
  float distance;
  int64_t id;
  bool operator<(const Hit& o) const {
    return distance < o.distance || (distance == o.distance && id < o.id);
  }
};

class Graph {
 public:
  explicit Graph(const GraphParams& params);

  const GraphParams& params() const { return p_; }
  size_t code_size() const { return stride_; }
  size_t size() const { return slot_of_.size(); }
  bool Contains(int64_t id) const { return slot_of_.count(id) != 0; }
  std::optional<int64_t> entry() const;
  // Approximate heap bytes held (for the cache's budget).
  size_t MemoryBytes() const;

  // Encodes `dims` floats as a code. False when a value is NaN or infinite.
  bool EncodeVector(const float* x, std::string* code) const;
  // The stored code of a node (empty if absent).
  std::string_view Code(int64_t id) const;

  // Loading a stored graph: every node first, then the edges, then the entry. False when the
  // stored data is malformed (wrong code size, an edge to an unknown node, an unknown entry).
  bool LoadNode(int64_t id, std::string_view code);
  bool LoadEdges(int64_t id, std::string_view encoded);
  bool LoadEntry(std::optional<int64_t> id);

  // Adds a node (the id must be absent). `changed` receives every id whose edge list changed,
  // the new node included.
  void Insert(int64_t id, std::string_view code, std::vector<int64_t>* changed);
  // Removes a node if present; `changed` receives the ids whose edge lists changed (not the
  // removed one). Afterwards no edge points to `id`.
  void Remove(int64_t id, std::vector<int64_t>* changed);

  // The k nearest nodes found with a beam of max(l, k), nearest first.
  std::vector<Hit> Search(std::string_view query_code, size_t k, size_t l) const;
  // Distance between a query code and a node's code.
  float Distance(std::string_view a, std::string_view b) const;

  // A node's out-edges in their stored form: ids ascending, the first as a zigzag varint, then
  // the gaps as varints. Empty string for an absent node or one without edges.
  std::string EncodeEdges(int64_t id) const;
  static bool DecodeEdges(std::string_view encoded, std::vector<int64_t>* ids);
  std::vector<int64_t> Neighbors(int64_t id) const;

  // For tests: every edge points to a live node, none to itself, no duplicates, lists sorted by id,
  // degree ≤ R + R/8, reverse lists mirror forward lists, and the entry is live (or the graph empty).
  bool CheckInvariants(std::string* why) const;

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  // A node's list may grow to R + R/8 through reverse edges before it is pruned back to R, so
  // that most reverse edges are plain appends (pruning costs O(R²) distances).
  size_t MaxDegree() const { return p_.max_neighbors + p_.max_neighbors / 8; }
  size_t BackEdges() const { return std::max<size_t>(2, p_.max_neighbors / 4); }
  const uint8_t* CodeAt(uint32_t slot) const { return codes_.data() + size_t{slot} * stride_; }
  float SlotDistance(const uint8_t* a, const uint8_t* b) const;
  uint32_t NewSlot(int64_t id, std::string_view code);
  // Greedy beam search from the entry; the best `l` candidates, nearest first (slot in `id`).
  void BeamSearch(const uint8_t* query, size_t l, std::vector<std::pair<float, uint32_t>>* out) const;
  // Robust pruning of `cands` (distance to `node`, slot; sorted nearest first) to at most R slots.
  std::vector<uint32_t> Prune(const std::vector<std::pair<float, uint32_t>>& cands,
                              size_t limit) const;
  // Pivots: about one node in kPivotRate, chosen by a hash of the id (so the same nodes after a
  // reload). Every search also starts from them.
  static constexpr uint64_t kPivotRate = 256;
  static bool IsPivot(int64_t id);
  void SetOut(uint32_t slot, std::vector<uint32_t> out);
  bool Points(uint32_t from, uint32_t to) const;
  // The nodes that have an edge to `slot` (in_ may also hold stale entries).
  std::vector<uint32_t> TrueIn(uint32_t slot) const;
  void SortById(std::vector<uint32_t>* v) const;

  GraphParams p_;
  size_t stride_;
  std::vector<int64_t> ids_;      // slot → id (valid when live_[slot])
  std::vector<uint8_t> live_;
  std::vector<uint8_t> codes_;    // slot·stride_
  std::vector<std::vector<uint32_t>> out_;
  std::vector<std::vector<uint32_t>> in_;  // superset of the true reverse edges (see SetOut)
  std::vector<uint32_t> free_;
  std::vector<uint32_t> pivots_;  // slots of live pivots
  std::unordered_map<int64_t, uint32_t> slot_of_;
  uint32_t entry_ = kNone;
};

}  // namespace cairn::vector
