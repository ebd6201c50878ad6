// Stream and transaction lifetimes: idle streams expire and roll back, a transaction that holds the
// write lock past --txn-timeout-ms loses it to a waiting writer (and none of its work may be
// committed afterwards), per-stream session state does not leak, SIGTERM shuts down cleanly.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { LibsqlError } from "@libsql/client";
import { rejection, scalar, sleep, startServer } from "./server.mjs";

const stmt = (sql, extra = {}) => ({ sql, args: [], named_args: [], want_rows: true, ...extra });

describe("idle streams (--stream-idle-timeout-ms 1000)", () => {
  let server;
  let c;

  before(async () => {
    server = await startServer({ args: ["--stream-idle-timeout-ms", "1000"] });
    c = server.client();
    await c.execute("CREATE TABLE idle (v TEXT)");
  });

  after(async () => {
    await server?.stop();
  });

  test("an idle stream expires: its baton gets STREAM_EXPIRED, its transaction is rolled back", async () => {
    const open = await server.post("v2/pipeline", {
      requests: [
        { type: "execute", stmt: stmt("BEGIN IMMEDIATE", { want_rows: false }) },
        { type: "execute", stmt: stmt("INSERT INTO idle VALUES ('raw')") },
      ],
    });
    assert.equal(open.status, 200, open.text);
    assert.equal(open.json.results[1].type, "ok", open.text);
    await sleep(2500);
    const late = await server.post("v2/pipeline", {
      baton: open.json.baton,
      requests: [{ type: "execute", stmt: stmt("COMMIT", { want_rows: false }) }],
    });
    assert.ok(late.status >= 400 && late.status < 500, `${late.status} ${late.text}`);
    assert.equal(late.headers.get("content-type"), "application/json");
    assert.equal(late.json?.code, "STREAM_EXPIRED", late.text);
    assert.equal(await scalar(c, "SELECT count(*) FROM idle"), 0);
    // The write lock is free again.
    const t0 = Date.now();
    await c.execute("INSERT INTO idle VALUES ('after')");
    assert.ok(Date.now() - t0 < 1000, "write lock still held after the stream expired");
    await c.execute("DELETE FROM idle");
  });

  test("an interactive transaction left idle fails with STREAM_EXPIRED and writes nothing", async () => {
    const tx = await c.transaction("write");
    await tx.execute("INSERT INTO idle VALUES ('tx')");
    await sleep(2500);
    const e = await rejection(tx.execute("INSERT INTO idle VALUES ('tx2')"));
    assert.ok(e instanceof LibsqlError, String(e));
    assert.equal(e.code, "STREAM_EXPIRED");
    await rejection(tx.commit());
    tx.close();
    assert.equal(await scalar(c, "SELECT count(*) FROM idle"), 0);
  });

  test("a stream used regularly does not expire", async () => {
    const tx = await c.transaction("write");
    for (let i = 0; i < 5; i++) {
      await tx.execute({ sql: "INSERT INTO idle VALUES (?)", args: [`keep${i}`] });
      await sleep(500);
    }
    await tx.commit();
    assert.equal(await scalar(c, "SELECT count(*) FROM idle WHERE v LIKE 'keep%'"), 5);
  });
});

