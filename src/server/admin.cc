#include "server/admin.h"

#include "base/json_writer.h"
#include "hrana/errors.h"

namespace cairn::server {
namespace {

AdminResponse FromStatus(const Status& st) {
  if (st.ok()) return {200, "{}"};
  return {hrana::HttpStatus(st), hrana::ErrorBody(st)};
}

}  // namespace

AdminResponse AdminApi::Handle(std::string_view method, std::string_view path,
                               std::string_view /*body*/) {
  constexpr std::string_view kPrefix = "/v1/namespaces";
  if (path == "/health" && method == "GET") return {200, "{}"};
  if (path == kPrefix || path == "/v1/namespaces/") {
    if (method != "GET") return FromStatus(Status(Code::kInvalidRequest, "use GET to list"));
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("namespaces").BeginArray();
    for (const auto& name : registry_->List()) w.String(name);
    w.EndArray().EndObject();
    return {200, std::move(out)};
  }
  if (path.substr(0, kPrefix.size() + 1) == "/v1/namespaces/") {
    std::string_view rest = path.substr(kPrefix.size() + 1);
    auto slash = rest.find('/');
    std::string_view ns = rest.substr(0, slash);
    std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    if (action == "create" && method == "POST") return FromStatus(registry_->Create(ns));
    if (action.empty() && method == "DELETE") return FromStatus(registry_->Delete(ns));
    if (action.empty() && method == "GET") {
      Status st = engine::Registry::ValidateName(ns);
      if (st.ok() && !registry_->Exists(ns))
        st = Status(Code::kNotFound, "database '" + std::string(ns) + "' does not exist");
      if (!st.ok()) return FromStatus(st);
      std::string out;
      JsonWriter(&out).BeginObject().Key("name").String(ns).EndObject();
      return {200, std::move(out)};
    }
  }
  Status st(Code::kNotFound, "no such admin endpoint: " + std::string(method) + " " +
                                 std::string(path));
  return {404, hrana::ErrorBody(st)};
}

}  // namespace cairn::server
