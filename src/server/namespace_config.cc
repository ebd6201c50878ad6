// The admin API's database creation (empty, from a template, migrated) and per-database limits
// (GET/POST /v1/namespaces/:ns/config). docs/limits.md.
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "base/file.h"
#include "engine/copy.h"
#include "migrate/in_process.h"
#include "server/admin.h"

namespace cairn::server {
namespace {

Status NoSuchDatabase(std::string_view ns) {
  return Status(Code::kNotFound, "database '" + std::string(ns) + "' does not exist");
}

// The optional "template" field of a create body; empty when absent or null.
Result<std::string> TemplateOf(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string();
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(body.data(), body.size()).get_object().get(obj) != simdjson::SUCCESS)
    return Status(Code::kInvalidRequest, "the body must be a JSON object");
  simdjson::dom::element t;
  if (obj["template"].get(t) != simdjson::SUCCESS || t.is_null()) return std::string();
  std::string_view name;
  if (t.get_string().get(name) != simdjson::SUCCESS)
    return Status(Code::kInvalidRequest, "'template' must be the name of a database");
  return std::string(name);
}

}  // namespace

AdminResponse AdminApi::Create(std::string_view ns, std::string_view body) {
  // Everything is checked before anything is created.
  Status st = engine::Registry::ValidateName(ns);
  if (!st.ok()) return FromStatus(st);
  engine::DatabaseLimits limits;
  st = engine::ApplyLimitsJson(body, &limits, {"template"});  // the body's own, checked
  if (!st.ok()) return FromStatus(st);
  auto template_name = TemplateOf(body);
  if (!template_name.ok()) return FromStatus(template_name.status());
  if (!limits.empty() && namespaces_.limits == nullptr)
    return FromStatus(Status(Code::kInvalidRequest, "this server keeps no per-database limits"));
  std::shared_ptr<engine::Database> source;
  if (!template_name->empty()) {
    st = engine::Registry::ValidateName(*template_name);
    if (!st.ok()) return FromStatus(Status(st.code(), "template: " + st.message()));
    if (!registry_->Exists(*template_name))
      return FromStatus(
          Status(Code::kNotFound, "template database '" + *template_name + "' does not exist"));
    auto db = registry_->Get(*template_name);
    if (!db.ok()) return FromStatus(db.status());
    source = std::move(db).value();
    // The template's limits, then the body's fields over them.
    limits = InheritedLimits(*template_name);
    st = engine::ApplyLimitsJson(body, &limits, {"template"});
    if (!st.ok()) return FromStatus(st);
  }
  if (!source && namespaces_.migrations_dir.empty() && limits.empty())
    return FromStatus(registry_->Create(ns));  // the common case: an empty database, at once

  bool filled = false;  // the new database's files were written (and are removed on failure)
  st = registry_->CreateFrom(ns, [&](const std::string& path) -> Status {
    filled = true;
    if (source) {
      CAIRN_RETURN_IF_ERROR(engine::CopyDatabase(*source, path));
    } else {
      CAIRN_ASSIGN_OR_RETURN(
          auto db, engine::Database::Open(std::string(ns), path, engine::DatabaseOptions{}, true));
      db->Close();
    }
    if (!namespaces_.migrations_dir.empty())
      CAIRN_RETURN_IF_ERROR(migrate::MigrateNewDatabase(ns, path, namespaces_.migrations_dir));
    if (namespaces_.limits) CAIRN_RETURN_IF_ERROR(namespaces_.limits->Set(ns, limits));
    CAIRN_RETURN_IF_ERROR(SyncFile(path));
    return SyncDir(registry_->DirOf(ns));
  });
  if (!st.ok() && filled && namespaces_.limits) namespaces_.limits->Forget(ns);
  return FromStatus(st);
}

engine::DatabaseLimits AdminApi::InheritedLimits(std::string_view source) {
  if (namespaces_.limits == nullptr) return {};
  engine::DatabaseLimits limits = namespaces_.limits->Get(source);
  // Blocks are an operator's decision about one database (a template kept read-only, a tenant
  // blocked for an unpaid invoice), not part of what is copied: a new database starts unblocked
  // unless its body says otherwise. Sizes, timeouts, streams and replication follow the data.
  limits.block_reads = false;
  limits.block_writes = false;
  limits.block_reason.clear();
  return limits;
}

void AdminApi::MigrateDefaultAtStart() {
  if (namespaces_.migrations_dir.empty() || registry_->replica() || !registry_->Exists("default"))
    return;
  auto db = registry_->Get("default");
  Result<bool> migrated = db.ok() ? migrate::MigrateIfEmpty(*db, namespaces_.migrations_dir)
                                  : Result<bool>(db.status());
  if (!migrated.ok()) {
    spdlog::error("the default database was not migrated: {}", migrated.status().ToString());
  } else if (*migrated) {
    spdlog::info("migrated the new default database ({})", namespaces_.migrations_dir);
  }
}

AdminResponse AdminApi::GetConfig(std::string_view ns) {
  Status st = engine::Registry::ValidateName(ns);
  if (st.ok() && !registry_->Exists(ns)) st = NoSuchDatabase(ns);
  if (!st.ok()) return FromStatus(st);
  const engine::DatabaseLimits limits =
      namespaces_.limits ? namespaces_.limits->Get(ns) : engine::DatabaseLimits{};
  return {200, engine::EncodeLimits(limits)};
}

AdminResponse AdminApi::SetConfig(std::string_view ns, std::string_view body) {
  Status st = engine::Registry::ValidateName(ns);
  if (st.ok() && !registry_->Exists(ns)) st = NoSuchDatabase(ns);
  if (st.ok() && namespaces_.limits == nullptr)
    st = Status(Code::kInvalidRequest, "this server keeps no per-database limits");
  if (!st.ok()) return FromStatus(st);
  std::lock_guard lk(config_mu_);
  engine::DatabaseLimits limits = namespaces_.limits->Get(ns);
  st = engine::ApplyLimitsJson(body, &limits);
  // Written durably first; an open database applies them from its next statement.
  if (st.ok()) st = namespaces_.limits->Set(ns, limits);
  if (!st.ok()) return FromStatus(st);
  return {200, engine::EncodeLimits(limits)};
}

AdminResponse AdminApi::Delete(std::string_view ns) {
  Status st = registry_->Delete(ns);
  if (st.ok() && namespaces_.limits) namespaces_.limits->Forget(ns);
  return FromStatus(st);
}

}  // namespace cairn::server
