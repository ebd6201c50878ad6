// Continuous backup and point-in-time restore, end to end with real processes: the server backs
// up to a directory store or to a real s3rver; it is SIGKILLed under write load; the store goes
// down and comes back; objects are damaged or lost; `cairn restore` / `cairn verify` and the
// admin API's fork bring databases back. Every restored database is served by a fresh Cairn
// process and read through @libsql/client.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cairnBin, makeDataDir, sleep, startS3rver, startServer } from "./server.mjs";

const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

function tempDir() {
  const d = makeDataDir();
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

// Runs `cairn <args>`; returns {code, stdout, stderr, json}.
function cairn(args, env = {}) {
  const r = spawnSync(cairnBin(), args, { encoding: "utf8", timeout: 120000, env: { ...process.env, ...env } });
  let json;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

async function count(srv, ns, sql = "SELECT count(*) AS n FROM t") {
  const rs = await srv.client({ namespace: ns }).execute(sql);
  return Number(rs.rows[0].n ?? rs.rows[0][0]);
}

async function ids(srv, ns = undefined) {
  const rs = await srv.client(ns === undefined ? {} : { namespace: ns }).execute("SELECT id FROM t ORDER BY id");
  return new Set(rs.rows.map((r) => Number(r.id)));
}

// Serves a data directory whose default database is `file` (a restore's output) and reads it.
async function serveRestored(file) {
  const dir = tempDir();
  mkdirSync(join(dir, "databases", "default"), { recursive: true });
  cpSync(file, join(dir, "databases", "default", "data.sqlite"));
  const srv = await startServer({ dataDir: dir, args: ["--backup", "off"] });
  cleanup.push(() => srv.stop());
  return srv;
}

async function backupNow(srv, ns = "default") {
  const r = await srv.admin("POST", `v1/namespaces/${ns}/backup`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test("SIGKILL under load: every acknowledged write is backed up and restorable to past moments", async () => {
  const dataDir = tempDir();
  const store = tempDir();
  const url = `file://${store}`;
  const args = ["--backup", url, "--backup-interval-ms", "100"];
  let srv = await startServer({ dataDir, args });
  const c = srv.client();
  await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");

  // Four writers insert until the kill; each id is recorded when its request starts and when it
  // is acknowledged. Points in time are recorded between writes.
  const started = new Map(); // id -> start time (ms)
  const acked = new Map(); // id -> ack time (ms)
  const points = [];
  let next = 1;
  let killed = false;
  const t0 = Date.now();
  const writers = Array.from({ length: 4 }, async () => {
    const wc = srv.client({ concurrency: 2 });
    while (!killed && Date.now() - t0 < 8000 && next < 6000) {
      const id = next++;
      started.set(id, Date.now());
      try {
        await wc.execute({ sql: "INSERT INTO t VALUES (?, randomblob(?))", args: [id, 50 + (id % 700)] });
        acked.set(id, Date.now());
      } catch (e) {
        if (!killed) throw e;
        return;
      }
    }
  });
  const sampler = (async () => {
    while (!killed && Date.now() - t0 < 8000) {
      await sleep(250);
      points.push(Date.now());
    }
  })();
  await sleep(2000);
  killed = true;
  await srv.kill();
  await Promise.all([...writers, sampler]);
  assert.ok(acked.size > 100, `only ${acked.size} writes acknowledged before the kill`);

  // Restart on the same data: the log picks up what the WAL holds, the backup catches up.
  srv = await startServer({ dataDir, args });
  const pos = await backupNow(srv);
  const live = await ids(srv);
  for (const id of acked.keys()) assert.ok(live.has(id), `acknowledged id ${id} lost by the crash`);
  await srv.stop({ keepDataDir: true });

  // The latest backup holds every acknowledged write, and verifies against the live file.
  const out = join(tempDir(), "latest.sqlite");
  const r = cairn(["restore", "default", "--from", url, "-o", out, "--json"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(r.json.txid, pos.txid);
  const restored = await serveRestored(out);
  const got = await ids(restored);
  for (const id of acked.keys()) assert.ok(got.has(id), `acknowledged id ${id} missing from the backup`);
  assert.deepEqual([...got].sort(), [...live].sort());
  const v = cairn(["verify", "default", "--from", url, "--db", join(dataDir, "databases/default/data.sqlite"), "--json"]);
  assert.equal(v.code, 0, v.stderr + v.stdout);

  // Point-in-time: at each recorded moment, everything acknowledged before it and nothing
  // started after it.
  const sample = points.filter((_, i) => i % 2 === 0).slice(0, 4);
  assert.ok(sample.length >= 2);
  for (const p of sample) {
    const o = join(tempDir(), "pit.sqlite");
    const at = new Date(p).toISOString();
    const rr = cairn(["restore", "default", "--from", url, "-o", o, "--to-time", at, "--json"]);
    assert.equal(rr.code, 0, rr.stderr + rr.stdout);
    const s = await serveRestored(o);
    const have = await ids(s);
    for (const [id, t] of acked) if (t < p) assert.ok(have.has(id), `id ${id} acknowledged before ${at} missing`);
    for (const id of have) assert.ok(started.get(id) <= p, `id ${id} started after ${at} but restored`);
    await s.stop();
  }
});

test("damaged or missing objects: restore refuses, naming the object or the gap", async () => {
  const store = tempDir();
  const url = `file://${store}`;
  const srv = await startServer({ args: ["--backup", url, "--backup-interval-ms", "20"] });
  const c = srv.client();
  await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  for (let i = 0; i < 12; i++) {
    await c.execute({ sql: "INSERT INTO t(v) VALUES (?)", args: [`row ${i}`] });
    await backupNow(srv); // one L0 object per row
  }
  await srv.stop();
  const logs = [];
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".clog")) logs.push(p);
    }
  };
  walk(store);
  logs.sort();
  assert.ok(logs.length >= 3, `expected several log objects, found ${logs.length}`);

  // A flipped byte in one object.
  const damaged = tempDir();
  cpSync(store, damaged, { recursive: true });
  const victim = logs[Math.floor(logs.length / 2)].replace(store, damaged);
  const bytes = readFileSync(victim);
  bytes[bytes.length - 20] ^= 0x55;
  writeFileSync(victim, bytes);
  let r = cairn(["restore", "default", "--from", `file://${damaged}`, "-o", join(tempDir(), "x.sqlite"), "--json"]);
  assert.notEqual(r.code, 0);
  const name = victim.split("/").pop();
  assert.match(r.stdout + r.stderr, new RegExp(name.replace(/\./g, "\\.")), "the error names the damaged object");

  // A missing object in the middle of the chain.
  const holed = tempDir();
  cpSync(store, holed, { recursive: true });
  rmSync(logs[Math.floor(logs.length / 2)].replace(store, holed));
  r = cairn(["restore", "default", "--from", `file://${holed}`, "-o", join(tempDir(), "y.sqlite"), "--json"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /gap|missing/i, "the error names the gap");

  // The intact store restores.
  r = cairn(["restore", "default", "--from", url, "-o", join(tempDir(), "z.sqlite"), "--json"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
});

test("s3rver goes down and comes back: the server keeps serving and the backup resumes with no gap", async () => {
  let s3 = await startS3rver(tempDir());
  cleanup.push(() => s3.kill());
  const url = s3.url("cairn");
  const env = s3.env;
  for (const [k, v] of Object.entries(env)) process.env[k] = v; // the server inherits them
  const srv = await startServer({ args: ["--backup", url, "--backup-interval-ms", "100"] });
  const c = srv.client();
  await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  await backupNow(srv);

  s3.kill();
  for (let i = 0; i < 200; i++) await c.execute({ sql: "INSERT INTO t(v) VALUES (?)", args: [`down ${i}`] });
  let status;
  for (let i = 0; i < 100; i++) {
    status = (await srv.admin("GET", "v1/backup")).json;
    if (!status.healthy && status.backlog_files > 0) break;
    await sleep(100);
  }
  assert.equal(status.healthy, false, JSON.stringify(status));
  assert.ok(status.backlog_files > 0, JSON.stringify(status));

  s3 = await s3.restart();
  cleanup.push(() => s3.kill());
  for (let i = 0; i < 200; i++) {
    status = (await srv.admin("GET", "v1/backup")).json;
    if (status.healthy && status.backlog_files === 0) break;
    await sleep(100);
  }
  assert.equal(status.healthy, true, JSON.stringify(status));
  const pos = await backupNow(srv);
  const live = await count(srv, undefined);
  await srv.stop();

  const out = join(tempDir(), "s3.sqlite");
  const r = cairn(["restore", "default", "--from", url, "-o", out, "--json"], env);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(r.json.txid, pos.txid);
  const restored = await serveRestored(out);
  assert.equal(await count(restored, undefined), live);
  assert.equal(live, 200);
  s3.kill();
});

test("restore --all brings back every database from the store alone; fork goes back in time", async () => {
  const store = tempDir();
  const url = `file://${store}`;
  const dataDir = tempDir();
  const srv = await startServer({ dataDir, args: ["--backup", url, "--backup-interval-ms", "50"] });
  const names = ["alpha", "beta", "gamma"];
  for (const [i, ns] of names.entries()) {
    assert.equal((await srv.createNamespace(ns)).status, 200);
    const c = srv.client({ namespace: ns });
    await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    for (let k = 0; k <= i; k++) await c.execute({ sql: "INSERT INTO t(v) VALUES (?)", args: [`${ns}${k}`] });
  }
  // Fork alpha as it was before a later change.
  await backupNow(srv, "alpha");
  await sleep(50);
  const before = new Date().toISOString();
  await sleep(50);
  await srv.client({ namespace: "alpha" }).execute("DELETE FROM t");
  const f = await srv.admin("POST", "v1/namespaces/alpha/fork/alpha-then", { timestamp: before });
  assert.equal(f.status, 200, f.text);
  assert.equal(await count(srv, "alpha-then"), 1);
  assert.equal(await count(srv, "alpha"), 0);
  assert.equal((await srv.admin("POST", "v1/namespaces/alpha/fork/beta")).status, 409);
  for (const ns of names) await backupNow(srv, ns);
  await srv.stop({ keepDataDir: true });

  // The machine is lost; only the store remains.
  rmSync(dataDir, { recursive: true, force: true });
  const fresh = tempDir();
  const r = cairn(["restore", "--all", "--from", url, "--data-dir", fresh, "--json"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const back = await startServer({ dataDir: fresh, args: ["--backup", "off"] });
  cleanup.push(() => back.stop());
  assert.equal(await count(back, "alpha"), 0);
  assert.equal(await count(back, "beta"), 2);
  assert.equal(await count(back, "gamma"), 3);
});

test("online verification restores the backup and compares it with the live database", async () => {
  const store = tempDir();
  const srv = await startServer({ args: ["--backup", `file://${store}`, "--backup-interval-ms", "20"] });
  const c = srv.client();
  await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  for (let i = 0; i < 40; i++) await c.execute({ sql: "INSERT INTO t(v) VALUES (randomblob(?))", args: [100 + i * 37] });
  let v = await srv.admin("POST", "v1/namespaces/default/verify");
  assert.equal(v.status, 200, v.text);
  assert.equal(v.json.ok, true, v.text);
  assert.equal(v.json.live_checksum, v.json.backup_checksum);

  // Damage the newest object in the store: the next verification must say so.
  const objects = [];
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".clog")) objects.push(p);
    }
  };
  walk(store);
  objects.sort((a, b) => a.split("/").pop().localeCompare(b.split("/").pop()));
  const victim = objects[objects.length - 1];
  const bytes = readFileSync(victim);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(victim, bytes);
  v = await srv.admin("POST", "v1/namespaces/default/verify");
  assert.equal(v.status, 200, v.text);
  assert.equal(v.json.ok, false, v.text);
  assert.match(v.json.problem, /cannot be restored/);
  const status = (await srv.admin("GET", "v1/backup")).json;
  assert.equal(status.verified_ok, 1);
  assert.equal(status.verified_failed, 1);
  await srv.stop();
});
