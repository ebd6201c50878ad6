// Read replicas: a real primary and a real replica process on loopback (`cairn serve
// --replica-of`). The replica bootstraps every database, follows new writes and databases
// created and deleted later, forwards writes (interactive transactions too) to the primary,
// honours replication_index for read-your-writes, survives SIGKILL (its own and a restart of the
// primary), ends byte-identical to the primary (checksums), and keeps serving reads without it.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { makeDataDir, rejection, scalar, sleep, startServer } from "./server.mjs";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

let primary;
let replica;
const replicaDir = makeDataDir();

async function replicaStatus(srv) {
  const r = await srv.admin("GET", "v1/replication");
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Waits (bounded) until the replica's copy of `ns` answers `sql` with `want`.
async function eventually(srv, ns, sql, want, timeoutMs = 10000) {
  const c = srv.client({ namespace: ns });
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await scalar(c, sql);
      if (last === want) return;
    } catch (e) {
      last = e.message;
    }
    await sleep(20);
  }
  assert.fail(`${ns}: ${sql} gave ${last}, wanted ${want}`);
}

// Both sides' positions of `ns` as their admin APIs report them.
async function positions(ns) {
  const p = await primary.admin("GET", `v1/namespaces/${ns}`);
  const r = await replicaStatus(replica);
  return { primary: p.json, replica: r.databases.find((d) => d.name === ns) };
}

before(async () => {
  primary = await startServer();
  const c = primary.client();
  await c.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)");
  await c.execute("INSERT INTO kv VALUES ('before', 1)");
  replica = await startServer({ dataDir: replicaDir, args: ["--replica-of", primary.adminUrl.replace(/\/$/, "")] });
});

after(async () => {
  await replica?.stop();
  await primary?.stop();
  rmSync(replicaDir, { recursive: true, force: true });
});

test("a new replica copies what the primary has, then follows every write", async () => {
  await eventually(replica, "default", "SELECT v FROM kv WHERE k = 'before'", 1);
  const c = primary.client();
  for (let i = 0; i < 50; i++) await c.execute({ sql: "INSERT INTO kv VALUES (?, ?)", args: [`k${i}`, i] });
  await eventually(replica, "default", "SELECT count(*) FROM kv", 51);
  await eventually(replica, "default", "SELECT sum(v) FROM kv", 1 + (49 * 50) / 2);
  const st = await replicaStatus(replica);
  assert.equal(st.role, "replica");
  assert.equal(st.connected, true);
  const d = st.databases.find((x) => x.name === "default");
  assert.ok(d.transactions >= 50, JSON.stringify(d));
  const p = await primary.admin("GET", "v1/namespaces/default");
  assert.equal(p.status, 200);
  assert.equal(d.generation, p.json.generation);
  assert.ok(d.txid <= p.json.txid);
});

test("databases are created and deleted on the primary, not on a replica", async () => {
  const admin = await replica.createNamespace("nope");
  assert.equal(admin.status, 409, admin.text);
  assert.match(admin.text, /replica/);
  assert.equal((await replica.deleteNamespace("default")).status, 409);
});

test("databases created, written and deleted on the primary later appear and disappear on the replica", async () => {
  assert.equal((await primary.createNamespace("tenant1")).status, 200);
  const t = primary.client({ namespace: "tenant1" });
  await t.batch(["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes (body) VALUES ('hello')"], "write");
  await eventually(replica, "tenant1", "SELECT body FROM notes", "hello");
  assert.equal((await primary.createNamespace("tenant2")).status, 200);
  await eventually(replica, "tenant2", "SELECT count(*) FROM sqlite_schema", 0);
  assert.equal((await primary.deleteNamespace("tenant2")).status, 200);
  const deadline = Date.now() + 10000;
  let gone = false;
  while (!gone && Date.now() < deadline) {
    const r = await replica.post("v2/pipeline", { requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] }, { namespace: "tenant2" });
    gone = r.status === 404;
    if (!gone) await sleep(20);
  }
  assert.ok(gone, "tenant2 still exists on the replica");
});

