// Reads never queue behind writes: while one client runs a long write (and while another holds
// the write lock in an open transaction), other clients' reads keep completing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { namespaceFetch, startServer } from "./server.mjs";

let server;
before(async () => {
  // One network thread: a write run there would hold up every read.
  server = await startServer({ args: ["--statement-timeout-ms", "20000", "--network-threads", "1"] });
});
after(async () => {
  await server?.stop();
});

describe("reads do not queue behind writes", () => {
  test("reads finish while a long write runs", async () => {
    const writer = createClient({ url: server.url.toString() });
    const reader = createClient({ url: server.url.toString() });
    await writer.execute("CREATE TABLE big(x INTEGER, pad TEXT)");
    await writer.execute("CREATE TABLE small(x)");
    await writer.execute("INSERT INTO small VALUES (1), (2), (3)");
    let writeDone = false;
    const write = writer
      .execute(
        "INSERT INTO big WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1500000) " +
          "SELECT x, printf('%050d', x) FROM c",
      )
      .then((rs) => {
        writeDone = true;
        return rs;
      });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(writeDone, false, "the write should still be running; make it longer");
    let readsBeforeWriteEnded = 0;
    for (let i = 0; i < 30; i++) {
      const rs = await reader.execute("SELECT count(*) AS n FROM small");
      assert.equal(Number(rs.rows[0].n), 3);
      if (!writeDone) readsBeforeWriteEnded++;
    }
    const rs = await write;
    assert.equal(rs.rowsAffected, 1500000);
    assert.ok(readsBeforeWriteEnded >= 25, `only ${readsBeforeWriteEnded} of 30 reads finished during the write`);
    writer.close();
    reader.close();
  });

  test("reads finish while another client holds the write lock in a transaction", async () => {
    const a = createClient({ url: server.url.toString() });
    const b = createClient({ url: server.url.toString() });
    const tx = await a.transaction("write");
    await tx.execute("INSERT INTO small VALUES (4)");
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      const rs = await b.execute("SELECT count(*) AS n FROM small");
      assert.equal(Number(rs.rows[0].n), 3, "uncommitted row must not be visible");
    }
    assert.ok(Date.now() - started < 4000, "reads were held up by the open transaction");
    await tx.commit();
    const rs = await b.execute("SELECT count(*) AS n FROM small");
    assert.equal(Number(rs.rows[0].n), 4);
    a.close();
    b.close();
  });
});

describe("a transaction that holds the write lock is not held up by the writers waiting for it", () => {
  let small;
  before(async () => {
    small = await startServer({ args: ["--blocking-threads", "4"] });
  });
  after(async () => {
    await small?.stop();
  });

  for (const scheme of ["http", "ws"]) {
    test(`over ${scheme}: COMMIT completes while more writers wait than there are blocking threads`, async () => {
      const url = small.url.toString().replace(/^http:/, `${scheme}:`);
      const owner = createClient({ url });
      const table = `held_${scheme}`;
      await owner.execute(`CREATE TABLE ${table} (x)`);
      const tx = await owner.transaction("write");
      await tx.execute(`INSERT INTO ${table} VALUES (1)`);
      // 12 writers, each on its own connection, wait for the lock: they take every blocking
      // thread (4) and queue for more.
      const waiters = [];
      const others = [];
      for (let i = 0; i < 12; i++) {
        const c = createClient({ url: small.url.toString() });
        others.push(c);
        waiters.push(c.execute({ sql: `INSERT INTO ${table} VALUES (?)`, args: [i + 2] }));
      }
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await tx.commit();  // before the fix: queued behind the waiters until the lock timeout
      const took = Date.now() - started;
      assert.ok(took < 2000, `COMMIT took ${took} ms`);
      await Promise.all(waiters);
      const rs = await owner.execute(`SELECT count(*) AS n FROM ${table}`);
      assert.equal(Number(rs.rows[0].n), 13);  // the transaction's row and every waiter's
      for (const c of [owner, ...others]) c.close();
    });
  }
});

describe("writers queued on one database do not hold up writes to another", () => {
  let small;
  before(async () => {
    // 4 blocking threads: without a per-database limit, 12 queued writers take them all.
    small = await startServer({ args: ["--blocking-threads", "4"] });
    const r = await fetch(new URL("v1/namespaces/other/create", small.adminUrl), { method: "POST" });
    assert.equal(r.status, 200, await r.text());
  });
  after(async () => {
    await small?.stop();
  });

  test("a write to database B completes while A's lock holder keeps 12 writers waiting", async () => {
    const url = small.url.toString();
    const owner = createClient({ url });
    const b = createClient({ url, fetch: namespaceFetch("other") });
    await owner.execute("CREATE TABLE a (x)");
    await b.execute("CREATE TABLE b (x)");
    const tx = await owner.transaction("write");
    await tx.execute("INSERT INTO a VALUES (1)");
    const clients = [];
    const waiters = [];
    for (let i = 0; i < 12; i++) {
      const c = createClient({ url });
      clients.push(c);
      waiters.push(c.execute({ sql: "INSERT INTO a VALUES (?)", args: [i + 2] }));
    }
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await b.execute("INSERT INTO b VALUES (1)");  // before the fix: ~the lock timeout
    const took = Date.now() - started;
    assert.ok(took < 2000, `the write to the other database took ${took} ms`);
    await tx.commit();
    await Promise.all(waiters);
    const rs = await owner.execute("SELECT count(*) AS n FROM a");
    assert.equal(Number(rs.rows[0].n), 13);
    for (const c of [owner, b, ...clients]) c.close();
  });
});
