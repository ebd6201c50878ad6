#include "replication/peers.h"

#include <unordered_map>

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "replication/http_client.h"

namespace cairn::replication {

bool StatusAhead(std::string_view peer_status, const std::vector<FollowedDatabase>& mine) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array dbs;
  if (parser.parse(peer_status.data(), peer_status.size()).get(doc) != simdjson::SUCCESS ||
      doc["databases"].get(dbs) != simdjson::SUCCESS)
    return false;
  std::unordered_map<std::string_view, const FollowedDatabase*> by_name;
  for (const auto& d : mine) by_name.emplace(d.name, &d);
  for (auto e : dbs) {
    std::string_view name, generation;
    uint64_t txid = 0;
    if (e["name"].get(name) || e["generation"].get(generation) || e["txid"].get(txid)) continue;
    auto it = by_name.find(name);
    if (it == by_name.end() || it->second->generation.empty()) {
      if (txid > 0) return true;
      continue;
    }
    if (generation == it->second->generation && txid > it->second->position.txid) return true;
  }
  return false;
}

bool PeerAhead(const std::vector<FollowedDatabase>& mine, const std::vector<std::string>& peer_urls,
               const std::string& auth_key, std::chrono::milliseconds timeout) {
  for (const std::string& url : peer_urls) {
    HttpClient client(url, auth_key);
    auto a = client.Get("/v1/replication", timeout);
    if (!a.ok() || a->status != 200) continue;
    if (StatusAhead(a->body, mine)) {
      spdlog::info("cluster: {} has applied more than this node; it should become the primary",
                   url);
      return true;
    }
  }
  return false;
}

}  // namespace cairn::replication
