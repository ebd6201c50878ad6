// Per-database limits: what one tenant's database may use, set when it is created and changeable
// while it is open (docs/limits.md).
//
//   DatabaseLimits  the settings themselves; every numeric one is optional (unset: the server's
//                   flag applies). Encoded as the JSON object of the admin API's
//                   /v1/namespaces/:ns/config, which is also the file `limits.json` in the
//                   database's directory.
//   LiveLimits      the settings one database enforces now, shared by the store that changes them
//                   and every open handle of the database, which reads them on each statement.
//   LimitsStore     every database's LiveLimits, loaded lazily from its `limits.json` and written
//                   back durably (temporary file, fsync, rename) before a change takes effect.
//
// Enforcement: max_db_size becomes the writer's `PRAGMA max_page_count` (a write that needs a page
// beyond it fails with SQLITE_FULL, which hrana reports as BLOCKED; reads keep working);
// statement_timeout and block_reads/block_writes are read by Session on every statement;
// max_response_bytes and max_concurrent_streams by hrana when a request or a stream starts.
//
// Thread-safety: DatabaseLimits is a value; LiveLimits and LimitsStore are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"
#include "sqlite/connection.h"

namespace cairn::engine {

struct DatabaseLimits {
  // Largest size of the database file in bytes (page_count × page_size; the WAL and the
  // transaction log are not counted). sqld's field.
  std::optional<uint64_t> max_db_size;
  // sqld's fields: every statement but COMMIT/ROLLBACK fails with BLOCKED (block_reads), or every
  // write does (block_writes); block_reason is added to the error message.
  bool block_reads = false;
  bool block_writes = false;
  std::string block_reason;
  // Overrides of serve flags for this database.
  std::optional<std::chrono::milliseconds> statement_timeout;  // --statement-timeout-ms
  std::optional<uint64_t> max_response_bytes;                  // --max-response-bytes
  // Streams (interactive transactions, or single requests) open at once on this database.
  std::optional<uint64_t> max_concurrent_streams;
  // Synchronous replication (docs/replication.md): a commit is acknowledged only once this many
  // replicas have applied it, waiting at most sync_timeout_ms (default 5000) — else the client
  // gets UNAVAILABLE (the transaction is committed on the primary, but not yet elsewhere).
  std::optional<uint64_t> sync_replicas;
  std::optional<uint64_t> sync_timeout_ms;
  // And/or: a commit is acknowledged only once the object store of the backups has it (uploaded),
  // within the same timeout.
  bool sync_backup = false;

  bool operator==(const DatabaseLimits&) const = default;
  bool empty() const { return *this == DatabaseLimits{}; }
};

// Bounds on the values (anything outside is refused with kInvalidRequest).
inline constexpr uint64_t kMaxStatementTimeoutMs = 24ull * 3600 * 1000;

// The JSON object of the admin API and of limits.json: every field, null when unset.
std::string EncodeLimits(const DatabaseLimits& limits);

// Applies a JSON object of fields to `*limits`: a field present sets it, `null` unsets it (back to
// the server's flag), a field absent keeps its value. Fields named in `also_allowed` are skipped
// (the caller reads them); any other unknown field, a value of the wrong type or out of range
// fails with kInvalidRequest naming it, and then `*limits` is unchanged. An empty or blank body is
// an empty object. max_db_size takes a number of bytes or a string with a unit ("10mb", "1 GiB";
// kb/mb/gb/tb are powers of 1000, kib/mib/gib/tib of 1024).
Status ApplyLimitsJson(std::string_view json, DatabaseLimits* limits,
                       std::initializer_list<std::string_view> also_allowed = {});

// Parses a size: a whole number of bytes, optionally followed by a unit (see ApplyLimitsJson).
Result<uint64_t> ParseByteSize(std::string_view text);

class LiveLimits {
 public:
  explicit LiveLimits(DatabaseLimits initial = {}) { Set(std::move(initial)); }

  void Set(DatabaseLimits limits);
  DatabaseLimits Get() const;
  // Bumped by every Set: an open handle compares it to apply max_db_size to its writer once.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // The hot path: lock-free reads.
  std::chrono::milliseconds statement_timeout(std::chrono::milliseconds fallback) const {
    const int64_t ms = timeout_ms_.load(std::memory_order_relaxed);
    return ms > 0 ? std::chrono::milliseconds(ms) : fallback;
  }
  // 0: the server's --max-response-bytes.
  uint64_t max_response_bytes() const { return response_bytes_.load(std::memory_order_relaxed); }
  bool reads_blocked() const { return block_reads_.load(std::memory_order_relaxed); }
  // 0: asynchronous replication.
  uint64_t sync_replicas() const { return sync_replicas_.load(std::memory_order_relaxed); }
  bool sync_backup() const { return sync_backup_.load(std::memory_order_relaxed); }
  std::chrono::milliseconds sync_timeout() const {
    return std::chrono::milliseconds(sync_timeout_ms_.load(std::memory_order_relaxed));
  }
  bool writes_blocked() const { return block_writes_.load(std::memory_order_relaxed); }
  // kBlocked naming the database and the reason ("reads" or "writes" are blocked).
  Status Blocked(std::string_view db, std::string_view what) const;

