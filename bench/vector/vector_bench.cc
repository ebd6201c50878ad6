// Cairn's side of the vector benchmark (bench/vector/run.sh): builds an index over the base vectors
// in batches, measures size and pages written per single-row insert, then queries.
//
//   vector_bench truth <dir>                      exact cosine top-10 of every query → <dir>/truth.i32
//   vector_bench run <dir> <db> [options] [search_l...]
//       builds <db> from <dir>/base.f32 with `CREATE VIRTUAL TABLE idx USING
//       libsql_vector_index(t, emb, 'metric=cosine', <options>)` and prints one JSON object per
//       search_l with recall@10 and queries/s, plus the exact-scan speed.
//
// Files: base.f32 / queries.f32 are little-endian f32 rows of `dims` (in meta.json, passed as
// the DIMS environment variable), truth.i32 is 10 row numbers (1-based ids) per query.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "vector/distance.h"
#include "vector/vector.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::vector<float> ReadF32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  in.seekg(0, std::ios::end);
  const auto n = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::vector<float> v(n / 4);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql.c_str(), err ? err : "?");
    std::exit(1);
  }
}

int Truth(const std::string& dir, size_t dims) {
  const auto base = ReadF32(dir + "/base.f32"), queries = ReadF32(dir + "/queries.f32");
  const size_t n = base.size() / dims, nq = queries.size() / dims;
  std::vector<float> norms(n);
  for (size_t i = 0; i < n; ++i)
    norms[i] = std::sqrt(cairn::vector::DotF32(&base[i * dims], &base[i * dims], dims));
  std::vector<int32_t> truth;
  for (size_t q = 0; q < nq; ++q) {
    const float* x = &queries[q * dims];
    const float qn = std::sqrt(cairn::vector::DotF32(x, x, dims));
    std::vector<std::pair<float, int32_t>> d(n);
    for (size_t i = 0; i < n; ++i)
      d[i] = {1 - cairn::vector::DotF32(x, &base[i * dims], dims) / (qn * norms[i]),
              static_cast<int32_t>(i + 1)};
    std::partial_sort(d.begin(), d.begin() + 10, d.end());
    for (int j = 0; j < 10; ++j) truth.push_back(d[static_cast<size_t>(j)].second);
  }
  std::ofstream out(dir + "/truth.i32", std::ios::binary);
  out.write(reinterpret_cast<const char*>(truth.data()), static_cast<std::streamsize>(truth.size() * 4));
  std::printf("truth: %zu queries over %zu vectors\n", nq, n);
  return 0;
}

int g_last_frames = 0;
int WalHook(void*, sqlite3*, const char*, int frames) {
  g_last_frames = frames;
  return SQLITE_OK;
}