test("writes sent to a replica run on the primary, interactive transactions included", async () => {
  const rc = replica.client();
  const rs = await rc.execute({ sql: "INSERT INTO kv VALUES (?, ?)", args: ["via-replica", 5] });
  assert.equal(rs.rowsAffected, 1);
  assert.equal(await scalar(primary.client(), "SELECT v FROM kv WHERE k = 'via-replica'"), 5);
  await rc.batch([{ sql: "INSERT INTO kv VALUES ('b1', 1)" }, { sql: "INSERT INTO kv VALUES ('b2', 2)" }], "write");
  assert.equal(await scalar(primary.client(), "SELECT count(*) FROM kv WHERE k IN ('b1', 'b2')"), 2);
  // Constraint errors come back as the primary reports them.
  const dup = await rejection(rc.execute("INSERT INTO kv VALUES ('b1', 3)"));
  assert.equal(dup.code, "SQLITE_CONSTRAINT");

  const tx = await rc.transaction("write");
  await tx.execute("INSERT INTO kv VALUES ('tx-1', 1)");
  assert.equal(await scalar(tx, "SELECT count(*) FROM kv WHERE k = 'tx-1'"), 1);  // inside: sees its write
  assert.equal(await scalar(primary.client(), "SELECT count(*) FROM kv WHERE k = 'tx-1'"), 0);
  await tx.commit();
  assert.equal(await scalar(primary.client(), "SELECT count(*) FROM kv WHERE k = 'tx-1'"), 1);
  const tx2 = await rc.transaction("write");
  await tx2.execute("INSERT INTO kv VALUES ('tx-2', 1)");
  await tx2.rollback();
  assert.equal(await scalar(primary.client(), "SELECT count(*) FROM kv WHERE k = 'tx-2'"), 0);
  // A read transaction stays on the replica.
  const rtx = await rc.transaction("read");
  assert.equal(await scalar(rtx, "SELECT count(*) FROM kv WHERE k = 'tx-1'") >= 0, true);
  await rtx.commit();
});

test("replication_index gives read-your-writes on a replica (in the statement or a header)", async () => {
  for (let i = 0; i < 20; i++) {
    const w = await replica.post("v2/pipeline", {
      requests: [{ type: "execute", stmt: { sql: "INSERT INTO kv VALUES (?, ?)", args: [{ type: "text", value: `ryw-${i}` }, { type: "integer", value: String(i) }] } }, { type: "close" }],
    });
    assert.equal(w.status, 200, w.text);
    const index = w.json.results[0].response.result.replication_index;
    assert.match(index, /^[0-9]+$/);
    const sql = `SELECT count(*) FROM kv WHERE k = 'ryw-${i}'`;
    const inStmt = await replica.post("v2/pipeline", { requests: [{ type: "execute", stmt: { sql, replication_index: index } }, { type: "close" }] });
    assert.equal(inStmt.json.results[0].response.result.rows[0][0].value, "1", inStmt.text);
    assert.ok(BigInt(inStmt.json.results[0].response.result.replication_index) >= BigInt(index));
    const viaHeader = await replica.post("v2/pipeline", { requests: [{ type: "execute", stmt: { sql } }, { type: "close" }] }, { headers: { "x-replication-index": index } });
    assert.equal(viaHeader.json.results[0].response.result.rows[0][0].value, "1", viaHeader.text);
  }
});

test("a stream of the replica stays there however its request is spaced (the baton is decoded, not searched for)", async () => {
  const first = await replica.post("v3/pipeline", { requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] });
  assert.equal(first.status, 200, first.text);
  const baton = first.json.baton;
  assert.ok(baton && !baton.startsWith("~p~"), first.text);
  // Pretty-printed JSON (a space after every colon), naming the replica's stream and asking for a
  // position the replica does not reach in time: the stream cannot move, so the replica answers.
  const body = JSON.stringify({ baton, requests: [{ type: "execute", stmt: { sql: "SELECT 2" } }, { type: "close" }] }, null, 1);
  assert.match(body, /"baton": "/);
  const next = await replica.post("v3/pipeline", body, { headers: { "x-replication-index": "999999999999" } });
  assert.equal(next.status, 200, next.text);
  assert.equal(next.headers.get("x-cairn-forwarded-to"), null, "sent to the primary, which does not know the stream");
  assert.equal(next.json.results[0].type, "ok", next.text);
  assert.equal(next.json.results[0].response.result.rows[0][0].value, "2");
});

