// The transaction log on local disk stays bounded however long the server writes (issue: with
// backups off it grew without bound). Three modes, each with real processes writing well past
// the bound: backups off (a window of history for replicas), the object store down (the backlog
// bound, --backup-max-backlog-mb), and a replica gone. After each, what docs/backup.md promises
// still holds: the log continues after a SIGKILL, the store restores with no gap in the new
// generation, a replica that comes back catches up.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { makeDataDir, runCairn, sleep, startS3rver, startServer } from "./server.mjs";

const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

function tempDir() {
  const d = makeDataDir();
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

// Log files (.clog, .csnap) of one database on local disk: {files, bytes, largest, generations}.
function localLog(dataDir, ns = "default") {
  const dir = join(dataDir, "databases", ns, "txlog");
  const out = { files: 0, bytes: 0, largest: 0, generations: 0 };
  let gens = [];
  try {
    gens = readdirSync(dir);
  } catch {
    return out;
  }
  for (const g of gens) {
    out.generations++;
    let names = [];
    try {
      names = readdirSync(join(dir, g));
    } catch {
      continue; // removed meanwhile
    }
    for (const n of names) {
      if (!/\.(clog|csnap)$/.test(n)) continue;
      try {
        const size = statSync(join(dir, g, n)).size;
        out.files++;
        out.bytes += size;
        out.largest = Math.max(out.largest, size);
      } catch {
        // pruned between the listing and the stat
      }
    }
  }
  return out;
}

// Writes incompressible rows of `blob` bytes from `writers` concurrent clients until `bytes` are
// written (or `maxMs` passed: the loop is bounded in time as in count), sampling the local log
// every 50 ms. Resolves {rows, ms, max: {files, bytes, largest}}.
async function writeAndWatch(srv, { bytes, writers = 4, blob = 8000, maxMs = 60000 }) {
  const c = srv.client();
  const max = { files: 0, bytes: 0, largest: 0 };
  let rows = 0;
  const start = Date.now();
  let done = false;
  const watcher = (async () => {
    while (!done) {
      const l = localLog(srv.dataDir);
      max.files = Math.max(max.files, l.files);
      max.bytes = Math.max(max.bytes, l.bytes);
      max.largest = Math.max(max.largest, l.largest);
      await sleep(50);
    }
  })();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (Date.now() - start < maxMs && rows * blob < bytes) {
        await c.execute({ sql: "INSERT INTO t(b) VALUES (randomblob(?))", args: [blob] });
        rows++;
      }
    }),
  );
  done = true;
  await watcher;
  assert.ok(rows * blob >= bytes, `only ${rows} rows written in ${maxMs} ms: the bound was not passed`);
  return { rows, ms: Date.now() - start, max };
}

async function metric(srv, line) {
  const text = (await srv.admin("GET", "metrics")).text;
  const m = text.split("\n").find((l) => l.startsWith(line + " "));
  return m === undefined ? undefined : Number(m.split(" ").pop());
}

const MiB = 1 << 20;

test("backups off: the local log keeps a bounded window, and continues after a SIGKILL", async (t) => {
  const dataDir = tempDir();
  const bound = ["--txlog-local-mb", "1", "--txlog-local-files", "40", "--txlog-local-s", "600"];
  let srv = await startServer({ dataDir, args: ["--backup", "off", ...bound, "--metrics-database", "default"] });
  const c = srv.client();
  await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)");
  // Written: four times the bound; kept: the bound (plus the file just written, before the flush
  // that wrote it pruned).
  const { rows, max } = await writeAndWatch(srv, { bytes: 4 * MiB });
  t.diagnostic(`written ${rows} rows of 8000 bytes; local log at most ${JSON.stringify(max)}`);
  assert.ok(max.files <= 41, JSON.stringify(max));
  assert.ok(max.bytes <= MiB + max.largest, JSON.stringify(max));
  const now = localLog(dataDir);
  assert.ok(now.files >= 2 && now.files <= 41, JSON.stringify(now));
  assert.equal(now.generations, 1, "one generation: the log never restarted");

  // An operator sees it: the gauge and the per-database stats match the disk.
  const gauge = await metric(srv, 'cairn_txlog_local_bytes{db="default"}');
  assert.ok(gauge > 0 && gauge <= MiB + max.largest, String(gauge));
  const stats = (await srv.admin("GET", "v1/namespaces/default/stats")).json;
  assert.ok(stats.txlog_local_files >= 1 && stats.txlog_local_files <= 41, JSON.stringify(stats));
  assert.ok(stats.txlog_files_pruned > 0, JSON.stringify(stats));
  assert.ok(srv.logs.join("").includes("the local transaction log holds"), "a log line reports the size");

  // Killed: every acknowledged row is there, and the log continues its generation (the newest
  // file is always kept) instead of starting over from a snapshot.
  const before = (await srv.admin("GET", "v1/namespaces/default")).json;
  await srv.kill();
  srv = await startServer({ dataDir, args: ["--backup", "off", ...bound] });
  cleanup.push(() => srv.stop());
  const rs = await srv.client().execute("SELECT count(*) AS n FROM t");
  assert.equal(Number(rs.rows[0].n), rows);
  const after = (await srv.admin("GET", "v1/namespaces/default")).json;
  assert.equal(after.generation, before.generation);
  assert.ok(after.txid >= before.txid);
  await srv.stop();
});

