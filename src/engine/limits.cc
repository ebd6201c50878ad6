#include "engine/limits.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <cctype>
#include <filesystem>
#include <system_error>

#include "base/file.h"
#include "base/json_writer.h"

namespace cairn::engine {
namespace {

Status Invalid(std::string_view field, std::string_view why) {
  return Status(Code::kInvalidRequest, "'" + std::string(field) + "' " + std::string(why));
}

// A whole, non-negative JSON number.
Result<uint64_t> WholeNumber(simdjson::dom::element v, std::string_view field) {
  uint64_t u = 0;
  if (v.get_uint64().get(u) == simdjson::SUCCESS) return u;
  int64_t i = 0;
  if (v.get_int64().get(i) == simdjson::SUCCESS) return Invalid(field, "must not be negative");
  return Invalid(field, "must be a whole number or null");
}

Result<uint64_t> InRange(simdjson::dom::element v, std::string_view field, uint64_t lo,
                         uint64_t hi) {
  CAIRN_ASSIGN_OR_RETURN(uint64_t n, WholeNumber(v, field));
  if (n < lo || n > hi)
    return Invalid(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                              " (or null for the server's default)");
  return n;
}

void OptionalUint(JsonWriter& w, std::string_view key, const std::optional<uint64_t>& v) {
  w.Key(key);
  if (v) {
    w.Uint(*v);
  } else {
    w.Null();
  }
}

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  uint64_t n = 0;
  const size_t digits_at = i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const uint64_t d = static_cast<uint64_t>(text[i] - '0');
    if (n > (UINT64_MAX - d) / 10) return Status(Code::kInvalidRequest, "size is too large");
    n = n * 10 + d;
    ++i;
  }
  if (i == digits_at)
    return Status(Code::kInvalidRequest,
                  "size '" + std::string(text) +
                      "' must be a whole number of bytes with an "
                      "optional unit (b, kb, mb, gb, tb, kib, mib, gib, tib)");
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit;
  for (; i < text.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) break;
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"b", 1},
      {"k", 1000},
      {"kb", 1000},
      {"kib", 1024},
      {"m", 1000000},
      {"mb", 1000000},
      {"mib", 1u << 20},
      {"g", 1000000000},
      {"gb", 1000000000},
      {"gib", 1u << 30},
      {"t", 1000000000000},
      {"tb", 1000000000000},
      {"tib", uint64_t{1} << 40},
  };
  if (i == text.size()) {
    for (const Unit& u : kUnits) {
      if (u.name != unit) continue;
      if (n > UINT64_MAX / u.factor) return Status(Code::kInvalidRequest, "size is too large");
      return n * u.factor;
    }
  }
  return Status(Code::kInvalidRequest,
                "size '" + std::string(text) +
                    "' has an unknown unit (use b, kb, mb, gb, tb, kib, mib, gib or tib)");
}

std::string EncodeLimits(const DatabaseLimits& l) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  OptionalUint(w, "max_db_size", l.max_db_size);
  w.Key("block_reads").Bool(l.block_reads);
  w.Key("block_writes").Bool(l.block_writes);
  w.Key("block_reason");
  if (l.block_reason.empty()) {
    w.Null();
  } else {
    w.String(l.block_reason);
  }
  std::optional<uint64_t> timeout;
  if (l.statement_timeout) timeout = static_cast<uint64_t>(l.statement_timeout->count());
  OptionalUint(w, "statement_timeout_ms", timeout);
  OptionalUint(w, "max_response_bytes", l.max_response_bytes);
  OptionalUint(w, "max_concurrent_streams", l.max_concurrent_streams);
  OptionalUint(w, "sync_replicas", l.sync_replicas);
  OptionalUint(w, "sync_timeout_ms", l.sync_timeout_ms);
  w.Key("sync_backup").Bool(l.sync_backup);
  w.EndObject();
  return out;
}

