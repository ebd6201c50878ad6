#include "server/routing.h"

#include <cctype>

#include "base/base64.h"

namespace cairn::server {
namespace {

bool LooksLikeIp(std::string_view host) {
  if (!host.empty() && host.front() == '[') return true;  // IPv6 literal
  for (char c : host)
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  return true;
}

Status NotAllowed(std::string_view name) {
  return Status(Code::kPermissionDenied,
                "the token does not give access to database '" + std::string(name) + "'");
}

}  // namespace

Result<std::string> SelectDatabase(std::string_view ns_header, std::string_view ns_bin_header,
                                   std::string_view host_header, const engine::Registry& registry,
                                   const std::function<bool(std::string_view)>& may_use) {
  std::string name;
  if (!ns_header.empty()) {
    name = std::string(ns_header);
  } else if (!ns_bin_header.empty()) {
    auto decoded = Base64Decode(ns_bin_header);
    if (!decoded) return Status(Code::kInvalidName, "x-namespace-bin is not valid base64");
    name = std::move(*decoded);
  }
  if (!name.empty()) {
    CAIRN_RETURN_IF_ERROR(engine::Registry::ValidateName(name));
    if (may_use && !may_use(name)) return NotAllowed(name);
    if (!registry.Exists(name))
      return Status(Code::kNotFound, "database '" + name + "' does not exist");
    return name;
  }
  std::string_view host = host_header.substr(0, host_header.rfind(':'));
  if (!host_header.empty() && host_header.front() == '[') host = host_header;
  auto dot = host.find('.');
  if (dot != std::string_view::npos && !LooksLikeIp(host)) {
    std::string label(host.substr(0, dot));
    for (char& c : label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (engine::Registry::ValidateName(label).ok() && (!may_use || may_use(label)) &&
        registry.Exists(label))
      return label;
  }
  if (may_use && !may_use("default")) return NotAllowed("default");
  return std::string("default");
}

}  // namespace cairn::server
