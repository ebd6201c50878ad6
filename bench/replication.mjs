#!/usr/bin/env node
// Replication benchmark: one primary and one replica (`cairn serve --replica-of`) on loopback.
//
//   node bench/replication.mjs [--bin build/src/cli/cairn] [--rate 1000] [--duration 15]
//                              [--bootstrap-mb 256] [--runs 3] [--scaling-nodes 3]
//                              [--scaling-duration 5]
//
// lag:        bench/pace.mjs writes single-row INSERTs to the primary at RATE/s for DURATION s;
//             the replica reports commit-on-primary → applied-here lag over its last 4,096
//             transactions (GET /v1/replication: lag_p50_ms, lag_p99_ms). Target: p99 ≤ 10 ms at
//             1,000 writes/s.
// bootstrap:  a primary database of BOOTSTRAP_MB (random 4 KiB blobs) is copied by a new replica;
//             time from starting the replica to its first read of the last row. Target: 1 GB in
//             ≤ 30 s. --bootstrap-from store: the primary backs up to a local directory and the
//             replica restores from it (--replica-seed-store) instead of asking for a snapshot.
// scaling:    point SELECTs by primary key (wrk, bench/wrk/hrana.lua, 32 connections and at least
//             two client threads in all) spread
//             evenly over 1, 2, … SCALING_NODES nodes — the primary, then replicas of it — for
//             SCALING_DURATION s each: reads/s in all, and each node's server CPU per read. On
//             one machine the nodes share its cores, so the sum cannot grow past what the cores
//             give; CPU per read on a replica against the primary's is what tells the capacity a
//             replica on a machine of its own adds. (--scaling-nodes 0: skip.)
// Each is run RUNS times; the medians are printed as one JSON object (with every run).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const BIN = resolve(args.bin ?? join(root, "build/src/cli/cairn"));
const RATE = Number(args.rate ?? 1000);
const DURATION = Number(args.duration ?? 15);
const BOOT_MB = Number(args["bootstrap-mb"] ?? 256);
const RUNS = Number(args.runs ?? 3);
const BOOT_FROM = args["bootstrap-from"] ?? "primary";  // or "store": --replica-seed-store
const SCALING_NODES = Number(args["scaling-nodes"] ?? 3);
const SCALING_DURATION = Number(args["scaling-duration"] ?? 5);
const ROWS = 100000;
const TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function start(dataDir, extra = []) {
  const proc = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", dataDir,
    ...(extra.includes("--backup") ? [] : ["--backup", "off"]), ...extra], { stdio: ["ignore", "pipe", "pipe"] });
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

async function stop(s) {
  if (s.proc.exitCode !== null) return;
  s.proc.kill("SIGTERM");
  await new Promise((r) => s.proc.once("exit", r));
}

async function sql(url, stmts) {
  const resp = await fetch(`${url}/v2/pipeline`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ requests: [...stmts.map((s) => ({ type: "execute", stmt: { sql: s } })), { type: "close" }] }),
  });
  const j = await resp.json();
  for (const r of j.results) if (r.type !== "ok") throw new Error(JSON.stringify(r.error));
  return j.results;
}

