#include "libsql_sync/service.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/file.h"
#include "base/json_writer.h"

namespace cairn::libsql_sync {

namespace {

// A client more generations ahead than this is not followed (its number would be taken as ours).
constexpr uint32_t kMaxAheadGenerations = 1000;

SyncAnswer Json(int status, const std::string& body) {
  return SyncAnswer{status, "application/json", body};
}

SyncAnswer ErrorAnswer(int status, std::string_view message) {
  std::string body;
  JsonWriter(&body).BeginObject().Key("error").String(message).EndObject();
  return Json(status, body);
}

// What the client reads as "this generation has no more frames; the newest is `generation`": it
// moves to the next generation when it is behind, and stops when it is at the newest.
SyncAnswer EndOfGeneration(uint32_t generation, uint32_t last_frame, std::string_view message) {
  std::string body;
  JsonWriter(&body)
      .BeginObject()
      .Key("generation")
      .Uint(generation)
      .Key("max_frame_no")
      .Uint(last_frame)
      .Key("message")
      .String(message)
      .EndObject();
  return Json(400, body);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::shared_ptr<SyncService::Slot> SyncService::SlotFor(const std::string& db) {
  std::lock_guard lk(mu_);
  auto it = slots_.find(db);
  if (it != slots_.end()) return it->second;
  if (slots_.size() >= opts_.max_open) {
    // Close the least recently used generations nobody is using (their files stay: a later
    // request loads them again).
    std::vector<std::pair<int64_t, std::string>> idle;
    for (const auto& [name, slot] : slots_)
      if (slot.use_count() == 1) idle.emplace_back(slot->last_used.load(), name);
    std::sort(idle.begin(), idle.end());
    for (size_t i = 0; i < idle.size() && slots_.size() >= opts_.max_open / 2 + 1; ++i)
      slots_.erase(idle[i].second);
  }
  auto slot = std::make_shared<Slot>();
  slots_.emplace(db, slot);
  return slot;
}

Status SyncService::Start(Slot& slot, engine::Database* db, uint32_t generation) {
  // A generation number is never used twice for a database name on this server, even when the
  // database (and its directory, with the generation's files) was deleted and made again — as a
  // replica's re-seed does: a client that held the old one must not read the new one's frames at
  // its position. The last number used is kept outside the database's directory.
  const std::string counter_dir = registry_->data_dir() + "/libsql-sync";
  const std::string counter = counter_dir + "/" + db->name();
  if (Result<std::string> text = ReadWholeFile(counter); text.ok())
    generation = std::max<uint32_t>(
        generation, static_cast<uint32_t>(std::strtoul(text->c_str(), nullptr, 10)) + 1);
  CAIRN_RETURN_IF_ERROR(MakeDirs(counter_dir));
  CAIRN_RETURN_IF_ERROR(WriteFileDurably(counter, std::to_string(generation) + "\n"));
  const std::string dir = registry_->DirOf(db->name()) + "/libsql-sync";
  slot.epoch.reset();
  CAIRN_ASSIGN_OR_RETURN(slot.epoch, Epoch::Create(dir, generation, db));
  stats_.generations++;
  spdlog::info("database {}: embedded replicas' generation {} starts at txid {} ({} pages)",
               db->name(), generation, slot.epoch->last_txid(), slot.epoch->image_frames());
  return Status::Ok();
}

Status SyncService::Prepare(Slot& slot, engine::Database* db) {
  txlog::TxLog* log = db->txlog();
  const std::string dir = registry_->DirOf(db->name()) + "/libsql-sync";
  if (!slot.epoch) {
    auto loaded = Epoch::Load(dir, log);
    if (loaded.ok()) {
      slot.epoch = std::move(loaded).value();
    } else {
      const std::optional<EpochState> prev = ReadEpochState(dir);
      if (prev)
        spdlog::info("database {}: embedded replicas' generation {} ends: {}", db->name(),
                     prev->generation, loaded.status().message());
      return Start(slot, db, prev ? prev->generation + 1 : 1);
    }
  }
  const uint32_t g = slot.epoch->generation();
  if (slot.epoch->lineage() != log->generation()) {
    spdlog::info("database {}: embedded replicas' generation {} ends: the log started anew",
                 db->name(), g);
    return Start(slot, db, g + 1);
  }
  if (Status st = slot.epoch->Extend(log); !st.ok()) {
    spdlog::info("database {}: embedded replicas' generation {} ends: {}", db->name(), g,
                 st.message());
    return Start(slot, db, g + 1);
  }
  if (slot.epoch->delta_frames() > std::max(slot.epoch->image_frames(), opts_.roll_min_frames))
    return Start(slot, db, g + 1);
  return Status::Ok();
}

SyncAnswer SyncService::Handle(const SyncRequest& req, const std::string& name) {
  stats_.requests++;
  if (req.kind == SyncRequest::Kind::kInvalid) return ErrorAnswer(400, req.error);
  if (req.kind == SyncRequest::Kind::kPush)
    return ErrorAnswer(400,
                       "Cairn does not accept frames written by an embedded replica while "
                       "offline (offline: true): open the replica with offline: false, and its "
                       "writes go to the server");
  auto db = registry_->Get(name);
  if (!db.ok())
    return ErrorAnswer(db.status().code() == Code::kNotFound ? 404 : 503, db.status().message());
  auto use = (*db)->TryUse();
  if (!use) return ErrorAnswer(503, "database " + name + " is being closed; retry");
  if ((*db)->txlog() == nullptr)
    return ErrorAnswer(
        501, "database " + name + " keeps no transaction log, which embedded replicas sync from");
  std::shared_ptr<Slot> slot = SlotFor(name);
  slot->last_used = NowMs();
  std::lock_guard lk(slot->mu);
  if (Status st = Prepare(*slot, db->get()); !st.ok()) {
    // libSQL's client takes an /info it cannot use to mean "speak the older protocol" and then
    // fails with a handshake timeout; answered, it reports the error of its next request.
    if (req.kind == SyncRequest::Kind::kInfo && st.code() == Code::kInvalidRequest)
      return Json(200, "{\"current_generation\":1}");
    return ErrorAnswer(st.code() == Code::kInvalidRequest ? 400 : 500,
                       "database " + name + ": " + st.message());
  }
  const Epoch& e = *slot->epoch;
  switch (req.kind) {
    case SyncRequest::Kind::kInfo: {
      std::string body;
      JsonWriter(&body).BeginObject().Key("current_generation").Uint(e.generation()).EndObject();
      return Json(200, body);
    }
    case SyncRequest::Kind::kExport:
      if (req.generation > e.generation())
        return ErrorAnswer(404, fmt::format("generation {} does not exist (the current one is {})",
                                            req.generation, e.generation()));
      // The database itself arrives as the generation's first frames (see protocol.h).
      return SyncAnswer{200, "application/octet-stream", EmptyDatabaseFile()};
    case SyncRequest::Kind::kPull:
      return Pull(req, *slot, db->get());
    default:
      return ErrorAnswer(400, "unexpected request");
  }
}

SyncAnswer SyncService::Pull(const SyncRequest& req, Slot& slot, engine::Database* db) {
  const Epoch& e = *slot.epoch;
  const uint32_t g = e.generation();
  if (req.generation < g)
    return EndOfGeneration(
        g, 0, fmt::format("generation {} has ended; the current one is {}", req.generation, g));
  if (req.generation == g && req.start <= e.last_frame()) {
    Result<std::string> frames = e.Read(req.start, kMaxFramesPerAnswer);
    if (!frames.ok()) return ErrorAnswer(500, frames.status().message());
    stats_.frames += frames->size() / kFrameSize;
    return SyncAnswer{200, "application/octet-stream", std::move(frames).value()};
  }
  if (req.generation == g && req.start == e.last_frame() + 1)
    return EndOfGeneration(g, e.last_frame(), "no frames after " + std::to_string(e.last_frame()));
  // The client holds frames this server never served: it synced from another server, or from
  // this one before a power loss took back transactions. A new generation, numbered after the
  // client's, gives it the whole database.
  if (req.generation > g + kMaxAheadGenerations)
    return ErrorAnswer(400, fmt::format("generation {} is unknown here (the current one is {}); "
                                        "delete the embedded replica's files to start over",
                                        req.generation, g));
  const auto now = std::chrono::steady_clock::now();
  if (now - slot.last_ahead < opts_.ahead_interval)
    return ErrorAnswer(503, "a new generation was started moments ago; retry");
  slot.last_ahead = now;
  spdlog::info(
      "database {}: an embedded replica is ahead (generation {}, frame {}; here {} and {})",
      db->name(), req.generation, req.start, g, e.last_frame());
  if (Status st = Start(slot, db, std::max(g, req.generation) + 1); !st.ok())
    return ErrorAnswer(500, st.message());
  return EndOfGeneration(slot.epoch->generation(), 0, "start over in the next generation");
}

}  // namespace cairn::libsql_sync
