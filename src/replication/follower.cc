#include "replication/follower.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "backup/restore.h"
#include "base/file.h"
#include "engine/limits.h"
#include "replication/source.h"
#include "txlog/checksum.h"
#include "txlog/format.h"

namespace cairn::replication {

namespace {

constexpr char kPositionFile[] = "/replica-position";
constexpr size_t kLagWindow = 4096;

std::string PositionText(const std::string& gen, txlog::Position pos) {
  return fmt::format("{} {} {:016x}\n", gen, pos.txid, pos.checksum);
}

bool ParsePosition(const std::string& text, std::string* gen, txlog::Position* pos) {
  char g[64] = {0};
  unsigned long long txid = 0, sum = 0;
  if (std::sscanf(text.c_str(), "%63s %llu %llx", g, &txid, &sum) != 3) return false;
  *gen = g;
  pos->txid = txid;
  pos->checksum = sum;
  return true;
}

uint64_t ParseU64(const std::string& s) {
  try {
    return s.empty() ? 0 : std::stoull(s);
  } catch (...) {
    return 0;
  }
}

// Writes a snapshot's image as a database file at `path` (a new replica's first copy).
Status WriteImage(const std::string& path, std::string_view snapshot) {
  CAIRN_ASSIGN_OR_RETURN(auto reader, txlog::FileReader::Open(snapshot));
  if (!reader->header().snapshot())
    return Status(Code::kCorruption, "the primary sent no snapshot");
  txlog::RecordHeader h;
  CAIRN_ASSIGN_OR_RETURN(bool has, reader->NextRecord(&h));
  if (!has) return Status(Code::kCorruption, "empty snapshot");
  const uint32_t ps = reader->header().page_size;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status(Code::kIOError, "cannot create " + path + ": " + std::strerror(errno));
  txlog::PageChecksums sums;
  Status st = [&]() -> Status {
    for (uint32_t i = 0; i < h.n_pages; ++i) {
      uint32_t pgno;
      std::string_view data;
      CAIRN_RETURN_IF_ERROR(reader->NextPage(&pgno, &data));
      sums.SetPage(pgno, data.data(), ps);
      const off_t off = static_cast<off_t>(pgno - 1) * ps;
      if (::pwrite(fd, data.data(), data.size(), off) != static_cast<ssize_t>(data.size()))
        return Status(Code::kIOError, "cannot write " + path + ": " + std::strerror(errno));
    }
    sums.Resize(h.page_count);
    if (sums.checksum() != h.post_checksum)
      return Status(Code::kCorruption, "the snapshot does not match its checksum");
    if (::ftruncate(fd, static_cast<off_t>(h.page_count) * ps) != 0 || ::fsync(fd) != 0)
      return Status(Code::kIOError, "cannot write " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }();
  ::close(fd);
  return st;
}

}  // namespace

struct Follower::Tracked {
  std::string name;
  std::shared_ptr<engine::Database> db;
  engine::Database::Use use;
  std::unique_ptr<Applier> applier;  // null until the database has a known position
  std::string generation;
  int64_t last_change_us = 0;
  // The database is not where its position file says (it applied transactions it had not yet
  // recorded when the process died): the log after `recover_after` tells where it is.
  bool recovering = false;
  uint64_t recover_after = 0;
};

Follower::Follower(engine::Registry* registry, FollowerOptions opts)
    : registry_(registry), opts_(std::move(opts)), id_([] {
        std::random_device rd;
        return fmt::format("{:08x}{:08x}", rd(), rd());
      }()) {
  lags_ms_.reserve(kLagWindow);
}

Follower::~Follower() { Stop(); }

void Follower::Start() {
  client_ = std::make_unique<HttpClient>(opts_.primary_url, opts_.auth_key);
  if (!opts_.seed_store_url.empty() && !seed_store_) {
    auto store = objectstore::Open(opts_.seed_store_url);
    if (store.ok()) {
      seed_store_ = std::move(store).value();
    } else {
      spdlog::warn(
          "replica: cannot open the seed store {} ({}); new databases are copied from the "
          "primary",
          opts_.seed_store_url, store.status().message());
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

void Follower::Stop() {
  stop_ = true;
  if (client_) client_->Abort();  // not waiting for a primary that does not answer
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(sync_mu_);
  tracked_.clear();
}

void Follower::Loop() {
  std::string epoch;
  uint64_t seq = 0;
  bool logged_down = false;
  while (!stop_) {
    // Short polls while stopping matters more than latency would be wasteful; the poll is held by
    // the primary only while nothing changes, so a change answers it at once.
    const auto wait =
        std::min<std::chrono::milliseconds>(opts_.poll_wait, std::chrono::milliseconds(1000));
    auto answer = client_->Get(fmt::format("/v1/replication/changes?epoch={}&after={}&wait_ms={}",
                                           epoch, seq, wait.count()),
                               wait + std::chrono::seconds(10));
    if (!answer.ok() || answer->status != 200) {
      connected_ = false;
      if (!logged_down) {
        spdlog::warn("replica: cannot follow the primary at {}: {}", opts_.primary_url,
                     answer.ok() ? fmt::format("HTTP {} {}", answer->status, answer->body)
                                 : answer.status().message());
        logged_down = true;
      }
      std::this_thread::sleep_for(opts_.retry);
      continue;
    }
    if (logged_down) spdlog::info("replica: following the primary at {}", opts_.primary_url);
    logged_down = false;
    connected_ = true;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(answer->body).get(doc) != simdjson::SUCCESS) {
      spdlog::warn("replica: the primary's change feed sent malformed JSON");
      std::this_thread::sleep_for(opts_.retry);
      continue;
    }
    std::string_view new_epoch;
    uint64_t new_seq = 0;
    bool full = false;
    simdjson::dom::array dbs;
    if (doc["epoch"].get(new_epoch) || doc["seq"].get(new_seq) || doc["full"].get(full) ||
        doc["databases"].get(dbs)) {
      spdlog::warn("replica: the primary's change feed sent an unexpected answer");
      std::this_thread::sleep_for(opts_.retry);
      continue;
    }
    std::vector<std::string> names;
    for (auto e : dbs) {
      std::string_view n;
      if (!e.get(n)) names.emplace_back(n);
    }
    if (full) {
      // Databases here that the primary no longer has are deleted.
      std::unordered_map<std::string, bool> there;
      for (const auto& n : names) there[n] = true;
      for (const std::string& local : registry_->List())
        if (!there.count(local)) names.push_back(local);
    }
    bool all_ok = true;
    for (const std::string& n : names) {
      if (stop_) break;
      std::lock_guard lk(sync_mu_);
      Status st = SyncWith(client_.get(), n);
      if (!st.ok()) {
        all_ok = false;
        spdlog::warn("replica: database {}: {}", n, st.message());
      }
    }
    if (all_ok) {
      epoch = std::string(new_epoch);
      seq = new_seq;
    } else {
      std::this_thread::sleep_for(opts_.retry);  // the same changes are asked again
    }
    std::lock_guard lk(sync_mu_);
    UntrackIdle();
  }
}

Status Follower::Sync(const std::string& db) {
  std::lock_guard lk(sync_mu_);
  HttpClient client(opts_.primary_url, opts_.auth_key);
  return SyncWith(&client, db);
}

Result<Follower::Tracked*> Follower::Track(const std::string& db) {
  auto it = tracked_.find(db);
  if (it != tracked_.end() && it->second->use && !it->second->db->closed()) return it->second.get();
  if (it != tracked_.end()) tracked_.erase(it);
  if (!registry_->Exists(db)) return static_cast<Tracked*>(nullptr);
  auto t = std::make_unique<Tracked>();
  t->name = db;
  CAIRN_ASSIGN_OR_RETURN(t->db, registry_->Get(db));
  t->use = t->db->TryUse();
  if (!t->use) return Status(Code::kUnavailable, "database " + db + " is being closed");
  t->last_change_us = opts_.clock->MonotonicMicros();
  auto text = ReadWholeFile(registry_->DirOf(db) + kPositionFile);
  std::string gen;
  txlog::Position pos;
  if (text.ok() && ParsePosition(*text, &gen, &pos)) {
    Status st = t->db->WithReplicaWriter([&](sqlite::Connection* conn) -> Status {
      auto a = Applier::Open(conn, pos);
      if (a.ok()) {
        t->applier = std::move(a).value();
        return Status::Ok();
      }
      auto r = Applier::OpenForReseed(conn);
      if (!r.ok()) return r.TakeStatus();
      t->applier = std::move(r).value();
      t->recovering = true;
      t->recover_after = pos.txid;
      return a.TakeStatus();
    });
    t->generation = gen;
    if (!st.ok() && t->recovering) {
      spdlog::info("replica: database {} is past its recorded position ({}); finding it in the log",
                   db, st.message());
    } else if (!st.ok()) {
      spdlog::warn("replica: database {} cannot be read ({}); it is re-seeded", db, st.message());
    }
  }
  Tracked* raw = t.get();
  tracked_[db] = std::move(t);
  if (raw->applier) Publish(*raw, raw->applier->position().txid);
  return raw;
}

void Follower::Untrack(const std::string& db) { tracked_.erase(db); }

void Follower::UntrackIdle() {
  const int64_t now = opts_.clock->MonotonicMicros();
  const int64_t limit =
      std::chrono::duration_cast<std::chrono::microseconds>(opts_.untrack_after).count();
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (now - it->second->last_change_us > limit) {
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
}

Status Follower::SavePosition(const Tracked& t) {
  // A hint: on start the file is checked against it, and a mismatch only costs a snapshot.
  return WriteFileAtomic(registry_->DirOf(t.name) + kPositionFile,
                         PositionText(t.generation, t.applier->position()));
}

void Follower::Publish(const Tracked& t, uint64_t primary_txid) {
  if (t.applier) t.db->SetReplicationIndex(t.applier->position().txid);
  {
    std::lock_guard lk(mu_);
    FollowedDatabase& f = status_[t.name];
    f.name = t.name;
    f.generation = t.generation;
    if (t.applier) f.position = t.applier->position();
    f.primary_txid = std::max(primary_txid, f.position.txid);
  }
  applied_cv_.notify_all();
}

Status Follower::ApplyLog(Tracked* t, const std::string& file) {
  CAIRN_ASSIGN_OR_RETURN(auto reader, txlog::FileReader::Open(file));
  txlog::Record r;
  uint64_t applied = 0;
  int64_t last_commit = 0;
  for (;;) {
    CAIRN_ASSIGN_OR_RETURN(bool more, reader->ReadRecord(&r));
    if (!more) break;
    if (t->recovering) {
      // Already applied (before the crash) up to the record whose result is the file's checksum.
      if (r.h.post_checksum == t->applier->checksum() &&
          t->applier->Resume({r.h.txid, r.h.post_checksum}).ok()) {
        t->recovering = false;
        spdlog::info("replica: database {} resumes after txid {}", t->name, r.h.txid);
        applied++;  // the position moved: record it
      }
      continue;
    }
    CAIRN_RETURN_IF_ERROR(
        t->db->WithReplicaWriter([&](sqlite::Connection*) { return t->applier->Apply(r); }));
    t->db->SetReplicationIndex(t->applier->position().txid);
    const int64_t now = opts_.clock->WallMicros();
    {
      std::lock_guard lk(mu_);
      const float lag =
          static_cast<float>(std::max<int64_t>(0, now - r.h.commit_time_us)) / 1000.0f;
      if (lags_ms_.size() < kLagWindow) {
        lags_ms_.push_back(lag);
      } else {
        lags_ms_[lag_next_] = lag;
      }
      lag_next_ = (lag_next_ + 1) % kLagWindow;
      FollowedDatabase& f = status_[t->name];
      f.transactions++;
      f.last_commit_us = r.h.commit_time_us;
      f.applied_at_us = now;
    }
    applied++;
    last_commit = r.h.commit_time_us;
  }
  (void)last_commit;
  if (applied > 0) CAIRN_RETURN_IF_ERROR(SavePosition(*t));
  if (t->recovering)
    return Status(Code::kCorruption, "the replica's state is not in the primary's log");
  return Status::Ok();
}

Result<Follower::Tracked*> Follower::Replace(const std::string& db, const Filler& fill,
                                             const std::string& generation, txlog::Position* pos) {
  // A new file, opened fresh: readers of the old copy fail and retry.
  Untrack(db);
  if (registry_->Exists(db)) CAIRN_RETURN_IF_ERROR(registry_->Delete(db));
  CAIRN_RETURN_IF_ERROR(fill ? registry_->CreateFrom(db, fill) : registry_->Create(db));
  CAIRN_RETURN_IF_ERROR(
      WriteFileAtomic(registry_->DirOf(db) + kPositionFile, PositionText(generation, *pos)));
  // Track checks the file against the position.
  CAIRN_ASSIGN_OR_RETURN(Tracked * t, Track(db));
  if (t == nullptr || !t->applier)
    return Status(Code::kCorruption, "the new copy of " + db + " does not match its position (" +
                                         generation + " txid " + std::to_string(pos->txid) + ")");
  return t;
}

Status Follower::SeedFromStore(const std::string& db, const std::string& generation) {
  const int64_t t0 = opts_.clock->MonotonicMicros();
  backup::RestoreTarget target;
  target.generation = generation;
  CAIRN_ASSIGN_OR_RETURN(backup::RestorePlan plan,
                         backup::PlanRestore(seed_store_.get(), db, target));
  backup::RestoreResult restored;
  txlog::Position pos;
  auto restore = [&](const std::string& path) -> Status {
    backup::RestoreOptions ro;
    ro.integrity_check = false;  // every transaction's checksum is checked instead
    CAIRN_ASSIGN_OR_RETURN(restored, backup::Restore(seed_store_.get(), plan, path, ro));
    pos = restored.position;
    return Status::Ok();
  };
  CAIRN_RETURN_IF_ERROR(Replace(db, restore, generation, &pos).status());
  {
    std::lock_guard lk(mu_);
    status_[db].snapshots++;
  }
  spdlog::info(
      "replica: database {} restored from {} at txid {} (generation {}): {:.1f} MB in "
      "{:.2f} s",
      db, seed_store_->Describe(), restored.position.txid, generation,
      static_cast<double>(restored.downloaded_bytes) / 1e6,
      (opts_.clock->MonotonicMicros() - t0) / 1e6);
  return Status::Ok();
}

Status Follower::Bootstrap(HttpClient* client, const std::string& db,
                           const std::string& primary_generation) {
  if (seed_store_ && !primary_generation.empty()) {
    Status st = SeedFromStore(db, primary_generation);
    if (st.ok()) return st;
    spdlog::info("replica: database {} is copied from the primary ({})", db, st.message());
  }
  const int64_t t0 = opts_.clock->MonotonicMicros();
  CAIRN_ASSIGN_OR_RETURN(HttpAnswer a,
                         client->Get("/v1/replication/snapshot/" + db, std::chrono::minutes(10)));
  const int64_t t1 = opts_.clock->MonotonicMicros();
  if (a.status == 404) {
    Untrack(db);
    if (registry_->Exists(db)) CAIRN_RETURN_IF_ERROR(registry_->Delete(db));
    return Status::Ok();
  }
  if (a.status != 200)
    return Status(Code::kUnavailable,
                  fmt::format("snapshot of {}: HTTP {} {}", db, a.status, a.body));
  const std::string gen = a.Header(kHeaderGeneration);
  const uint64_t txid = ParseU64(a.Header(kHeaderTxid));
  const bool fresh = a.Header(kHeaderFresh) == "1";
  const std::string limits = a.Header(kHeaderLimits);
  if (gen.empty())
    return Status(Code::kUnavailable, "snapshot of " + db + " came without its generation");
  txlog::Position pos{txid, 0};
  if (!fresh) {
    auto header = txlog::FileReader::ReadHeader(a.body);
    if (!header.ok()) return header.TakeStatus();
    pos = header->end();
  }
  auto write = [&](const std::string& path) { return WriteImage(path, a.body); };
  CAIRN_RETURN_IF_ERROR(Replace(db, fresh ? nullptr : Filler(write), gen, &pos).status());
  const int64_t t2 = opts_.clock->MonotonicMicros();
  {
    std::lock_guard lk(mu_);
    status_[db].snapshots++;
  }
  CopyLimits(db, limits);
  spdlog::info(
      "replica: database {} copied from the primary at txid {} (generation {}): {:.1f} MB, "
      "{:.2f} s to fetch, {:.2f} s to write and check",
      db, pos.txid, gen, static_cast<double>(a.body.size()) / 1e6, (t1 - t0) / 1e6,
      (t2 - t1) / 1e6);
  return Status::Ok();
}

Status Follower::SyncWith(HttpClient* client, const std::string& db) {
  CAIRN_RETURN_IF_ERROR(engine::Registry::ValidateName(db));
  bool seeded_from_store = false;
  for (int round = 0; round < 100000 && !stop_; ++round) {
    CAIRN_ASSIGN_OR_RETURN(Tracked * t, Track(db));
    const bool recovering = t != nullptr && t->recovering;
    const bool known =
        t != nullptr && t->applier != nullptr && (recovering || t->generation.size() > 0);
    const std::string gen = known ? t->generation : std::string();
    const uint64_t after = recovering ? t->recover_after : known ? t->applier->position().txid : 0;
    CAIRN_ASSIGN_OR_RETURN(
        HttpAnswer a,
        client->Get(fmt::format("/v1/replication/log/{}?generation={}&after={}&replica={}", db, gen,
                                after, id_),
                    std::chrono::seconds(60)));
    const uint64_t primary_txid = ParseU64(a.Header(kHeaderTxid));
    if (a.status == 404) {
      Untrack(db);
      {
        std::lock_guard lk(mu_);
        status_.erase(db);
      }
      if (registry_->Exists(db)) {
        spdlog::info("replica: database {} was deleted on the primary", db);
        return registry_->Delete(db);
      }
      return Status::Ok();
    }
    if (a.status == 409 || (!known && a.status == 204 && primary_txid > 0) ||
        (recovering && a.status == 204)) {
      // The seed store once per database and call: if what it restored is not in the primary's
      // log any more, the primary's snapshot.
      const bool store_first = !seeded_from_store;
      seeded_from_store = true;
      CAIRN_RETURN_IF_ERROR(
          Bootstrap(client, db, store_first ? a.Header(kHeaderGeneration) : std::string()));
      continue;
    }
    if (a.status == 204 || a.status == 200) {
      if (!known) {
        // The primary's history starts at txid 0 (an empty database): so does ours.
        const std::string pgen = a.Header(kHeaderGeneration);
        if (pgen.empty())
          return Status(Code::kUnavailable, "the primary sent no generation for " + db);
        txlog::Position empty{0, 0};
        CAIRN_ASSIGN_OR_RETURN(t, Replace(db, nullptr, pgen, &empty));
      }
      t->last_change_us = opts_.clock->MonotonicMicros();
      CopyLimits(db, a.Header(kHeaderLimits));
      if (a.status == 204) {
        Publish(*t, primary_txid);
        return Status::Ok();
      }
      Status st = ApplyLog(t, a.body);
      Publish(*t, primary_txid);
      if (st.code() == Code::kCorruption) {
        spdlog::warn("replica: database {} diverged from the primary ({}); it is re-seeded", db,
                     st.message());
        CAIRN_RETURN_IF_ERROR(Bootstrap(client, db));
        continue;
      }
      CAIRN_RETURN_IF_ERROR(st);
      continue;  // the next request acknowledges what was applied (synchronous replication)
    }
    return Status(Code::kUnavailable, fmt::format("log of {}: HTTP {} {}", db, a.status, a.body));
  }
  return Status::Ok();
}

void Follower::CopyLimits(const std::string& db, const std::string& json) {
  engine::LimitsStore* store = registry_->limits();
  if (store == nullptr || json.empty()) return;  // a primary that does not send them
  engine::DatabaseLimits limits;
  Status st = engine::ApplyLimitsJson(json, &limits);
  if (st.ok() && limits == store->Get(db)) return;
  if (st.ok()) st = store->Set(db, limits);
  if (!st.ok()) spdlog::warn("replica: cannot copy the limits of {}: {}", db, st.message());
}

bool Follower::WaitFor(const std::string& db, uint64_t txid, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return applied_cv_.wait_for(lk, timeout, [&] {
    auto it = status_.find(db);
    return it != status_.end() && it->second.position.txid >= txid;
  });
}

FollowedDatabase Follower::Position(const std::string& db) const {
  std::lock_guard lk(mu_);
  auto it = status_.find(db);
  if (it == status_.end()) return FollowedDatabase{db, {}, {}, 0, 0, 0, 0, 0};
  return it->second;
}

std::vector<FollowedDatabase> Follower::Databases() const {
  std::vector<FollowedDatabase> out;
  std::lock_guard lk(mu_);
  for (const auto& [n, f] : status_) out.push_back(f);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::pair<double, double> Follower::LagMillis() const {
  std::vector<float> v;
  {
    std::lock_guard lk(mu_);
    v = lags_ms_;
  }
  if (v.empty()) return {0, 0};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]);
  };
  return {at(0.5), at(0.99)};
}

}  // namespace cairn::replication