async function status(s) {
  return (await fetch(`${s.admin}/v1/replication`)).json();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function lagRun() {
  const pdir = mkdtempSync(join(tmpdir(), "cairn-bench-p-"));
  const rdir = mkdtempSync(join(tmpdir(), "cairn-bench-r-"));
  const p = await start(pdir);
  const r = await start(rdir, ["--replica-of", p.admin]);
  try {
    await sql(p.url, ["CREATE TABLE bench_insert(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)"]);
    const pace = spawnSync("node", [join(here, "pace.mjs"), "--url", p.url, "--rate", String(RATE), "--duration",
      String(DURATION), "--client", "http"], { encoding: "utf8", timeout: (DURATION + 60) * 1000 });
    if (pace.status !== 0) throw new Error(`pace.mjs failed: ${pace.stderr}`);
    const load = JSON.parse(pace.stdout);
    await sleep(500);
    const st = await status(r);
    const d = st.databases.find((x) => x.name === "default");
    return { achieved_rate: load.achieved_rate, write_p99_ms: load.latency_ms.p99, lag_p50_ms: st.lag_p50_ms,
      lag_p99_ms: st.lag_p99_ms, replica_txid: d.txid, primary_txid: d.primary_txid };
  } finally {
    await stop(r);
    await stop(p);
    rmSync(pdir, { recursive: true, force: true });
    rmSync(rdir, { recursive: true, force: true });
  }
}

async function bootstrapRun() {
  const pdir = mkdtempSync(join(tmpdir(), "cairn-bench-p-"));
  const rdir = mkdtempSync(join(tmpdir(), "cairn-bench-r-"));
  const sdir = mkdtempSync(join(tmpdir(), "cairn-bench-store-"));
  const fromStore = BOOT_FROM === "store";
  const p = await start(pdir, fromStore ? ["--backup", sdir] : []);
  let r;
  try {
    await sql(p.url, ["CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)"]);
    const perBatch = 2000; // 2,000 × 4 KiB ≈ 8 MiB per transaction
    const batches = Math.ceil((BOOT_MB * 1024 * 1024) / (perBatch * 4096));
    for (let i = 0; i < batches; i++) {
      await sql(p.url, [`WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${perBatch}) INSERT INTO blobs(b) SELECT randomblob(4000) FROM s`]);
    }
    const [res] = await sql(p.url, ["SELECT max(id) FROM blobs"]);
    const last = res.response.result.rows[0][0].value;
    if (fromStore) {
      const b = await fetch(`${p.admin}/v1/namespaces/default/backup`, { method: "POST" });
      if (b.status !== 200) throw new Error(`backup failed: ${await b.text()}`);
    }
    const t0 = performance.now();
    r = await start(rdir, ["--replica-of", p.admin, ...(fromStore ? ["--replica-seed-store", sdir] : [])]);
    for (;;) {
      try {
        const [x] = await sql(r.url, [`SELECT count(*) FROM blobs WHERE id = ${last}`]);
        if (x.response.result.rows[0][0].value === "1") break;
      } catch {
        // not there yet
      }
      if (performance.now() - t0 > 300000) throw new Error("bootstrap took over 300 s");
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    // The replica's own account: "... N MB, A s to fetch, B s to write, C s to check".
    const m = r.log().match(/copied from the primary .*: ([0-9.]+) MB, ([0-9.]+) s to fetch, ([0-9.]+) s to write and check/);
    for (let i = 0; i < 100 && fromStore && !/restored from/.test(r.log()); i++) await sleep(20);  // log lines come a little later
    if (fromStore && !/restored from/.test(r.log())) throw new Error(`the replica did not restore from the store: ${r.log()}`);
    return { from: BOOT_FROM, mb: BOOT_MB, seconds, mb_per_s: BOOT_MB / seconds,
      fetch_s: m ? Number(m[2]) : null, write_and_check_s: m ? Number(m[3]) : null };
  } finally {
    if (r) await stop(r);
    await stop(p);
    rmSync(pdir, { recursive: true, force: true });
    rmSync(rdir, { recursive: true, force: true });
    rmSync(sdir, { recursive: true, force: true });
  }
}

// CPU seconds (user + system) a process used so far.
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function wrk(url, connections, seconds, threads = 1) {
  return new Promise((resolveW, reject) => {
    const p = spawn("wrk", [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, "-s", join(here, "wrk/hrana.lua"), url, "--",
      "select", String(ROWS)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("exit", () => {
      const m = out.match(/WRKRESULT .*requests=(\d+) .*rps=([0-9.]+).*non200=(\d+) hrana_errors=(\d+) unexpected=(\d+) socket_errors=(\d+)/);
      if (!m) return reject(new Error(`wrk gave no result: ${out}`));
      const bad = Number(m[3]) + Number(m[4]) + Number(m[5]) + Number(m[6]);
      if (bad > 0) return reject(new Error(`wrk saw ${bad} bad answers: ${out}`));
      resolveW({ requests: Number(m[1]), rps: Number(m[2]) });
    });
  });
}

async function scalingRun() {
  const dirs = [];
  const nodes = [];
  try {
    for (let i = 0; i < SCALING_NODES; i++) {
      dirs.push(mkdtempSync(join(tmpdir(), "cairn-bench-s-")));
      nodes.push(await start(dirs[i], i === 0 ? [] : ["--replica-of", nodes[0].admin]));
      if (i === 0) {
        await sql(nodes[0].url, ["CREATE TABLE bench(id INTEGER PRIMARY KEY, v TEXT)",
          `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${ROWS}) ` +
          "INSERT INTO bench SELECT n, printf('bench-row-payload-%07d', n) FROM s"]);
      }
    }
    // Every replica has every row before reads are measured.
    for (const n of nodes) {
      for (const t0 = performance.now(); ; await sleep(50)) {
        try {
          const [x] = await sql(n.url, ["SELECT count(*) FROM bench"]);
          if (x.response.result.rows[0][0].value === String(ROWS)) break;
        } catch {
          // not there yet
        }
        if (performance.now() - t0 > 60000) throw new Error("a replica did not catch up in 60 s");
      }
    }
    const out = [];
    for (let k = 1; k <= SCALING_NODES; k++) {
      const serving = nodes.slice(0, k);
      const conns = serving.map((_, i) => Math.floor(32 / k) + (i < 32 % k ? 1 : 0));
      const cpu0 = serving.map((n) => cpuSeconds(n.proc.pid));
      // Two client threads in all (one wrk of two threads for a single node), like bench/run.sh.
      const results = await Promise.all(serving.map((n, i) => wrk(n.url, conns[i], SCALING_DURATION, k === 1 ? 2 : 1)));
      const cpu = serving.map((n, i) => cpuSeconds(n.proc.pid) - cpu0[i]);
      out.push({
        nodes: k,
        reads_per_s: Math.round(results.reduce((a, r) => a + r.rps, 0)),
        per_node_reads_per_s: results.map((r) => Math.round(r.rps)),
        server_cpu_us_per_read: results.map((r, i) => Number(((cpu[i] * 1e6) / r.requests).toFixed(1))),
      });
    }
    return out;
  } finally {
    for (const n of nodes.reverse()) await stop(n);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const lag = [];
const boot = [];
const scaling = [];
for (let i = 0; i < RUNS; i++) {
  lag.push(await lagRun());
  process.stderr.write(`lag run ${i + 1}: ${JSON.stringify(lag.at(-1))}\n`);
}
for (let i = 0; i < RUNS && BOOT_MB > 0; i++) {
  boot.push(await bootstrapRun());
  process.stderr.write(`bootstrap run ${i + 1}: ${JSON.stringify(boot.at(-1))}\n`);
}
for (let i = 0; i < RUNS && SCALING_NODES > 0; i++) {
  scaling.push(await scalingRun());
  process.stderr.write(`scaling run ${i + 1}: ${JSON.stringify(scaling.at(-1))}\n`);
}
console.log(JSON.stringify({
  date: new Date().toISOString(),
  machine: `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`,
  rate: RATE,
  duration_s: DURATION,
  lag_p50_ms: median(lag.map((x) => x.lag_p50_ms)),
  lag_p99_ms: median(lag.map((x) => x.lag_p99_ms)),
  bootstrap_mb: BOOT_MB,
  bootstrap_from: BOOT_FROM,
  bootstrap_s: boot.length ? median(boot.map((x) => x.seconds)) : null,
  read_scaling: scaling.length ? scaling[0].map((_, k) => ({
    nodes: k + 1,
    reads_per_s: median(scaling.map((r) => r[k].reads_per_s)),
    server_cpu_us_per_read: scaling[0][k].server_cpu_us_per_read.map((_, i) => median(scaling.map((r) => r[k].server_cpu_us_per_read[i]))),
  })) : null,
  runs: { lag, bootstrap: boot, scaling },
}, null, 1));