Status ApplyLimitsJson(std::string_view json, DatabaseLimits* limits,
                       std::initializer_list<std::string_view> also_allowed) {
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) return Status::Ok();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS)
    return Status(Code::kInvalidRequest, "the body must be a JSON object");
  DatabaseLimits next = *limits;
  for (auto [key, value] : obj) {
    bool skip = false;
    for (std::string_view a : also_allowed) skip = skip || a == key;
    if (skip) continue;
    const bool null = value.is_null();
    if (key == "max_db_size") {
      if (null) {
        next.max_db_size.reset();
      } else if (std::string_view s; value.get_string().get(s) == simdjson::SUCCESS) {
        auto n = ParseByteSize(s);
        if (!n.ok()) return Invalid(key, "is not a size: " + n.status().message());
        next.max_db_size = *n;
      } else {
        CAIRN_ASSIGN_OR_RETURN(uint64_t n, WholeNumber(value, key));
        next.max_db_size = n;
      }
      if (next.max_db_size && *next.max_db_size == 0)
        return Invalid(key, "must be at least 1 byte (null: no limit)");
    } else if (key == "block_reads" || key == "block_writes" || key == "sync_backup") {
      bool b = false;
      if (!null && value.get_bool().get(b) != simdjson::SUCCESS)
        return Invalid(key, "must be true, false or null");
      (key == "block_reads"    ? next.block_reads
       : key == "block_writes" ? next.block_writes
                               : next.sync_backup) = b;
    } else if (key == "block_reason") {
      std::string_view s;
      if (!null && value.get_string().get(s) != simdjson::SUCCESS)
        return Invalid(key, "must be a string or null");
      if (s.size() > 1024) return Invalid(key, "must be at most 1024 bytes");
      next.block_reason = std::string(s);
    } else if (key == "statement_timeout_ms") {
      if (null) {
        next.statement_timeout.reset();
      } else {
        CAIRN_ASSIGN_OR_RETURN(uint64_t n, InRange(value, key, 1, kMaxStatementTimeoutMs));
        next.statement_timeout = std::chrono::milliseconds(n);
      }
    } else if (key == "max_response_bytes") {
      if (null) {
        next.max_response_bytes.reset();
      } else {
        CAIRN_ASSIGN_OR_RETURN(next.max_response_bytes, InRange(value, key, 1, uint64_t{1} << 40));
      }
    } else if (key == "max_concurrent_streams") {
      if (null) {
        next.max_concurrent_streams.reset();
      } else {
        CAIRN_ASSIGN_OR_RETURN(next.max_concurrent_streams, InRange(value, key, 1, 1'000'000));
      }
    } else if (key == "sync_replicas") {
      if (null) {
        next.sync_replicas.reset();
      } else {
        CAIRN_ASSIGN_OR_RETURN(next.sync_replicas, InRange(value, key, 0, 64));
      }
    } else if (key == "sync_timeout_ms") {
      if (null) {
        next.sync_timeout_ms.reset();
      } else {
        CAIRN_ASSIGN_OR_RETURN(next.sync_timeout_ms, InRange(value, key, 1, 600'000));
      }
    } else {
      std::string known =
          "max_db_size, block_reads, block_writes, block_reason, statement_timeout_ms, "
          "max_response_bytes, max_concurrent_streams, sync_replicas, sync_timeout_ms, sync_backup";
      for (std::string_view a : also_allowed) known += ", " + std::string(a);
      return Status(Code::kInvalidRequest,
                    "unknown field '" + std::string(key) + "' (known: " + known + ")");
    }
  }
  *limits = std::move(next);
  return Status::Ok();
}

void LiveLimits::Set(DatabaseLimits limits) {
  std::lock_guard lk(mu_);
  timeout_ms_.store(limits.statement_timeout ? limits.statement_timeout->count() : 0,
                    std::memory_order_relaxed);
  block_reads_.store(limits.block_reads, std::memory_order_relaxed);
  block_writes_.store(limits.block_writes, std::memory_order_relaxed);
  response_bytes_.store(limits.max_response_bytes.value_or(0), std::memory_order_relaxed);
  max_streams_.store(limits.max_concurrent_streams.value_or(0), std::memory_order_relaxed);
  sync_replicas_.store(limits.sync_replicas.value_or(0), std::memory_order_relaxed);
  sync_timeout_ms_.store(limits.sync_timeout_ms.value_or(5000), std::memory_order_relaxed);
  sync_backup_.store(limits.sync_backup, std::memory_order_relaxed);
  limits_ = std::move(limits);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

DatabaseLimits LiveLimits::Get() const {
  std::lock_guard lk(mu_);
  return limits_;
}

Status LiveLimits::Blocked(std::string_view db, std::string_view what) const {
  std::string reason;
  {
    std::lock_guard lk(mu_);
    reason = limits_.block_reason;
  }
  return Status(Code::kBlocked, std::string(what) + " are blocked on database '" + std::string(db) +
                                    "'" + (reason.empty() ? std::string() : ": " + reason));
}

Status ApplySizeLimit(sqlite::Connection* writer, const std::optional<uint64_t>& max_db_size) {
  uint32_t page_size = 0;
  {
    CAIRN_ASSIGN_OR_RETURN(sqlite::Statement q, writer->PrepareTrusted("PRAGMA page_size"));
    if (sqlite3_step(q.raw()) == SQLITE_ROW)
      page_size = static_cast<uint32_t>(sqlite3_column_int64(q.raw(), 0));
  }
  return writer->ExecTrusted("PRAGMA max_page_count=" +
                             std::to_string(MaxPagesFor(max_db_size, page_size)));
}

Result<LiveLimits::StreamSlot> LiveLimits::TakeStreamSlot(const std::shared_ptr<LiveLimits>& limits,
                                                          std::string_view db) {
  const uint64_t before = limits->open_streams_.fetch_add(1, std::memory_order_acq_rel);
  StreamSlot slot(limits);  // gives the place back if refused below
  const uint64_t max = limits->max_streams_.load(std::memory_order_relaxed);
  if (max != 0 && before >= max)
    return Status(Code::kTooManyStreams,
                  "database '" + std::string(db) + "' already has " + std::to_string(before) +
                      " open streams, its limit (max_concurrent_streams " + std::to_string(max) +
                      "); finish a transaction or close a stream, then try again");
  return slot;
}

uint32_t MaxPagesFor(const std::optional<uint64_t>& max_db_size, uint32_t page_size) {
  constexpr uint32_t kSqliteMax = 4294967294u;  // SQLite's largest max_page_count
  if (!max_db_size) return kSqliteMax;
  if (page_size == 0) page_size = 4096;
  const uint64_t pages = *max_db_size / page_size;
  if (pages < 1) return 1;
  return pages > kSqliteMax ? kSqliteMax : static_cast<uint32_t>(pages);
}

std::shared_ptr<LiveLimits> LimitsStore::LoadLocked(const std::string& name) {
  auto it = live_.find(name);
  if (it != live_.end()) return it->second;
  const std::string path = dir_of_(name) + "/" + std::string(kFileName);
  DatabaseLimits limits;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    auto text = ReadWholeFile(path);
    Status st = text.ok() ? ApplyLimitsJson(*text, &limits) : text.status();
    if (!st.ok()) {
      limits = DatabaseLimits{};
      limits.block_reads = true;
      limits.block_reason = "its limits file cannot be read (" + st.message() +
                            "); set its limits again through the admin API";
      spdlog::error("database {}: {} cannot be read: {}", name, path, st.ToString());
    }
  }
  auto live = std::make_shared<LiveLimits>(std::move(limits));
  live_.emplace(name, live);
  return live;
}

std::shared_ptr<LiveLimits> LimitsStore::For(std::string_view name) {
  std::lock_guard lk(mu_);
  return LoadLocked(std::string(name));
}

Status LimitsStore::Set(std::string_view name, const DatabaseLimits& limits) {
  std::function<void(const std::string&)> on_change;
  const std::string key(name);
  {
    std::lock_guard lk(mu_);
    CAIRN_RETURN_IF_ERROR(SetLocked(key, limits));
    on_change = on_change_;
  }
  if (on_change) on_change(key);
  return Status::Ok();
}

void LimitsStore::SetOnChange(std::function<void(const std::string&)> on_change) {
  std::lock_guard lk(mu_);
  on_change_ = std::move(on_change);
}

Status LimitsStore::SetLocked(const std::string& key, const DatabaseLimits& limits) {
  auto live = live_.count(key) ? live_[key] : nullptr;
  const std::string path = dir_of_(key) + "/" + std::string(kFileName);
  if (limits.empty()) {
    CAIRN_RETURN_IF_ERROR(RemoveFile(path));
    CAIRN_RETURN_IF_ERROR(SyncDir(dir_of_(key)));
  } else {
    CAIRN_RETURN_IF_ERROR(WriteFileDurably(path, EncodeLimits(limits) + "\n"));
  }
  if (live) {
    live->Set(limits);
  } else {
    live_.emplace(key, std::make_shared<LiveLimits>(limits));
  }
  return Status::Ok();
}

void LimitsStore::Forget(std::string_view name) {
  std::lock_guard lk(mu_);
  live_.erase(std::string(name));
}

}  // namespace cairn::engine