test("store down: the backlog stays under --backup-max-backlog-mb, then the log restarts and restores", async (t) => {
  let s3 = await startS3rver(tempDir());
  cleanup.push(() => s3.kill());
  const url = s3.url("locallog");
  for (const [k, v] of Object.entries(s3.env)) process.env[k] = v; // the server inherits them
  const dataDir = tempDir();
  // No local window: what stays on disk is the backlog alone.
  const srv = await startServer({
    dataDir,
    args: ["--backup", url, "--backup-interval-ms", "100", "--backup-max-backlog-mb", "1",
      "--txlog-local-mb", "0", "--txlog-local-files", "0", "--txlog-local-s", "0"],
  });
  cleanup.push(() => srv.stop());
  const c = srv.client();
  await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)");
  assert.equal((await srv.admin("POST", "v1/namespaces/default/backup")).status, 200);
  const gen = (await srv.admin("GET", "v1/namespaces/default")).json.generation;

  s3.kill();
  const { rows, ms, max } = await writeAndWatch(srv, { bytes: 5 * MiB });
  // The bound is checked as each log file becomes durable and the drop follows at once (it does
  // not wait for an upload attempt in flight): the bound, give or take the file that crossed it
  // and the one written while the drop ran.
  const allowed = MiB + 2 * max.largest;
  t.diagnostic(`written ${rows} rows of 8000 bytes in ${ms} ms; local log at most ${JSON.stringify(max)}`);
  assert.ok(max.bytes <= allowed, JSON.stringify({ max, allowed, rows, ms }));
  let status;
  for (let i = 0; i < 100; i++) {
    // The first upload attempt against the dead endpoint retries for a while before it fails.
    status = (await srv.admin("GET", "v1/backup")).json;
    if (!status.healthy) break;
    await sleep(100);
  }
  assert.equal(status.healthy, false, JSON.stringify(status));
  assert.ok(status.backlog_overflows >= 1, JSON.stringify(status));
  assert.ok(srv.logs.join("").includes("local backlog passed"), "the server says why it dropped the backlog");
  assert.ok((await metric(srv, "cairn_backup_backlog_overflows_total")) >= 1);

  // The store comes back: a new generation from a snapshot, uploads resume, and the store
  // restores exactly what the database holds.
  s3 = await s3.restart();
  cleanup.push(() => s3.kill());
  await c.execute({ sql: "INSERT INTO t(b) VALUES (randomblob(?))", args: [10] });
  let pos;
  for (let i = 0; i < 100; i++) {
    const r = await srv.admin("POST", "v1/namespaces/default/backup");
    if (r.status === 200 && r.json.generation !== gen) {
      pos = r.json;
      break;
    }
    await sleep(100);
  }
  assert.ok(pos, "the log restarted as a new generation and reached the store");
  const live = Number((await c.execute("SELECT count(*) AS n FROM t")).rows[0].n);
  assert.equal(live, rows + 1);
  const out = join(tempDir(), "restored.sqlite");
  const r = await runCairn(["restore", "default", "--from", url, "-o", out, "--json"], { env: s3.env });
  assert.equal(r.code, 0, r.err + r.out);
  assert.equal(JSON.parse(r.out).txid, pos.txid);
  // Served as the default database of a fresh server, it holds every row.
  const rdir = tempDir();
  mkdirSync(join(rdir, "databases", "default"), { recursive: true });
  cpSync(out, join(rdir, "databases", "default", "data.sqlite"));
  const back = await startServer({ dataDir: rdir, args: ["--backup", "off"] });
  cleanup.push(() => back.stop());
  assert.equal(Number((await back.client().execute("SELECT count(*) AS n FROM t")).rows[0].n), live);
  await back.stop();
  await srv.stop();
  s3.kill();
});

test("a replica gone does not hold the primary's log; back, it catches up", async (t) => {
  const pdir = tempDir();
  const rdir = tempDir();
  const bound = ["--txlog-local-mb", "1", "--txlog-local-files", "40"];
  const primary = await startServer({ dataDir: pdir, args: ["--backup", "off", ...bound] });
  cleanup.push(() => primary.stop());
  const c = primary.client();
  await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)");
  const replicaArgs = ["--replica-of", primary.adminUrl.replace(/\/$/, "")];
  let replica = await startServer({ dataDir: rdir, args: replicaArgs });
  cleanup.push(() => replica.stop());
  const count = async (srv) => Number((await srv.client().execute("SELECT count(*) AS n FROM t")).rows[0].n);
  const caughtUp = async (srv, n) => {
    for (let i = 0; i < 300; i++) {
      try {
        if ((await count(srv)) === n) return true;
      } catch {
        // not bootstrapped yet
      }
      await sleep(100);
    }
    return false;
  };
  await c.execute({ sql: "INSERT INTO t(b) VALUES (randomblob(?))", args: [10] });
  assert.ok(await caughtUp(replica, 1));

  await replica.kill();
  const { rows, max } = await writeAndWatch(primary, { bytes: 4 * MiB });
  t.diagnostic(`written ${rows} rows of 8000 bytes; local log at most ${JSON.stringify(max)}`);
  assert.ok(max.files <= 41, JSON.stringify(max));
  assert.ok(max.bytes <= MiB + max.largest, JSON.stringify(max));

  replica = await startServer({ dataDir: rdir, args: replicaArgs });
  cleanup.push(() => replica.stop());
  assert.ok(await caughtUp(replica, rows + 1), "the replica caught up with the primary");
  await c.execute({ sql: "INSERT INTO t(b) VALUES (randomblob(?))", args: [10] });
  assert.ok(await caughtUp(replica, rows + 2), "and follows new writes");
  await replica.stop();
  await primary.stop();
});