int Run(const std::string& dir, const std::string& path, const std::string& options,
        const std::vector<int>& search_ls, size_t dims) {
  const auto base = ReadF32(dir + "/base.f32"), queries = ReadF32(dir + "/queries.f32");
  std::vector<int32_t> truth(queries.size() / dims * 10);
  {
    std::ifstream in(dir + "/truth.i32", std::ios::binary);
    in.read(reinterpret_cast<char*>(truth.data()), static_cast<std::streamsize>(truth.size() * 4));
  }
  const size_t n = base.size() / dims, nq = queries.size() / dims;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  cairn::vector::RegisterAutoExtension();
  sqlite3* db = nullptr;
  Check(db, sqlite3_open(path.c_str(), &db), "open");
  Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  Exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, emb F32_BLOB(" + std::to_string(dims) + "))");
  std::string opts = "'metric=cosine'";
  if (!options.empty()) opts += ", " + options;
  Exec(db, "CREATE VIRTUAL TABLE idx USING libsql_vector_index(t, emb, " + opts + ")");

  // Build: batches of 1,000 rows per transaction, index maintained by the triggers.
  sqlite3_stmt* ins = nullptr;
  Check(db, sqlite3_prepare_v2(db, "INSERT INTO t(id, emb) VALUES (?1, ?2)", -1, &ins, nullptr), "prepare");
  const size_t build_rows = n - 100;  // the last 100 rows are inserted one per transaction below
  const auto t0 = Clock::now();
  for (size_t i = 0; i < build_rows; i += 1000) {
    Exec(db, "BEGIN");
    for (size_t j = i; j < std::min(build_rows, i + 1000); ++j) {
      sqlite3_bind_int64(ins, 1, static_cast<int64_t>(j + 1));
      sqlite3_bind_blob(ins, 2, &base[j * dims], static_cast<int>(dims * 4), SQLITE_STATIC);
      Check(db, sqlite3_step(ins), "insert");
      sqlite3_reset(ins);
    }
    Exec(db, "COMMIT");
  }
  const double build_s = Seconds(t0, Clock::now());

  // Pages written by one single-row insert (autocommit): frames its commit appended to the WAL.
  sqlite3_wal_hook(db, WalHook, nullptr);
  std::vector<int> pages;
  for (size_t j = build_rows; j < n; ++j) {
    Exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_bind_int64(ins, 1, static_cast<int64_t>(j + 1));
    sqlite3_bind_blob(ins, 2, &base[j * dims], static_cast<int>(dims * 4), SQLITE_STATIC);
    Check(db, sqlite3_step(ins), "insert");
    sqlite3_reset(ins);
    pages.push_back(g_last_frames);
  }
  sqlite3_finalize(ins);
  std::sort(pages.begin(), pages.end());
  double mean_pages = 0;
  for (int p : pages) mean_pages += p;
  mean_pages /= static_cast<double>(pages.size());
  Exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  const auto db_bytes = std::filesystem::file_size(path);
  sqlite3_close(db);

  // Queries on a fresh connection; the first one loads the graph into the cache.
  Check(db, sqlite3_open(path.c_str(), &db), "reopen");
  Exec(db, "PRAGMA mmap_size=1073741824");  // as every server connection (and the peers here)
  sqlite3_stmt* q = nullptr;
  Check(db, sqlite3_prepare_v2(db, "SELECT id FROM vector_top_k('idx', ?1, 10, ?2)", -1, &q, nullptr),
        "prepare top_k");
  auto query_all = [&](int l, std::vector<std::vector<int64_t>>* answers) {
    answers->assign(nq, {});
    const auto a = Clock::now();
    for (size_t i = 0; i < nq; ++i) {
      sqlite3_bind_blob(q, 1, &queries[i * dims], static_cast<int>(dims * 4), SQLITE_STATIC);
      sqlite3_bind_int(q, 2, l);
      while (sqlite3_step(q) == SQLITE_ROW) (*answers)[i].push_back(sqlite3_column_int64(q, 0));
      sqlite3_reset(q);
    }
    return Seconds(a, Clock::now());
  };
  std::vector<std::vector<int64_t>> warm;
  const auto c0 = Clock::now();
  sqlite3_bind_blob(q, 1, &queries[0], static_cast<int>(dims * 4), SQLITE_STATIC);
  sqlite3_bind_int(q, 2, 10);
  while (sqlite3_step(q) == SQLITE_ROW) {
  }
  sqlite3_reset(q);
  const double cold_ms = Seconds(c0, Clock::now()) * 1000;
  for (int l : search_ls) {
    std::vector<std::vector<int64_t>> a1, a2;
    const double s1 = query_all(l, &a1);
    const double s2 = query_all(l, &a2);
    size_t hit = 0, differ = 0;
    for (size_t i = 0; i < nq; ++i) {
      std::set<int64_t> got(a1[i].begin(), a1[i].end());
      for (int j = 0; j < 10; ++j) hit += got.count(truth[i * 10 + static_cast<size_t>(j)]);
      differ += a1[i] != a2[i];
    }
    std::printf("{\"engine\":\"cairn\",\"options\":\"%s\",\"search_l\":%d,\"rows\":%zu,"
                "\"build_s\":%.2f,\"db_mb\":%.1f,\"pages_per_insert_median\":%d,"
                "\"pages_per_insert_mean\":%.1f,\"recall10\":%.4f,\"qps\":%.0f,"
                "\"p50_ms\":%.3f,\"answers_differing_between_passes\":%zu,\"cold_first_query_ms\":%.0f}\n",
                options.c_str(), l, n, build_s, static_cast<double>(db_bytes) / 1e6,
                pages[pages.size() / 2], mean_pages, static_cast<double>(hit) / (nq * 10.0),
                static_cast<double>(nq) / std::min(s1, s2), std::min(s1, s2) / nq * 1000, differ,
                cold_ms);
    std::fflush(stdout);
  }
  sqlite3_finalize(q);

  // Exact mode: brute force with the SIMD distance, no index.
  sqlite3_stmt* e = nullptr;
  Check(db, sqlite3_prepare_v2(db, "SELECT id FROM t ORDER BY vector_distance_cos(emb, ?1) LIMIT 10", -1, &e,
                               nullptr), "prepare exact");
  const size_t exact_q = std::min<size_t>(nq, 100);
  size_t exact_hit = 0;
  const auto x0 = Clock::now();
  for (size_t i = 0; i < exact_q; ++i) {
    sqlite3_bind_blob(e, 1, &queries[i * dims], static_cast<int>(dims * 4), SQLITE_STATIC);
    std::set<int64_t> got;
    while (sqlite3_step(e) == SQLITE_ROW) got.insert(sqlite3_column_int64(e, 0));
    sqlite3_reset(e);
    for (int j = 0; j < 10; ++j) exact_hit += got.count(truth[i * 10 + static_cast<size_t>(j)]);
  }
  const double exact_s = Seconds(x0, Clock::now());
  std::printf("{\"engine\":\"cairn-exact-orderby\",\"rows\":%zu,\"recall10\":%.4f,\"qps\":%.1f}\n", n,
              static_cast<double>(exact_hit) / (exact_q * 10.0), static_cast<double>(exact_q) / exact_s);
  sqlite3_finalize(e);

  // Exact mode through vector_top_k_exact (a scan with SIMD distances and a bounded heap).
  Check(db, sqlite3_prepare_v2(db, "SELECT id FROM vector_top_k_exact('t', 'emb', ?1, 10)", -1, &e, nullptr),
        "prepare exact tvf");
  exact_hit = 0;
  const auto y0 = Clock::now();
  for (size_t i = 0; i < exact_q; ++i) {
    sqlite3_bind_blob(e, 1, &queries[i * dims], static_cast<int>(dims * 4), SQLITE_STATIC);
    std::set<int64_t> got;
    while (sqlite3_step(e) == SQLITE_ROW) got.insert(sqlite3_column_int64(e, 0));
    sqlite3_reset(e);
    for (int j = 0; j < 10; ++j) exact_hit += got.count(truth[i * 10 + static_cast<size_t>(j)]);
  }
  const double tvf_s = Seconds(y0, Clock::now());
  std::printf("{\"engine\":\"cairn-exact-tvf\",\"rows\":%zu,\"recall10\":%.4f,\"qps\":%.1f}\n", n,
              static_cast<double>(exact_hit) / (exact_q * 10.0), static_cast<double>(exact_q) / tvf_s);
  sqlite3_finalize(e);
  sqlite3_close(db);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* dims_env = std::getenv("DIMS");
  const size_t dims = dims_env ? static_cast<size_t>(std::atoi(dims_env)) : 100;
  if (argc >= 3 && std::strcmp(argv[1], "truth") == 0) return Truth(argv[2], dims);
  if (argc >= 4 && std::strcmp(argv[1], "run") == 0) {
    const std::string options = argc >= 5 ? argv[4] : "";
    std::vector<int> ls;
    for (int i = 5; i < argc; ++i) ls.push_back(std::atoi(argv[i]));
    if (ls.empty()) ls = {64};
    return Run(argv[2], argv[3], options, ls, dims);
  }
  std::fprintf(stderr, "usage: vector_bench truth <dir> | run <dir> <db> [options] [search_l...]\n");
  return 2;
}