describe("write-lock timeout (--txn-timeout-ms 1000)", () => {
  let server;
  let a;
  let b;

  before(async () => {
    server = await startServer({ args: ["--txn-timeout-ms", "1000", "--stream-idle-timeout-ms", "10000"] });
    a = server.client();
    b = server.client();
    await a.execute("CREATE TABLE lock (v TEXT)");
  });

  after(async () => {
    await server?.stop();
  });

  test("without a waiting writer a long transaction keeps the lock and commits", async () => {
    const tx = await a.transaction("write");
    await tx.execute("INSERT INTO lock VALUES ('slow-1')");
    await sleep(1500);
    await tx.execute("INSERT INTO lock VALUES ('slow-2')");
    await tx.commit();
    assert.equal(await scalar(b, "SELECT count(*) FROM lock WHERE v LIKE 'slow-%'"), 2);
    await a.execute("DELETE FROM lock");
  });

  test("a waiting writer takes the lock after the timeout; the holder gets TRANSACTION_TIMEOUT", async () => {
    const tx = await a.transaction("write");
    await tx.execute("INSERT INTO lock VALUES ('holder-1')");
    const t0 = Date.now();
    await b.execute("INSERT INTO lock VALUES ('waiter')");
    const waited = Date.now() - t0;
    assert.ok(waited >= 500 && waited < 4000, `waiter got the lock after ${waited} ms`);
    const e = await rejection(tx.execute("INSERT INTO lock VALUES ('holder-2')"));
    assert.ok(e instanceof LibsqlError, String(e));
    assert.equal(e.code, "TRANSACTION_TIMEOUT");
    tx.close();
    const rs = await b.execute("SELECT v FROM lock ORDER BY rowid");
    assert.deepEqual(rs.rows.map((r) => r.v), ["waiter"]);
    await a.execute("DELETE FROM lock");
  });

  test("after TRANSACTION_TIMEOUT nothing more of that transaction may be committed", async () => {
    const tx = await a.transaction("write");
    await tx.execute("INSERT INTO lock VALUES ('tx-1')");
    await b.execute("INSERT INTO lock VALUES ('waiter')"); // steals the lock after ~1 s
    const first = await rejection(tx.execute("INSERT INTO lock VALUES ('tx-2')"));
    assert.equal(first.code, "TRANSACTION_TIMEOUT");
    // An application that carries on (or had these statements pipelined already) must not see
    // them committed one by one in autocommit mode: the transaction is gone.
    const later = await Promise.allSettled([
      tx.execute("INSERT INTO lock VALUES ('tx-3')"),
      tx.execute("INSERT INTO lock VALUES ('tx-4')"),
    ]);
    const commit = await Promise.allSettled([tx.commit()]);
    tx.close();
    const rs = await b.execute("SELECT v FROM lock ORDER BY rowid");
    assert.deepEqual(
      rs.rows.map((r) => r.v),
      ["waiter"],
      `statements after the timeout: ${later.map((r) => r.status).join(", ")}; commit: ${commit[0].status}`,
    );
    assert.ok(later.every((r) => r.status === "rejected"), "statements after the timeout must fail");
    assert.equal(commit[0].status, "rejected", "COMMIT after the timeout must fail");
    await a.execute("DELETE FROM lock");
  });
});

describe("per-stream session state", () => {
  let server;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    await server?.stop();
  });

  test("a TEMP table lives only as long as its stream", async () => {
    const c = server.client();
    const tx = await c.transaction("deferred");
    await tx.execute("CREATE TEMP TABLE scratch (x)");
    await tx.execute("INSERT INTO scratch VALUES (1)");
    assert.equal(await scalar(tx, "SELECT count(*) FROM scratch"), 1);
    await tx.commit();
    const e = await rejection(c.execute("SELECT * FROM scratch"));
    assert.match(e.message, /no such table: scratch/);
    const other = server.client();
    await rejection(other.execute("SELECT * FROM temp.scratch"));
  });

  test("a PRAGMA set by one request does not change another client's connection", async () => {
    const c = server.client();
    const d = server.client();
    await c.execute("PRAGMA case_sensitive_like = ON");
    await c.execute("PRAGMA foreign_keys = ON");
    // Many times, so that a pooled connection would be hit if state leaked.
    for (let i = 0; i < 20; i++) {
      assert.equal(await scalar(d, "SELECT 'abc' LIKE 'ABC'"), 1, "case_sensitive_like leaked");
    }
    const fk = await Promise.all(Array.from({ length: 20 }, () => scalar(d, "PRAGMA foreign_keys")));
    assert.ok(fk.every((v) => v === fk[0]), `foreign_keys differs between requests: ${fk}`);
  });
});

describe("shutdown", () => {
  test("SIGTERM exits 0 promptly with an open transaction, which is rolled back; committed data persists", async () => {
    const server = await startServer();
    const dataDir = server.dataDir;
    try {
      const c = server.client();
      await c.execute("CREATE TABLE persist (v TEXT)");
      await c.batch(["INSERT INTO persist VALUES ('committed-1')", "INSERT INTO persist VALUES ('committed-2')"], "write");
      const tx = await c.transaction("write");
      await tx.execute("INSERT INTO persist VALUES ('open-at-shutdown')");
      const t0 = Date.now();
      const res = await server.stop({ graceMs: 15000, keepDataDir: true });
      const took = Date.now() - t0;
      assert.equal(res.killed, false, "had to SIGKILL after SIGTERM");
      assert.equal(res.code, 0, `exit code ${res.code}, signal ${res.signal}`);
      assert.ok(took < 12000, `shutdown took ${took} ms`);

      const again = await startServer({ dataDir });
      try {
        const c2 = again.client();
        const rs = await c2.execute("SELECT v FROM persist ORDER BY rowid");
        assert.deepEqual(rs.rows.map((r) => r.v), ["committed-1", "committed-2"]);
        assert.equal(await scalar(c2, "PRAGMA integrity_check"), "ok");
        const clean = await again.stop({ keepDataDir: true });
        assert.equal(clean.code, 0);
      } finally {
        await again.stop({ keepDataDir: true });
      }
    } finally {
      server.removeDataDir();
    }
  });
});