test("sync_replicas: a write is acknowledged only once the replica has it; without the replica it times out", async () => {
  const cfg = await primary.admin("POST", "v1/namespaces/default/config", { sync_replicas: 1, sync_timeout_ms: 1500 });
  assert.equal(cfg.status, 200, cfg.text);
  const rc = replica.client();
  for (let i = 0; i < 20; i++) {
    await primary.client().execute({ sql: "INSERT INTO kv VALUES (?, ?)", args: [`sync-${i}`, i] });
    // No replication_index, no waiting: the replica already has it when the primary answers.
    assert.equal(await scalar(rc, `SELECT count(*) FROM kv WHERE k = 'sync-${i}'`), 1);
  }
  // Writes through the replica (forwarded) too.
  await rc.execute("INSERT INTO kv VALUES ('sync-fwd', 1)");
  assert.equal(await scalar(rc, "SELECT count(*) FROM kv WHERE k = 'sync-fwd'"), 1);
  // The limits travel with the data: the replica has them (and would enforce them if promoted);
  // they are changed on the primary only.
  const deadline = Date.now() + 10000;
  let copied;
  do {
    copied = (await replica.admin("GET", "v1/namespaces/default/config")).json;
    if (copied?.sync_replicas === 1) break;
    await sleep(20);
  } while (Date.now() < deadline);
  assert.equal(copied.sync_replicas, 1, JSON.stringify(copied));
  assert.equal(copied.sync_timeout_ms, 1500);
  const refused = await replica.admin("POST", "v1/namespaces/default/config", { sync_replicas: 0 });
  assert.equal(refused.status, 409, refused.text);
  assert.match(refused.text, /on the primary/);
  // Two replicas asked for, one there: the write commits on the primary but is not acknowledged.
  assert.equal((await primary.admin("POST", "v1/namespaces/default/config", { sync_replicas: 2 })).status, 200);
  const t0 = Date.now();
  const e = await rejection(primary.client().execute("INSERT INTO kv VALUES ('sync-short', 1)"));
  assert.match(e.message, /2 replica\(s\) did not confirm/);
  assert.ok(Date.now() - t0 >= 1400, `gave up after ${Date.now() - t0} ms`);
  assert.equal((await primary.admin("POST", "v1/namespaces/default/config", { sync_replicas: null, sync_timeout_ms: null })).status, 200);
  for (const until = Date.now() + 10000; Date.now() < until; await sleep(20)) {
    if ((await replica.admin("GET", "v1/namespaces/default/config")).json?.sync_replicas === null) break;
  }
  assert.equal((await replica.admin("GET", "v1/namespaces/default/config")).json.sync_replicas, null);
  await primary.client().execute("INSERT INTO kv VALUES ('async-again', 1)");  // asynchronous again: at once
});

test("large transactions, schema changes and freed pages replicate exactly (same checksum)", async () => {
  const c = primary.client();
  await c.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, blob BLOB)");
  await c.execute("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 500) INSERT INTO big (blob) SELECT randomblob(3000) FROM s");
  await c.execute("DELETE FROM big WHERE id % 2 = 0");
  await c.execute("DROP TABLE big");  // frees most pages
  await c.execute("INSERT INTO kv VALUES ('after-vacuum', 7)");
  await eventually(replica, "default", "SELECT v FROM kv WHERE k = 'after-vacuum'", 7);
  await eventually(replica, "default", "PRAGMA integrity_check", "ok");
  // The replica's checksum equals the primary's at the same txid.
  const deadline = Date.now() + 10000;
  let pos;
  for (;;) {
    pos = await positions("default");
    const ver = await primary.admin("GET", "v1/namespaces/default");
    const ptx = ver.json?.txid;
    if (pos.replica && ptx !== undefined && pos.replica.txid === ptx) {
      assert.equal(pos.replica.checksum, ver.json.checksum, JSON.stringify({ r: pos.replica, p: ver.json }));
      break;
    }
    if (Date.now() > deadline) assert.fail(`replica did not reach the primary: ${JSON.stringify(pos)} ${JSON.stringify(ver.json)}`);
    await sleep(50);
  }
  assert.equal(await scalar(replica.client(), "SELECT count(*) FROM sqlite_schema WHERE name = 'big'"), 0);
});

