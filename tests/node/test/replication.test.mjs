// Read replicas: a real primary and a real replica process on loopback (`cairn serve
// --replica-of`). The replica bootstraps every database, follows new writes, databases created
// and deleted later, refuses client writes until forwarding, survives SIGKILL (its own and a
// restart of the primary), and ends byte-identical to the primary (checksums).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { makeDataDir, rejection, scalar, sleep, startServer } from "./server.mjs";
import { rmSync } from "node:fs";

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

test("clients cannot write a replica's databases; nothing changes there", async () => {
  const c = replica.client();
  const e = await rejection(c.execute("INSERT INTO kv VALUES ('sneaky', 1)"));
  assert.match(e.message, /replica/i);
  assert.equal(await scalar(c, "SELECT count(*) FROM kv WHERE k = 'sneaky'"), 0);
  const admin = await replica.createNamespace("nope");
  assert.equal(admin.status, 409, admin.text);
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

test("a replica killed with SIGKILL resumes from its position; a restarted primary is followed again", async () => {
  await replica.kill();
  const c = primary.client();
  for (let i = 0; i < 20; i++) await c.execute({ sql: "INSERT INTO kv VALUES (?, ?)", args: [`while-down-${i}`, i] });
  replica = await startServer({ dataDir: replicaDir, args: ["--replica-of", primary.adminUrl.replace(/\/$/, "")] });
  await eventually(replica, "default", "SELECT count(*) FROM kv WHERE k LIKE 'while-down-%'", 20);
  let st = await replicaStatus(replica);
  let d = st.databases.find((x) => x.name === "default");
  assert.equal(d.snapshots, 0, "resuming must not need a snapshot: " + JSON.stringify(d));

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
