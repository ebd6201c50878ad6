// What metering costs a statement, in CPU (docs/benchmarks.md, "Metering"): the same SQLite work
// with and without exactly what engine::RunPrepared adds for rows_read / rows_written.
//
//   PointSelect/0  bind, step, read the row, reset: a point select by primary key on a reader
//   PointSelect/1  the same with scan status on, rows visited summed and reset, the changes and
//                  written-row counters read before and after, three relaxed atomic adds (the
//                  database's usage counters)
//   Bookkeeping    the bookkeeping part of PointSelect/1 alone
//   Insert/0|1, UpdateIndexed/0|1, UpdateUnindexed/0|1: a row written to a table with two
//                  indexes, without and with the write meter's pre-update hook (write_meter.h)
//
// Run: metering_bench --benchmark_repetitions=15 --benchmark_enable_random_interleaving=true
// (a shared machine: compare the minimum and the median CPU time of the interleaved runs).
//
// Writes run inside one transaction on a temporary file (no commit per row) so that the hook's
// cost is not hidden behind the WAL write a real commit pays.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <unistd.h>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sqlite/connection.h"
#include "sqlite/write_meter.h"

namespace {

constexpr int kRows = 100000;

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql, err ? err : "?");
    std::abort();
  }
}

sqlite3_stmt* Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    std::abort();
  }
  return stmt;
}

// A database file of its own: t(id INTEGER PRIMARY KEY, a, b, c) with indexes on a and b.
struct Fixture {
  std::string path;
  sqlite3* db = nullptr;
  explicit Fixture(bool scanstatus) {
    path = "/tmp/cairn-metering-bench-" + std::to_string(::getpid()) + ".db";
    std::remove(path.c_str());
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) std::abort();
    sqlite3_db_config(db, SQLITE_DBCONFIG_STMT_SCANSTATUS, scanstatus ? 1 : 0, nullptr);
    // As the server reads: through a memory map, hot pages in cache.
    Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA mmap_size=1073741824;");
    Exec(db,
         "CREATE TABLE t(id INTEGER PRIMARY KEY, a INT, b INT, c INT);"
         "CREATE INDEX t_a ON t(a); CREATE INDEX t_b ON t(b);");
    Exec(db,
         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
         "INSERT INTO t SELECT i, i, i, i FROM n");
  }
  ~Fixture() {
    sqlite3_close(db);
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  }
};

struct Usage {
  std::atomic<uint64_t> rows_read{0}, rows_written{0}, statements{0};
};

void PointSelect(benchmark::State& state) {
  const bool metered = state.range(0) != 0;
  Fixture f(metered);
  uint64_t written_counter = 0;  // a reader's: never moves
  Usage usage;
  sqlite3_stmt* stmt = Prepare(f.db, "SELECT a, b, c FROM t WHERE id = ?");
  // Server readers keep their read transaction between statements (docs/architecture.md).
  Exec(f.db, "BEGIN; SELECT count(*) FROM t WHERE id = 1;");
  int64_t id = 1;
  for (auto _ : state) {
    id = id * 48271 % 2147483647;
    sqlite3_bind_int64(stmt, 1, id % kRows + 1);
    int64_t changes_before = 0;
    uint64_t written_before = 0;
    if (metered) {
      changes_before = sqlite3_total_changes64(f.db);
      written_before = written_counter;
    }
    uint64_t rows = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      benchmark::DoNotOptimize(sqlite3_column_int64(stmt, 0) + sqlite3_column_int64(stmt, 2));
      ++rows;
    }
    if (metered) {
      uint64_t read = cairn::sqlite::RowsVisited(stmt);
      if (read == 0) read = rows;
      const uint64_t written = written_counter - written_before;
      benchmark::DoNotOptimize(sqlite3_total_changes64(f.db) - changes_before);
      usage.rows_read.fetch_add(read, std::memory_order_relaxed);
      usage.rows_written.fetch_add(written, std::memory_order_relaxed);
      usage.statements.fetch_add(1, std::memory_order_relaxed);
    }
    sqlite3_reset(stmt);
  }
  Exec(f.db, "COMMIT");
  sqlite3_finalize(stmt);
}

// Only the bookkeeping PointSelect/1 adds after a statement ran (the scan status counters SQLite
// keeps while stepping are in PointSelect/1, not here).
void Bookkeeping(benchmark::State& state) {
  Fixture f(true);
  uint64_t written_counter = 0;
  Usage usage;
  sqlite3_stmt* stmt = Prepare(f.db, "SELECT a, b, c FROM t WHERE id = ?");
  sqlite3_bind_int64(stmt, 1, 42);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
  }
  for (auto _ : state) {
    const int64_t changes_before = sqlite3_total_changes64(f.db);
    const uint64_t written_before = written_counter;
    benchmark::DoNotOptimize(written_before);
    uint64_t read = cairn::sqlite::RowsVisited(stmt);
    if (read == 0) read = 1;
    benchmark::DoNotOptimize(sqlite3_total_changes64(f.db) - changes_before);
    usage.rows_read.fetch_add(read, std::memory_order_relaxed);
    usage.rows_written.fetch_add(written_counter - written_before, std::memory_order_relaxed);
    usage.statements.fetch_add(1, std::memory_order_relaxed);
  }
  sqlite3_reset(stmt);
  sqlite3_finalize(stmt);
}

// One row changed per iteration by `sql` (bound to a pseudo-random id), with or without the hook.
void WriteRows(benchmark::State& state, const char* sql) {
  const bool metered = state.range(0) != 0;
  Fixture f(true);
  uint64_t written = 0;
  if (metered) cairn_meter_row_writes(f.db, &written);
  sqlite3_stmt* stmt = Prepare(f.db, sql);
  Exec(f.db, "BEGIN");
  int64_t id = 1;
  int64_t n = 0;
  for (auto _ : state) {
    id = id * 48271 % 2147483647;
    sqlite3_bind_int64(stmt, 1, id % kRows + 1);
    sqlite3_bind_int64(stmt, 2, ++n);
    if (sqlite3_step(stmt) != SQLITE_DONE) std::abort();
    sqlite3_reset(stmt);
  }
  Exec(f.db, "ROLLBACK");
  sqlite3_finalize(stmt);
  cairn_meter_row_writes(f.db, nullptr);
  state.counters["rows_written/op"] =
      benchmark::Counter(static_cast<double>(written) / static_cast<double>(state.iterations()));
}

void Insert(benchmark::State& state) {
  WriteRows(state, "INSERT INTO t(a, b, c) VALUES (?2, ?2, ?1)");
}
void UpdateIndexed(benchmark::State& state) {
  WriteRows(state, "UPDATE t SET a = ?2 WHERE id = ?1");
}
void UpdateUnindexed(benchmark::State& state) {
  WriteRows(state, "UPDATE t SET c = ?2 WHERE id = ?1");
}

BENCHMARK(PointSelect)->Arg(0)->Arg(1);
BENCHMARK(Bookkeeping);
BENCHMARK(Insert)->Arg(0)->Arg(1);
BENCHMARK(UpdateIndexed)->Arg(0)->Arg(1);
BENCHMARK(UpdateUnindexed)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
