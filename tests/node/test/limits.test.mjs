// Per-database limits through the admin API (docs/limits.md), seen by the real @libsql/client:
// max_db_size (BLOCKED, reads still work, nothing partly written, raising it helps at once),
// statement_timeout_ms, max_response_bytes, max_concurrent_streams, block_writes; creating a
// database from a template and with --migrations-dir (cairn migrate then sees the files applied).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rejection, scalar, startServer, runCairn } from "./server.mjs";

let server;
let migrations;

async function create(name, body) {
  const r = await server.admin("POST", `v1/namespaces/${name}/create`, body);
  assert.equal(r.status, 200, r.text);
}

async function config(name, body) {
  const r = await server.admin("POST", `v1/namespaces/${name}/config`, body);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

before(async () => {
  migrations = mkdtempSync(join(tmpdir(), "cairn-limits-migrations-"));
  writeFileSync(join(migrations, "0001_notes.sql"), "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n");
  writeFileSync(join(migrations, "0002_seed.sql"), "INSERT INTO notes(body) VALUES ('welcome');\n");
  server = await startServer({
    args: ["--statement-timeout-ms", "60000", "--migrations-dir", migrations],
  });
});

after(async () => {
  await server?.stop();
  if (migrations) rmSync(migrations, { recursive: true, force: true });
});

describe("per-database limits", () => {
  test("max_db_size: writes past it fail with BLOCKED, reads work, nothing is half written", async () => {
    await create("quota", { max_db_size: "256kb" });
    const db = server.client({ namespace: "quota" });
    await db.execute("CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)");
    let stored = 0;
    let error;
    for (let i = 0; i < 200 && error === undefined; i++) {
      try {
        await db.execute("INSERT INTO blobs(b) VALUES (randomblob(4000))");
        stored++;
      } catch (e) {
        error = e;
      }
    }
    assert.ok(error, "256 kB never filled up");
    assert.equal(error.code, "BLOCKED", String(error));
    assert.match(error.message, /size limit/);
    assert.ok(stored > 10 && stored < 64, `stored ${stored}`);
    assert.equal(Number(await scalar(db, "SELECT count(*) FROM blobs")), stored);

    // A batch that would cross the limit is all or nothing.
    const batch = await rejection(
      db.batch(Array.from({ length: 20 }, () => "INSERT INTO blobs(b) VALUES (randomblob(4000))"), "write"),
    );
    assert.equal(batch.code, "BLOCKED", String(batch));
    assert.equal(Number(await scalar(db, "SELECT count(*) FROM blobs")), stored);
    assert.equal(Number(await scalar(db, "SELECT sum(length(b)) FROM blobs")), stored * 4000);

    // Raised: the same database takes writes again, without reopening anything.
    const cfg = await config("quota", { max_db_size: "10mb" });
    assert.equal(cfg.max_db_size, 10_000_000);
    await db.batch(Array.from({ length: 20 }, () => "INSERT INTO blobs(b) VALUES (randomblob(4000))"), "write");
    assert.equal(Number(await scalar(db, "SELECT count(*) FROM blobs")), stored + 20);
  });

  test("statement_timeout_ms overrides --statement-timeout-ms for one database", async () => {
    await create("slow", { statement_timeout_ms: 1 });
    const db = server.client({ namespace: "slow" });
    const count = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c";
    const e = await rejection(db.execute(count));
    assert.equal(e.code, "QUERY_TIMEOUT", String(e));
    // Back to the server's 60 s: the same statement completes.
    assert.equal((await config("slow", { statement_timeout_ms: null })).statement_timeout_ms, null);
    assert.equal(Number(await scalar(db, count)), 3000000);
  });

  test("max_response_bytes overrides --max-response-bytes for one database", async () => {
    await create("small", { max_response_bytes: 2000 });
    await create("big");
    for (const name of ["small", "big"]) {
      const db = server.client({ namespace: name });
      await db.execute("CREATE TABLE t(v TEXT)");
      await db.execute("INSERT INTO t VALUES (printf('%.3000c', 'x'))");
    }
    const e = await rejection(server.client({ namespace: "small" }).execute("SELECT v FROM t"));
    assert.equal(e.code, "RESPONSE_TOO_LARGE", String(e));
    const rs = await server.client({ namespace: "big" }).execute("SELECT v FROM t");
    assert.equal(rs.rows[0].v.length, 3000);
    // Small answers still come back from the limited database.
    assert.equal(Number(await scalar(server.client({ namespace: "small" }), "SELECT length(v) FROM t")), 3000);
  });

  test("max_concurrent_streams: a stream beyond it gets TOO_MANY_STREAMS until one ends", async () => {
    await create("streams", { max_concurrent_streams: 2 });
    const db = server.client({ namespace: "streams" });
    const a = await db.transaction("read");
    const b = await db.transaction("read");
    await a.execute("SELECT 1");
    await b.execute("SELECT 1");
    const e = await rejection(db.execute("SELECT 1"));
    assert.equal(e.code, "TOO_MANY_STREAMS", String(e));
    assert.match(e.message, /max_concurrent_streams 2/);
    // Another database is not affected.
    assert.equal(Number(await scalar(server.client({ namespace: "big" }), "SELECT 7")), 7);
    await a.commit();
    assert.equal(Number(await scalar(db, "SELECT 8")), 8);
    await b.rollback();
    a.close();
    b.close();
  });

  test("block_writes refuses writes with its reason; reads keep working", async () => {
    await create("frozen");
    const db = server.client({ namespace: "frozen" });
    await db.execute("CREATE TABLE t(v)");
    await db.execute("INSERT INTO t VALUES (1)");
    await config("frozen", { block_writes: true, block_reason: "plan expired" });
    const e = await rejection(db.execute("INSERT INTO t VALUES (2)"));
    assert.equal(e.code, "BLOCKED", String(e));
    assert.match(e.message, /plan expired/);
    assert.equal(Number(await scalar(db, "SELECT count(*) FROM t")), 1);
    await config("frozen", { block_writes: false });
    await db.execute("INSERT INTO t VALUES (2)");
    assert.equal(Number(await scalar(db, "SELECT count(*) FROM t")), 2);
  });

  test("bad config is refused and changes nothing", async () => {
    for (const body of [{ max_db_size: "huge" }, { statement_timeout_ms: -1 }, { unknown_field: 1 }, "not json"]) {
      const r = await server.admin("POST", "v1/namespaces/frozen/config", body);
      assert.equal(r.status, 400, r.text);
      assert.ok(r.json.message.length > 0);
    }
    const got = await server.admin("GET", "v1/namespaces/frozen/config");
    assert.equal(got.json.block_writes, false);
    assert.equal(got.json.max_db_size, null);
    const missing = await server.admin("GET", "v1/namespaces/no-such-db/config");
    assert.equal(missing.status, 404);
  });
});

describe("creating databases", () => {
  test("--migrations-dir: the default database made at the first start has every migration", async () => {
    const db = server.client();
    assert.equal(await scalar(db, "SELECT body FROM notes"), "welcome");
    const rs = await db.execute("SELECT name FROM _cairn_migrations ORDER BY version");
    assert.deepEqual(rs.rows.map((r) => r.name), ["0001_notes.sql", "0002_seed.sql"]);
  });

  test("a template's and a fork's limits follow them, blocks aside; the body's fields win", async () => {
    await create("limited", {
      max_db_size: "10mb",
      max_concurrent_streams: 7,
      statement_timeout_ms: 4000,
      block_writes: true,
      block_reason: "golden copy",
    });
    const get = async (name) => {
      const r = await server.admin("GET", `v1/namespaces/${name}/config`);
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const inherited = {
      max_db_size: 10000000,
      block_reads: false,
      block_writes: false,
      block_reason: null,
      statement_timeout_ms: 4000,
      max_response_bytes: null,
      max_concurrent_streams: 7,
      sync_replicas: null,
      sync_timeout_ms: null,
      sync_backup: false,
    };
    await create("from-tpl", { template: "limited" });
    assert.deepEqual(await get("from-tpl"), inherited);
    await create("from-tpl-2", { template: "limited", max_concurrent_streams: 2, max_db_size: null });
    assert.deepEqual(await get("from-tpl-2"), { ...inherited, max_concurrent_streams: 2, max_db_size: null });
    // Not blocked: the template's block_writes stayed with the template.
    const child = server.client({ namespace: "from-tpl" });
    await child.execute("INSERT INTO notes(body) VALUES ('writable')");

    const fork = await server.admin("POST", "v1/namespaces/limited/fork/forked", {});
    assert.equal(fork.status, 200, fork.text);
    assert.deepEqual(await get("forked"), inherited);
    const fork2 = await server.admin("POST", "v1/namespaces/limited/fork/forked-2", {
      statement_timeout_ms: null,
      block_writes: true,
    });
    assert.equal(fork2.status, 200, fork2.text);
    assert.deepEqual(await get("forked-2"), { ...inherited, statement_timeout_ms: null, block_writes: true });
    const bad = await server.admin("POST", "v1/namespaces/limited/fork/forked-3", { max_db_size: "lots" });
    assert.equal(bad.status, 400, bad.text);
    const list = await server.admin("GET", "v1/namespaces");
    assert.ok(!list.json.namespaces.includes("forked-3"));
    // The source keeps its own.
    assert.equal((await get("limited")).block_writes, true);
  });

  test("--migrations-dir: a new database has every migration, recorded for cairn migrate", async () => {
    await create("fresh");
    const db = server.client({ namespace: "fresh" });
    assert.equal(await scalar(db, "SELECT body FROM notes"), "welcome");
    const rs = await db.execute("SELECT version, name FROM _cairn_migrations ORDER BY version");
    assert.deepEqual(rs.rows.map((r) => [Number(r.version), r.name]), [
      [1, "0001_notes.sql"],
      [2, "0002_seed.sql"],
    ]);
    const st = await runCairn(["migrate", "status", migrations, "--db", "fresh", "--json", "--url", server.url, "--admin-url", server.adminUrl]);
    assert.equal(st.code, 0, st.err);
    assert.equal(JSON.parse(st.out).databases[0].status, "up_to_date");
  });

  test("from a template: a copy of it (then the migrations it lacks); the template is untouched", async () => {
    await create("tpl");
    const t = server.client({ namespace: "tpl" });
    await t.execute("INSERT INTO notes(body) VALUES ('from the template')");
    await create("child", { template: "tpl", max_concurrent_streams: 5 });
    const c = server.client({ namespace: "child" });
    const rows = await c.execute("SELECT body FROM notes ORDER BY id");
    assert.deepEqual(rows.rows.map((r) => r.body), ["welcome", "from the template"]);
    await c.execute("INSERT INTO notes(body) VALUES ('child only')");
    assert.equal(Number(await scalar(t, "SELECT count(*) FROM notes")), 2);
    const cfg = await server.admin("GET", "v1/namespaces/child/config");
    assert.equal(cfg.json.max_concurrent_streams, 5);

    const missing = await server.admin("POST", "v1/namespaces/orphan/create", { template: "no-such" });
    assert.equal(missing.status, 404, missing.text);
    const list = await server.admin("GET", "v1/namespaces");
    assert.ok(!list.json.namespaces.includes("orphan"));
  });
});
