#!/usr/bin/env node
// Embedded replicas: the real `libsql` package (under @libsql/client with a syncUrl) against
// `cairn serve` on loopback, all measured in one run (docs/embedded-replicas.md).
//
//   node bench/embedded.mjs [--bin build/src/cli/cairn] [--runs 5] [--bootstrap-mb 1024]
//
// reads:      point SELECTs by primary key on a 100,000-row table, one client: read from the
//             embedded replica's local file vs over HTTP from the same server. Target: ≥ 50×.
// sync-1000:  1,000 single-row INSERTs (separate transactions) on the server, then one sync() of
//             an up-to-date replica. Target: ≤ 50 ms.
// up-to-date: sync() with nothing new: the client's time, and the server's time for the request
//             (cairn_http_request_duration_seconds{endpoint="sync"}). Target: ≤ 1 ms server time.
// bootstrap:  a database of BOOTSTRAP_MB (random 4,000-byte blobs) synced into a new local file:
//             the first client (the server makes the generation's image) and a second one; the
//             server's RSS growth during them. Target: 1 GiB in ≤ 10 s, RSS growth ≤ 64 MiB.
// Each of reads, sync-1000 and up-to-date runs RUNS times; medians are printed, then one JSON
// object with every run. Writes only under a temporary directory; every loop is bounded.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const require = createRequire(join(root, "tests/node/package.json"));
const { createClient } = require("@libsql/client");
const Database = require("libsql");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const BIN = resolve(args.bin ?? join(root, "build/src/cli/cairn"));
const RUNS = Number(args.runs ?? 5);
const BOOT_MB = Number(args["bootstrap-mb"] ?? 1024);
const ROWS = 100000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function start(dataDir) {
  const proc = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", dataDir,
    "--backup", "off"], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const ports = await new Promise((resolveP, reject) => {
    const onData = (d) => {
      log += d.toString();
      const m = log.match(/serving Hrana on http:\/\/[0-9.]+:(\d+) .*admin API on [0-9.]+:(\d+)/);
      if (m) resolveP({ port: Number(m[1]), admin: Number(m[2]) });
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.once("exit", (c) => reject(new Error(`cairn exited (${c}): ${log}`)));
  });
  return { proc, url: `http://127.0.0.1:${ports.port}`, admin: `http://127.0.0.1:${ports.admin}`, log: () => log };
}

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : 0;
}

// The server's total time and count for sync requests, from its histogram.
async function syncServerTime(admin) {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const sum = text.match(/^cairn_http_request_duration_seconds_sum\{endpoint="sync"\} ([0-9.e+-]+)/m);
  const count = text.match(/^cairn_http_request_duration_seconds_count\{endpoint="sync"\} (\d+)/m);
  return { sum: sum ? Number(sum[1]) : 0, count: count ? Number(count[1]) : 0 };
}