test("a replica killed with SIGKILL resumes from its position (or finds it in the log); a restarted primary is followed again", async () => {
  await replica.kill();
  const c = primary.client();
  for (let i = 0; i < 20; i++) await c.execute({ sql: "INSERT INTO kv VALUES (?, ?)", args: [`while-down-${i}`, i] });
  replica = await startServer({ dataDir: replicaDir, args: ["--replica-of", primary.adminUrl.replace(/\/$/, "")] });
  await eventually(replica, "default", "SELECT count(*) FROM kv WHERE k LIKE 'while-down-%'", 20);
  let st = await replicaStatus(replica);
  let d = st.databases.find((x) => x.name === "default");
  if (d.snapshots !== 0) console.log(replica.logs.join(""));
  assert.equal(d.snapshots, 0, "resuming must not need a snapshot: " + JSON.stringify(d));

  // A replica that died after applying transactions but before recording its position finds its
  // place in the log (no snapshot): simulated by rolling its position file back.
  await replica.stop({ keepDataDir: true });
  const posFile = join(replicaDir, "databases", "default", "replica-position");
  const [gen, txid] = readFileSync(posFile, "utf8").trim().split(" ");
  writeFileSync(posFile, `${gen} ${Number(txid) - 5} 0123456789abcdef\n`);
  await c.execute("INSERT INTO kv VALUES ('after-rollback', 1)");
  replica = await startServer({ dataDir: replicaDir, args: ["--replica-of", primary.adminUrl.replace(/\/$/, "")] });
  await eventually(replica, "default", "SELECT count(*) FROM kv WHERE k = 'after-rollback'", 1);
  st = await replicaStatus(replica);
  d = st.databases.find((x) => x.name === "default");
  assert.equal(d.snapshots, 0, "finding its place must not need a snapshot: " + JSON.stringify(d));
  assert.match(replica.logs.join(""), /resumes after txid/);

  // The primary restarts on the same data (new process, same ports are not guaranteed: the replica
  // is pointed at the new one).
  const pdir = primary.dataDir;
  await primary.stop({ keepDataDir: true });
  primary = await startServer({ dataDir: pdir });
  await replica.stop({ keepDataDir: true });
  replica = await startServer({ dataDir: replicaDir, args: ["--replica-of", primary.adminUrl.replace(/\/$/, "")] });
  await primary.client().execute("INSERT INTO kv VALUES ('after-restart', 99)");
  await eventually(replica, "default", "SELECT v FROM kv WHERE k = 'after-restart'", 99);
  st = await replicaStatus(replica);
  d = st.databases.find((x) => x.name === "default");
  if (d.snapshots !== 0) console.log(primary.logs.join(""), "\n--- replica\n", replica.logs.join(""));
  assert.equal(d.snapshots, 0, "the same generation continues after a clean restart: " + JSON.stringify(d));
});

test("with the primary gone a replica still serves reads, and writes fail clearly", async () => {
  await primary.kill();
  const rc = replica.client();
  assert.ok((await scalar(rc, "SELECT count(*) FROM kv")) > 0);
  const e = await rejection(rc.execute("INSERT INTO kv VALUES ('nowhere', 1)"));
  assert.match(e.message, /primary/);
  assert.equal(await scalar(rc, "SELECT count(*) FROM kv WHERE k = 'nowhere'"), 0);
});
