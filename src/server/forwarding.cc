#include "server/forwarding.h"

#include <algorithm>
#include <charconv>

namespace cairn::server {

namespace {

// Replaces the first occurrence of `from` (a quoted JSON string: inside other strings its quotes
// would be escaped, so the first raw occurrence is the value itself) with `to`.
bool ReplaceFirst(std::string* s, std::string_view from, std::string_view to) {
  const size_t at = s->find(from);
  if (at == std::string::npos) return false;
  s->replace(at, from.size(), to);
  return true;
}

}  // namespace

ReplicaRoute RouteOnReplica(std::string_view body, const hrana::HttpRequestHead& head,
                            std::string_view index_header) {
  ReplicaRoute route;
  uint64_t header_index = 0;
  std::from_chars(index_header.data(), index_header.data() + index_header.size(), header_index);
  route.wait_for_index = std::max(header_index, head.replication_index);
  const std::string_view baton = head.baton ? std::string_view(*head.baton) : std::string_view();
  if (head.baton && baton.substr(0, kPrimaryBatonPrefix.size()) == kPrimaryBatonPrefix) {
    route.forward = true;
    route.forward_body = std::string(body);
    ReplaceFirst(&route.forward_body, "\"" + std::string(baton) + "\"",
                 "\"" + std::string(baton.substr(kPrimaryBatonPrefix.size())) + "\"");
    return route;
  }
  route.stream_here = head.baton.has_value();
  if (!head.may_write) return route;
  route.forward = true;
  route.forward_body = std::string(body);
  // A stream that lived here moves to the primary: the primary starts a new one.
  if (head.baton) ReplaceFirst(&route.forward_body, "\"" + std::string(baton) + "\"", "null");
  return route;
}

std::string WrapPrimaryBaton(std::string body) {
  constexpr std::string_view kKey = "\"baton\":\"";
  // The primary's own answer (Cairn writes no space after a colon), and quotes inside JSON strings
  // are escaped, so the only raw "baton":" is the response's own key.
  const size_t at = body.find(kKey);
  if (at == std::string::npos) return body;
  body.insert(at + kKey.size(), kPrimaryBatonPrefix);
  return body;
}

}  // namespace cairn::server