const work = mkdtempSync(join(tmpdir(), "cairn-bench-embedded-"));
const servers = [];
const clients = [];
process.on("exit", () => {
  for (const s of servers) s.proc.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

function embedded(url, name) {
  const c = createClient({ url: `file:${join(work, name)}`, syncUrl: url });
  clients.push(c);
  return c;
}

const results = { date: new Date().toISOString(), cpus: cpus().length, mem_gib: Math.round(totalmem() / 2 ** 30), runs: [] };

// --- reads, sync-1000, up-to-date -------------------------------------------------------------
{
  const srv = await start(join(work, "small"));
  servers.push(srv);
  const remote = createClient({ url: srv.url });
  await remote.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  await remote.execute(
    `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${ROWS}) ` +
      "INSERT INTO t(id, v) SELECT x, hex(randomblob(50)) FROM c",
  );
  const local = embedded(srv.url, "small.db");
  await local.sync();
  const sql = "SELECT v FROM t WHERE id = ?";
  for (let run = 0; run < RUNS; run++) {
    const r = { run };
    // Point reads: the local file, then HTTP, same ids.
    const ids = Array.from({ length: 20000 }, () => 1 + Math.floor(Math.random() * ROWS));
    for (let i = 0; i < 1000; i++) await local.execute({ sql, args: [ids[i]] }); // warm
    let t = process.hrtime.bigint();
    for (const id of ids) await local.execute({ sql, args: [id] });
    r.local_read_us = Number(process.hrtime.bigint() - t) / 1e3 / ids.length;
    const httpIds = ids.slice(0, 2000);
    for (let i = 0; i < 200; i++) await remote.execute({ sql, args: [httpIds[i]] }); // warm
    t = process.hrtime.bigint();
    for (const id of httpIds) await remote.execute({ sql, args: [id] });
    r.http_read_us = Number(process.hrtime.bigint() - t) / 1e3 / httpIds.length;
    r.read_ratio = r.http_read_us / r.local_read_us;
    // The same reads through the libsql package's prepared statement on the same file (what an
    // app that prepares its queries pays; synchronous).
    const direct = new Database(join(work, "small.db"), { readonly: true });
    const stmt = direct.prepare(sql);
    for (let i = 0; i < 1000; i++) stmt.get(ids[i]);
    t = process.hrtime.bigint();
    for (const id of ids) stmt.get(id);
    r.prepared_read_us = Number(process.hrtime.bigint() - t) / 1e3 / ids.length;
    r.prepared_ratio = r.http_read_us / r.prepared_read_us;
    direct.close();

    // 1,000 small transactions, then one sync.
    for (let i = 0; i < 1000; i++) await remote.execute({ sql: "INSERT INTO t(v) VALUES (?)", args: [`new ${run} ${i}`] });
    const s0 = await syncServerTime(srv.admin);
    t = process.hrtime.bigint();
    await local.sync();
    r.sync_1000_ms = Number(process.hrtime.bigint() - t) / 1e6;
    const s1 = await syncServerTime(srv.admin);
    r.sync_1000_server_ms = (s1.sum - s0.sum) * 1e3;
    r.sync_1000_requests = s1.count - s0.count;
    const n = (await local.execute("SELECT count(*) AS n FROM t")).rows[0].n;
    const want = (await remote.execute("SELECT count(*) AS n FROM t")).rows[0].n;
    if (n !== want) throw new Error(`the replica has ${n} rows, the server ${want}`);

    // Up to date.
    const before = await syncServerTime(srv.admin);
    const times = [];
    for (let i = 0; i < 200; i++) {
      t = process.hrtime.bigint();
      await local.sync();
      times.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
    const after = await syncServerTime(srv.admin);
    r.uptodate_client_us = median(times);
    r.uptodate_server_us = ((after.sum - before.sum) / Math.max(1, after.count - before.count)) * 1e6;
    results.runs.push(r);
    console.error(JSON.stringify(r));
  }
  srv.proc.kill("SIGTERM");
  await sleep(500);
}

// --- bootstrap ---------------------------------------------------------------------------------
if (BOOT_MB > 0) {
  const srv = await start(join(work, "big"));
  servers.push(srv);
  const remote = createClient({ url: srv.url });
  await remote.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB)");
  const perTx = 2000; // 2,000 × 4,000 bytes ≈ 8 MB per transaction (within the statement timeout)
  const rows = Math.ceil((BOOT_MB * 2 ** 20) / 4000);
  for (let done = 0; done < rows; done += perTx) {
    const n = Math.min(perTx, rows - done);
    await remote.execute(
      `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) ` +
        "INSERT INTO big(b) SELECT randomblob(4000) FROM c",
    );
  }
  await sleep(1000);
  const boot = {};
  for (const which of ["first", "second"]) {
    const base = rssKiB(srv.proc.pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(srv.proc.pid))), 20);
    const t = process.hrtime.bigint();
    const c = embedded(srv.url, `big-${which}.db`);
    await c.sync();
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    clearInterval(sampler);
    const n = (await c.execute("SELECT count(*) AS n FROM big")).rows[0].n;
    if (n !== rows) throw new Error(`bootstrap: ${n} rows, want ${rows}`);
    boot[which] = { seconds: s, rss_growth_mib: (peak - base) / 1024 };
    console.error(JSON.stringify({ bootstrap: which, ...boot[which] }));
    c.close();
  }
  results.bootstrap = { mb: BOOT_MB, ...boot };
}

const rs = results.runs;
results.median = {
  local_read_us: median(rs.map((r) => r.local_read_us)),
  http_read_us: median(rs.map((r) => r.http_read_us)),
  read_ratio: median(rs.map((r) => r.read_ratio)),
  prepared_read_us: median(rs.map((r) => r.prepared_read_us)),
  prepared_ratio: median(rs.map((r) => r.prepared_ratio)),
  sync_1000_server_ms: median(rs.map((r) => r.sync_1000_server_ms)),
  sync_1000_ms: median(rs.map((r) => r.sync_1000_ms)),
  uptodate_client_us: median(rs.map((r) => r.uptodate_client_us)),
  uptodate_server_us: median(rs.map((r) => r.uptodate_server_us)),
};
const m = results.median;
console.log(`point read over HTTP (@libsql/client): ${m.http_read_us.toFixed(1)} µs`);
console.log(`point read, embedded replica, @libsql/client execute(): ${m.local_read_us.toFixed(1)} µs: ${m.read_ratio.toFixed(0)}× faster (target ≥ 50×)`);
console.log(`point read, embedded replica, libsql prepared statement: ${m.prepared_read_us.toFixed(2)} µs: ${m.prepared_ratio.toFixed(0)}× faster`);
console.log(`sync of 1,000 small transactions: ${m.sync_1000_ms.toFixed(1)} ms, server ${m.sync_1000_server_ms.toFixed(1)} ms (target ≤ 50 ms)`);
console.log(`up-to-date sync: server ${m.uptodate_server_us.toFixed(0)} µs (target ≤ 1,000 µs), client ${m.uptodate_client_us.toFixed(0)} µs`);
if (results.bootstrap) {
  const b = results.bootstrap;
  console.log(`bootstrap of ${b.mb} MiB: first client ${b.first.seconds.toFixed(1)} s (RSS +${b.first.rss_growth_mib.toFixed(0)} MiB), ` +
    `second ${b.second.seconds.toFixed(1)} s (RSS +${b.second.rss_growth_mib.toFixed(0)} MiB) (target ≤ 10 s, ≤ 64 MiB)`);
}
console.log(JSON.stringify(results));
for (const c of clients) c.close();
process.exit(0);