  // One open stream's place in the database's count of open streams: taken when the stream
  // starts, given back when the slot is destroyed (with the stream).
  class StreamSlot {
   public:
    StreamSlot() = default;
    StreamSlot(StreamSlot&& o) noexcept : owner_(std::move(o.owner_)) {}
    StreamSlot& operator=(StreamSlot&& o) noexcept {
      if (this != &o) {
        Release();
        owner_ = std::move(o.owner_);
      }
      return *this;
    }
    ~StreamSlot() { Release(); }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    friend class LiveLimits;
    explicit StreamSlot(std::shared_ptr<LiveLimits> owner) : owner_(std::move(owner)) {}
    void Release() {
      if (owner_) owner_->open_streams_.fetch_sub(1, std::memory_order_acq_rel);
      owner_.reset();
    }
    std::shared_ptr<LiveLimits> owner_;
  };
  // A slot for a new stream on database `db`; kTooManyStreams when max_concurrent_streams
  // streams are open already.
  static Result<StreamSlot> TakeStreamSlot(const std::shared_ptr<LiveLimits>& limits,
                                           std::string_view db);
  uint64_t open_streams() const { return open_streams_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  DatabaseLimits limits_;  // guarded by mu_
  std::atomic<uint64_t> version_{0};
  std::atomic<int64_t> timeout_ms_{0};
  std::atomic<bool> block_reads_{false}, block_writes_{false};
  std::atomic<uint64_t> response_bytes_{0};  // 0: none
  std::atomic<uint64_t> max_streams_{0};     // 0: none
  std::atomic<uint64_t> sync_replicas_{0};
  std::atomic<bool> sync_backup_{false};
  std::atomic<uint64_t> sync_timeout_ms_{5000};
  std::atomic<uint64_t> open_streams_{0};
};

// The writer's max_page_count for a size limit (at least 1; unset: SQLite's maximum).
uint32_t MaxPagesFor(const std::optional<uint64_t>& max_db_size, uint32_t page_size);
// Sets the writer's max_page_count for `max_db_size` (SQLite keeps it at least the current page
// count: a database already past a new limit keeps its pages but gets no new ones).
Status ApplySizeLimit(sqlite::Connection* writer, const std::optional<uint64_t>& max_db_size);

class LimitsStore {
 public:
  // `dir_of(name)` is the database's directory (Registry::DirOf).
  explicit LimitsStore(std::function<std::string(std::string_view)> dir_of)
      : dir_of_(std::move(dir_of)) {}

  static constexpr std::string_view kFileName = "limits.json";

  // The live limits of `name`, loaded from its file on first use (a missing file: no limits). A
  // file that cannot be read or parsed blocks the database (block_reads, with the problem as the
  // reason) rather than opening it with limits it cannot know; setting limits again repairs it.
  std::shared_ptr<LiveLimits> For(std::string_view name);
  // The limits `name` has now (loaded as For does).
  DatabaseLimits Get(std::string_view name) { return For(name)->Get(); }
  // Writes `limits` durably to the database's directory, then makes them live. Nothing changes
  // when writing fails.
  Status Set(std::string_view name, const DatabaseLimits& limits);
  // Forgets a database (deleted; its file went with its directory).
  void Forget(std::string_view name);
  // Called with a database's name after every successful Set (outside the store's lock): a
  // primary tells its replicas (the change feed), which copy the limits with the data.
  void SetOnChange(std::function<void(const std::string&)> on_change);

 private:
  std::shared_ptr<LiveLimits> LoadLocked(const std::string& name);
  Status SetLocked(const std::string& key, const DatabaseLimits& limits);
  const std::function<std::string(std::string_view)> dir_of_;
  std::mutex mu_;  // serializes loads and writes
  std::unordered_map<std::string, std::shared_ptr<LiveLimits>> live_;  // guarded by mu_
  std::function<void(const std::string&)> on_change_;                  // guarded by mu_
};

}  // namespace cairn::engine
