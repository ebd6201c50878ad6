// The peers' side of the vector benchmark, on the same files as vector_bench: libSQL's own
// vector_top_k (npm libsql 0.5.29) and sqlite-vec 0.1.9's exact scan. Prints one JSON line.
//
//   node peers.mjs libsql <data-dir> <db> ["'compress_neighbors=float8'", ...]
//   node peers.mjs sqlite-vec <data-dir> <db>
//
// Pitfalls of the libsql package (see the project's vector facts): a lone Buffer argument is
// taken as named parameters, so arguments are always passed as an array; k = 0 aborts it.
import Database from "libsql";
import * as sqliteVec from "sqlite-vec";
import { readFileSync, rmSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

const [engine, dir, dbPath, ...options] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
const dims = meta.dims;
const base = new Float32Array(readFileSync(join(dir, "base.f32")).buffer.slice(0));
const queries = new Float32Array(readFileSync(join(dir, "queries.f32")).buffer.slice(0));
const truth = new Int32Array(readFileSync(join(dir, "truth.i32")).buffer.slice(0));
const n = base.length / dims;
const nq = queries.length / dims;
const row = (arr, i) => Buffer.from(arr.buffer, i * dims * 4, dims * 4);

for (const s of ["", "-wal", "-shm"]) rmSync(dbPath + s, { force: true });
const db = new Database(dbPath);
db.exec("PRAGMA journal_mode=WAL");
db.exec("PRAGMA synchronous=NORMAL");
const now = () => Number(process.hrtime.bigint()) / 1e9;

let insertSql, querySql;
if (engine === "libsql") {
  db.exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, emb F32_BLOB(${dims}))`);
  const opts = ["'metric=cosine'", ...options].join(", ");
  db.exec(`CREATE INDEX idx ON t(libsql_vector_idx(emb, ${opts}))`);
  insertSql = "INSERT INTO t(id, emb) VALUES (?, ?)";
  querySql = "SELECT id FROM vector_top_k('idx', ?, 10)";
} else if (engine === "sqlite-vec") {
  db.loadExtension(sqliteVec.getLoadablePath());
  db.exec(`CREATE VIRTUAL TABLE t USING vec0(embedding float[${dims}] distance_metric=cosine)`);
  insertSql = "INSERT INTO t(rowid, embedding) VALUES (?, ?)";
  querySql = "SELECT rowid AS id FROM t WHERE embedding MATCH ? AND k = 10";
} else {
  throw new Error(`unknown engine ${engine}`);
}

// Build: batches of 1,000 rows per transaction.
const ins = db.prepare(insertSql);
const buildRows = n - 100;
const t0 = now();
for (let i = 0; i < buildRows; i += 1000) {
  db.exec("BEGIN");
  for (let j = i; j < Math.min(buildRows, i + 1000); j++) ins.run([BigInt(j + 1), row(base, j)]);
  db.exec("COMMIT");
}
const buildS = now() - t0;

// Pages written by one single-row insert: WAL frames after a truncating checkpoint.
const pageSize = Number(Object.values(db.prepare("PRAGMA page_size").get())[0]);
const pages = [];
for (let j = buildRows; j < n; j++) {
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  ins.run([BigInt(j + 1), row(base, j)]);
  const wal = existsSync(dbPath + "-wal") ? statSync(dbPath + "-wal").size : 0;
  pages.push(wal > 32 ? Math.round((wal - 32) / (pageSize + 24)) : 0);
}
pages.sort((a, b) => a - b);
db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
const dbMb = statSync(dbPath).size / 1e6;

db.exec("PRAGMA mmap_size=1073741824"); // as every Cairn server connection
const q = db.prepare(querySql);
function pass() {
  const answers = [];
  const a = now();
  for (let i = 0; i < nq; i++) answers.push(q.all([row(queries, i)]).map((r) => Number(r.id)));
  return [now() - a, answers];
}
const [s1, a1] = pass();
const [s2, a2] = pass();
let hit = 0, differ = 0;
for (let i = 0; i < nq; i++) {
  const got = new Set(a1[i]);
  for (let j = 0; j < 10; j++) if (got.has(truth[i * 10 + j])) hit++;
  if (a1[i].join() !== a2[i].join()) differ++;
}
const best = Math.min(s1, s2);
console.log(JSON.stringify({
  engine, options: options.join(", "), rows: n, build_s: +buildS.toFixed(2), db_mb: +dbMb.toFixed(1),
  pages_per_insert_median: pages[pages.length >> 1],
  pages_per_insert_mean: +(pages.reduce((x, y) => x + y, 0) / pages.length).toFixed(1),
  recall10: +(hit / (nq * 10)).toFixed(4), qps: Math.round(nq / best), p50_ms: +((best / nq) * 1000).toFixed(3),
  answers_differing_between_passes: differ,
}));
db.close();
