#include "replication/source.h"

#include <charconv>

#include <fmt/format.h>

#include "base/json_writer.h"
#include "engine/limits.h"
#include "txlog/checksum.h"
#include "txlog/format.h"

namespace cairn::replication {

namespace {

constexpr size_t kMaxChangesPerPoll = 10000;
constexpr int kMaxWaitMs = 30000;

SourceResponse Error(int status, const std::string& message, std::string_view reason = {}) {
  SourceResponse r;
  r.status = status;
  JsonWriter w(&r.body);
  w.BeginObject().Key("message").String(message);
  if (!reason.empty()) w.Key("reason").String(reason);
  w.EndObject();
  return r;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

void AddPosition(SourceResponse* r, const std::string& gen, txlog::Position pos) {
  r->headers.emplace_back(kHeaderGeneration, gen);
  r->headers.emplace_back(kHeaderTxid, std::to_string(pos.txid));
  r->headers.emplace_back(kHeaderChecksum, fmt::format("{:016x}", pos.checksum));
}

// Streams ReadImage's pages into a snapshot file (the lock page is not kept, as in every
// snapshot of the log).
class SnapshotBuilder final : public engine::Database::ImageVisitor {
 public:
  Status Begin(const engine::Database::Image& img) override {
    if (img.page_size == 0) return Status(Code::kInternal, "the database has no page size");
    lock_ = txlog::LockPage(img.page_size);
    writer_ = std::make_unique<txlog::FileWriter>(img.page_size, txlog::kFlagSnapshot);
    txlog::RecordHeader h;
    h.txid = img.position.txid;
    h.commit_time_us = 0;
    h.page_count = img.page_count;
    h.n_pages = img.page_count - (lock_ <= img.page_count ? 1u : 0u);
    h.post_checksum = img.position.checksum;
    return writer_->BeginRecord(h);
  }
  Status Page(uint32_t pgno, std::string_view data) override {
    if (pgno == lock_) return Status::Ok();
    return writer_->AddPage(pgno, data);
  }
  Result<std::string> Finish() { return writer_->Finish(); }

 private:
  uint32_t lock_ = 0;
  std::unique_ptr<txlog::FileWriter> writer_;
};

}  // namespace

SourceRequest ParseSourceRequest(std::string_view path, std::string_view query) {
  SourceRequest req;
  constexpr std::string_view kPrefix = "/v1/replication/";
  if (path.substr(0, kPrefix.size()) != kPrefix) {
    req.error = "not a replication endpoint";
    return req;
  }
  std::string_view rest = path.substr(kPrefix.size());
  auto take_db = [&](std::string_view prefix) {
    if (rest.substr(0, prefix.size()) != prefix) return false;
    req.db = std::string(rest.substr(prefix.size()));
    return true;
  };
  if (rest == "changes") {
    req.kind = SourceRequest::Kind::kChanges;
  } else if (take_db("log/")) {
    req.kind = SourceRequest::Kind::kLog;
  } else if (take_db("snapshot/")) {
    req.kind = SourceRequest::Kind::kSnapshot;
  } else {
    req.error = "no such replication endpoint: " + std::string(path);
    return req;
  }
  if (req.kind != SourceRequest::Kind::kChanges) {
    Status st = engine::Registry::ValidateName(req.db);
    if (!st.ok()) {
      req.kind = SourceRequest::Kind::kInvalid;
      req.error = st.message();
      return req;
    }
  }
  while (!query.empty()) {
    std::string_view pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    const size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    uint64_t n = 0;
    if (key == "epoch") {
      req.epoch = std::string(value);
    } else if (key == "generation") {
      req.generation = std::string(value);
    } else if (key == "replica") {
      req.replica = std::string(value.substr(0, 64));
    } else if (key == "after" || key == "wait_ms") {
      if (!ParseU64(value, &n)) {
        req.kind = SourceRequest::Kind::kInvalid;
        req.error = "'" + std::string(key) + "' must be a non-negative integer";
        return req;
      }
      if (key == "after") {
        req.after = n;
      } else {
        req.wait_ms = static_cast<int>(std::min<uint64_t>(n, kMaxWaitMs));
      }
    }
  }
  return req;
}

bool Source::HasChanges(const SourceRequest& req) const {
  if (req.epoch != feed_->epoch()) return true;
  return feed_->seq() > req.after;
}

SourceResponse Source::Changes(const SourceRequest& req) const {
  std::vector<std::string> names;
  uint64_t next = 0;
  const bool full = req.epoch != feed_->epoch();
  if (full) {
    next = feed_->seq();  // before listing: a change made meanwhile is listed again next time
    names = registry_->List();
  } else {
    names = feed_->Since(req.after, kMaxChangesPerPoll, &next);
  }
  SourceResponse r;
  JsonWriter w(&r.body);
  w.BeginObject()
      .Key("epoch")
      .String(feed_->epoch())
      .Key("seq")
      .Uint(next)
      .Key("full")
      .Bool(full)
      .Key("databases")
      .BeginArray();
  for (const std::string& n : names) w.String(n);
  w.EndArray().EndObject();
  return r;
}

SourceResponse Source::Log(const SourceRequest& req, size_t max_bytes) const {
  auto db = registry_->Get(req.db);
  if (!db.ok())
    return Error(db.status().code() == Code::kNotFound ? 404 : 503, db.status().message());
  auto use = (*db)->TryUse();
  if (!use) return Error(503, "database " + req.db + " is being closed; retry");
  txlog::TxLog* log = (*db)->txlog();
  if (log == nullptr)
    return Error(501, "database " + req.db + " keeps no transaction log to replicate");
  if (req.generation.empty() && log->last_txid() > 0) {
    // A replica new to this database copies its current state rather than its whole history.
    SourceResponse r = Error(409, "a new replica starts from a snapshot", "snapshot");
    AddPosition(&r, log->generation(), log->captured());
    return r;
  }
  const std::string gen = req.generation.empty() ? log->generation() : req.generation;
  if (!req.replica.empty() && gen == log->generation())
    registry_->replica_acks()->Ack(engine::ReplicaAcks::Key(req.db, gen), req.replica, req.after);
  auto records = log->RecordsAfter(gen, req.after, max_bytes);
  if (!records.ok()) {
    const Code c = records.status().code();
    if (c == Code::kNotFound || c == Code::kInvalidRequest) {
      SourceResponse r = Error(409, records.status().message(), "snapshot");
      AddPosition(&r, log->generation(), log->captured());
      return r;
    }
    return Error(500, records.status().message());
  }
  SourceResponse r;
  if (records->empty()) {
    r.status = 204;
    AddPosition(&r, gen, log->captured());
    return r;
  }
  // Records carry whole pages: their size is the page size.
  const auto& first = records->front();
  const uint32_t page_size =
      first.pgnos.empty() ? 0 : static_cast<uint32_t>(first.pages.size() / first.pgnos.size());
  uint32_t ps = page_size;
  for (const auto& rec : *records)
    if (ps == 0 && !rec.pgnos.empty())
      ps = static_cast<uint32_t>(rec.pages.size() / rec.pgnos.size());
  txlog::FileWriter w(ps == 0 ? 4096 : ps);
  for (const auto& rec : *records) {
    Status st = w.Add(rec);
    if (!st.ok()) return Error(500, st.message());
  }
  auto file = w.Finish();
  if (!file.ok()) return Error(500, file.status().message());
  r.content_type = kLogContentType;
  r.body = std::move(file).value();
  AddPosition(&r, gen, log->captured());
  return r;
}

SourceResponse Source::Snapshot(const SourceRequest& req) const {
  auto db = registry_->Get(req.db);
  if (!db.ok())
    return Error(db.status().code() == Code::kNotFound ? 404 : 503, db.status().message());
  auto use = (*db)->TryUse();
  if (!use) return Error(503, "database " + req.db + " is being closed; retry");
  if ((*db)->txlog() == nullptr)
    return Error(501, "database " + req.db + " keeps no transaction log to replicate");
  SnapshotBuilder builder;
  auto img = (*db)->ReadImage(&builder);
  if (!img.ok()) return Error(500, img.status().message());
  SourceResponse r;
  AddPosition(&r, img->generation, img->position);
  if (img->position.txid == 0) {
    // Nothing was ever committed in this generation: the replica starts from an empty database
    // and follows the log from txid 0.
    r.status = 200;
    r.content_type = kLogContentType;
    r.headers.emplace_back(kHeaderFresh, "1");
    return r;
  }
  if (img->checksum != img->position.checksum)
    return Error(500,
                 fmt::format("database {} does not match its log (checksum {:016x}, log {:016x})",
                             req.db, img->checksum, img->position.checksum));
  auto file = builder.Finish();
  if (!file.ok()) return Error(500, file.status().message());
  r.content_type = kLogContentType;
  r.body = std::move(file).value();
  return r;
}

SourceResponse Source::WithLimits(const std::string& db, SourceResponse r) const {
  engine::LimitsStore* limits = registry_->limits();
  if (limits != nullptr && (r.status == 200 || r.status == 204))
    r.headers.emplace_back(kHeaderLimits, engine::EncodeLimits(limits->Get(db)));
  return r;
}

SourceResponse Source::Handle(const SourceRequest& req) const {
  switch (req.kind) {
    case SourceRequest::Kind::kChanges:
      return Changes(req);
    case SourceRequest::Kind::kLog:
      return WithLimits(req.db, Log(req));
    case SourceRequest::Kind::kSnapshot:
      return WithLimits(req.db, Snapshot(req));
    case SourceRequest::Kind::kInvalid:
      break;
  }
  return Error(400, req.error);
}

}  // namespace cairn::replication
