// Batches (all-or-nothing in every mode), executeMultiple, interactive transactions and
// concurrency, through @libsql/client.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { LibsqlError } from "@libsql/client";
import { rejection, scalar, sleep, startServer } from "./server.mjs";

let server;
let c1;
let c2;

before(async () => {
  server = await startServer();
  c1 = server.client();
  c2 = server.client();
});

after(async () => {
  await server?.stop();
});

function assertLibsqlError(e, codePrefix) {
  assert.ok(e instanceof LibsqlError, `expected a LibsqlError, got ${e?.name}: ${e?.message}`);
  assert.equal(typeof e.code, "string");
  if (codePrefix !== undefined) {
    assert.ok(e.code.startsWith(codePrefix), `code ${e.code} does not start with ${codePrefix} (${e.message})`);
  }
}

async function count(table, client = c1) {
  return scalar(client, `SELECT count(*) FROM ${table}`);
}

describe("batch", () => {
  for (const mode of ["write", "deferred"]) {
    test(`"${mode}" batch commits every statement and returns one result per statement`, async () => {
      const t = `b_ok_${mode}`;
      const results = await c1.batch(
        [
          `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT UNIQUE)`,
          { sql: `INSERT INTO ${t} (name) VALUES (?)`, args: ["a"] },
          [`INSERT INTO ${t} (name) VALUES (?), (?)`, ["b", "c"]],
          { sql: `INSERT INTO ${t} (name) VALUES (:n)`, args: { n: "d" } },
          `SELECT name FROM ${t} ORDER BY id`,
          `UPDATE ${t} SET name = upper(name) WHERE id > 2`,
        ],
        mode,
      );
      assert.equal(results.length, 6);
      assert.equal(results[1].rowsAffected, 1);
      assert.equal(results[1].lastInsertRowid, 1n);
      assert.equal(results[2].rowsAffected, 2);
      assert.deepEqual(results[4].rows.map((r) => r.name), ["a", "b", "c", "d"]);
      assert.equal(results[5].rowsAffected, 2);
      const rs = await c2.execute(`SELECT name FROM ${t} ORDER BY id`);
      assert.deepEqual(rs.rows.map((r) => r.name), ["a", "b", "C", "D"]);
    });

    test(`"${mode}" batch is all-or-nothing: a constraint error in the middle rolls it back`, async () => {
      const t = `b_fail_${mode}`;
      await c1.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)`);
      await c1.execute(`INSERT INTO ${t} (name) VALUES ('existing')`);
      const e = await rejection(
        c1.batch(
          [
            `INSERT INTO ${t} (name) VALUES ('one')`,
            `UPDATE ${t} SET name = 'renamed' WHERE name = 'existing'`,
            `INSERT INTO ${t} (name) VALUES ('one')`, // duplicate → SQLITE_CONSTRAINT
            `INSERT INTO ${t} (name) VALUES ('three')`,
          ],
          mode,
        ),
      );
      assertLibsqlError(e, "SQLITE_CONSTRAINT");
      assert.equal(e.code, "SQLITE_CONSTRAINT");
      assert.equal(e.statementIndex, 2);
      const rs = await c2.execute(`SELECT name FROM ${t} ORDER BY id`);
      assert.deepEqual(rs.rows.map((r) => r.name), ["existing"]);
      // The write lock was released: another writer gets through promptly.
      const t0 = Date.now();
      await c2.execute(`INSERT INTO ${t} (name) VALUES ('after')`);
      assert.ok(Date.now() - t0 < 2000, "write after a failed batch was delayed");
      assert.equal(await count(t), 2);
    });
  }

  test(`"read" batch with only reads succeeds`, async () => {
    await c1.execute("CREATE TABLE b_read (v INTEGER)");
    await c1.execute("INSERT INTO b_read VALUES (1), (2), (3)");
    const results = await c1.batch(["SELECT sum(v) FROM b_read", "SELECT count(*) FROM b_read"], "read");
    assert.equal(results[0].rows[0][0], 6);
    assert.equal(results[1].rows[0][0], 3);
  });

  test(`"read" batch that tries to write fails and changes nothing`, async () => {
    await c1.execute("CREATE TABLE b_read_w (v INTEGER)");
    await c1.execute("INSERT INTO b_read_w VALUES (1)");
    for (const stmts of [
      ["INSERT INTO b_read_w VALUES (2)"],
      ["SELECT count(*) FROM b_read_w", "UPDATE b_read_w SET v = 100", "SELECT 1"],
      ["DELETE FROM b_read_w"],
      ["CREATE TABLE b_read_new (x)"],
    ]) {
      const e = await rejection(c1.batch(stmts, "read"));
      assertLibsqlError(e);
      assert.equal(e.code, "SQLITE_READONLY", `read batch ${JSON.stringify(stmts)}: ${e.message}`);
    }
    const rs = await c2.execute("SELECT v FROM b_read_w");
    assert.deepEqual(rs.rows.map((r) => r.v), [1]);
    const tables = await c2.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'b_read_new'");
    assert.equal(tables.rows[0][0], 0);
    // Read-only enforcement ends with the batch: a later write on the same client works.
    await c1.batch(["INSERT INTO b_read_w VALUES (7)"], "write");
    assert.equal(await count("b_read_w"), 2);
  });

  test("batch with many distinct statements (beyond the client's SQL cache) and repeated ones", async () => {
    await c1.execute("CREATE TABLE b_many (k TEXT, v INTEGER)");
    const stmts = [];
    for (let i = 0; i < 40; i++) stmts.push(`INSERT INTO b_many VALUES ('k${i}', ${i})`);
    for (let i = 0; i < 200; i++) stmts.push({ sql: "INSERT INTO b_many VALUES (?, ?)", args: [`r${i}`, i] });
    const results = await c1.batch(stmts, "write");
    assert.equal(results.length, 240);
    assert.ok(results.every((r) => r.rowsAffected === 1));
    assert.equal(await count("b_many"), 240);
    assert.equal(await scalar(c1, "SELECT sum(v) FROM b_many"), (39 * 40) / 2 + (199 * 200) / 2);
  });

  test("empty batch resolves to an empty array", async () => {
    assert.deepEqual(await c1.batch([], "write"), []);
  });
});

describe("executeMultiple", () => {
  test("runs every statement of a script in order", async () => {
    await c1.executeMultiple(`
      CREATE TABLE m1 (id INTEGER PRIMARY KEY, v TEXT);
      -- a comment; with a semicolon
      INSERT INTO m1 (v) VALUES ('a;b');
      INSERT INTO m1 (v) VALUES ('c'); /* block; comment */
      UPDATE m1 SET v = v || '!' WHERE id = 2;
    `);
    const rs = await c1.execute("SELECT v FROM m1 ORDER BY id");
    assert.deepEqual(rs.rows.map((r) => r.v), ["a;b", "c!"]);
  });

  test("a script with its own BEGIN/COMMIT", async () => {
    await c1.executeMultiple(
      "CREATE TABLE m2 (v); BEGIN; INSERT INTO m2 VALUES (1); INSERT INTO m2 VALUES (2); COMMIT;",
    );
    assert.equal(await count("m2"), 2);
  });

  test("stops at the first failing statement; earlier statements stay applied", async () => {
    await c1.execute("CREATE TABLE m3 (v)");
    const e = await rejection(
      c1.executeMultiple("INSERT INTO m3 VALUES (1); INSERT INTO no_such_table VALUES (1); INSERT INTO m3 VALUES (2);"),
    );
    assertLibsqlError(e, "SQL_INPUT_ERROR");
    const rs = await c1.execute("SELECT v FROM m3");
    assert.deepEqual(rs.rows.map((r) => r.v), [1]);
  });
});

describe("interactive transactions", () => {
  test("commit makes the writes visible; they are invisible to others before", async () => {
    await c1.execute("CREATE TABLE t_commit (v INTEGER)");
    const tx = await c1.transaction("write");
    const ins = await tx.execute({ sql: "INSERT INTO t_commit VALUES (?)", args: [1] });
    assert.equal(ins.rowsAffected, 1);
    await tx.execute("INSERT INTO t_commit VALUES (2)");
    assert.equal(await scalar(tx, "SELECT count(*) FROM t_commit"), 2, "own writes are visible in the tx");
    assert.equal(await count("t_commit", c2), 0, "uncommitted writes leaked to another client");
    const br = await tx.batch(["INSERT INTO t_commit VALUES (3)", "SELECT count(*) FROM t_commit"]);
    assert.equal(br[1].rows[0][0], 3);
    await tx.commit();
    assert.ok(tx.closed);
    assert.equal(await count("t_commit", c2), 3);
  });

  test("rollback discards the writes", async () => {
    await c1.execute("CREATE TABLE t_rollback (v INTEGER)");
    await c1.execute("INSERT INTO t_rollback VALUES (0)");
    const tx = await c1.transaction("write");
    await tx.execute("INSERT INTO t_rollback VALUES (1)");
    await tx.execute("DELETE FROM t_rollback WHERE v = 0");
    await tx.executeMultiple("INSERT INTO t_rollback VALUES (2); INSERT INTO t_rollback VALUES (3);");
    assert.equal(await scalar(tx, "SELECT count(*) FROM t_rollback"), 3);
    await tx.rollback();
    const rs = await c2.execute("SELECT v FROM t_rollback");
    assert.deepEqual(rs.rows.map((r) => r.v), [0]);
  });

  test("close() without commit rolls back and releases the write lock", async () => {
    await c1.execute("CREATE TABLE t_close (v INTEGER)");
    const tx = await c1.transaction("write");
    await tx.execute("INSERT INTO t_close VALUES (1)");
    tx.close();
    assert.ok(tx.closed);
    const t0 = Date.now();
    // Needs the write lock the closed transaction held.
    await c2.execute("INSERT INTO t_close VALUES (2)");
    const waited = Date.now() - t0;
    assert.ok(waited < 2000, `write after tx.close() waited ${waited} ms`);
    const rs = await c2.execute("SELECT v FROM t_close");
    assert.deepEqual(rs.rows.map((r) => r.v), [2]);
  });

  test("a statement error inside a transaction does not end it", async () => {
    await c1.execute("CREATE TABLE t_err (v INTEGER PRIMARY KEY)");
    const tx = await c1.transaction("write");
    await tx.execute("INSERT INTO t_err VALUES (1)");
    const dup = await rejection(tx.execute("INSERT INTO t_err VALUES (1)"));
    assertLibsqlError(dup, "SQLITE_CONSTRAINT");
    const syntax = await rejection(tx.execute("INSERT INTO t_err VALUES ("));
    assertLibsqlError(syntax);
    const missing = await rejection(tx.execute("SELECT * FROM t_err_missing"));
    assertLibsqlError(missing, "SQL_INPUT_ERROR");
    assert.ok(!tx.closed);
    await tx.execute("INSERT INTO t_err VALUES (2)");
    await tx.commit();
    const rs = await c2.execute("SELECT v FROM t_err ORDER BY v");
    assert.deepEqual(rs.rows.map((r) => r.v), [1, 2]);
  });

  test("transaction(\"read\") refuses writes and leaves the data unchanged", async () => {
    await c1.execute("CREATE TABLE t_read (v INTEGER)");
    await c1.execute("INSERT INTO t_read VALUES (1)");
    const tx = await c1.transaction("read");
    assert.equal(await scalar(tx, "SELECT count(*) FROM t_read"), 1);
    const e = await rejection(tx.execute("INSERT INTO t_read VALUES (2)"));
    assertLibsqlError(e);
    assert.equal(e.code, "SQLITE_READONLY");
    const e2 = await rejection(tx.execute("UPDATE t_read SET v = 5"));
    assert.equal(e2.code, "SQLITE_READONLY");
    // Still usable for reads after the refused write.
    assert.equal(await scalar(tx, "SELECT sum(v) FROM t_read"), 1);
    await tx.commit();
    const rs = await c2.execute("SELECT v FROM t_read");
    assert.deepEqual(rs.rows.map((r) => r.v), [1]);
  });

  test("a read transaction keeps its snapshot while another client writes", async () => {
    await c1.execute("CREATE TABLE t_snap (v INTEGER)");
    await c1.execute("INSERT INTO t_snap VALUES (1)");
    const tx = await c1.transaction("read");
    assert.equal(await scalar(tx, "SELECT count(*) FROM t_snap"), 1);
    await c2.execute("INSERT INTO t_snap VALUES (2)");
    assert.equal(await scalar(tx, "SELECT count(*) FROM t_snap"), 1, "read tx saw a later commit");
    await tx.commit();
    assert.equal(await count("t_snap"), 2);
  });

  test("deferred transaction may read and then write", async () => {
    await c1.execute("CREATE TABLE t_def (v INTEGER)");
    const tx = await c1.transaction("deferred");
    assert.equal(await scalar(tx, "SELECT count(*) FROM t_def"), 0);
    await tx.execute("INSERT INTO t_def VALUES (1)");
    await tx.commit();
    assert.equal(await count("t_def", c2), 1);
  });

  test("two concurrent write transactions from two clients: the second waits, both succeed", async () => {
    await c1.execute("CREATE TABLE t_conc (who TEXT)");
    const events = [];
    const a = await c1.transaction("write");
    await a.execute("INSERT INTO t_conc VALUES ('a')");
    const second = (async () => {
      const b = await c2.transaction("write");
      await b.execute("INSERT INTO t_conc VALUES ('b')");
      events.push("b-inserted");
      const seen = await scalar(b, "SELECT count(*) FROM t_conc");
      await b.commit();
      events.push("b-committed");
      return seen;
    })();
    await sleep(400);
    events.push("a-commit");
    await a.commit();
    const seenByB = await second;
    assert.deepEqual(events, ["a-commit", "b-inserted", "b-committed"]);
    assert.equal(seenByB, 2, "b should see a's committed row");
    const rs = await c1.execute("SELECT who FROM t_conc ORDER BY rowid");
    assert.deepEqual(rs.rows.map((r) => r.who), ["a", "b"]);
  });
});

describe("concurrent read-modify-write transactions", () => {
  test("8 clients × 5 write transactions incrementing one counter lose no update", async () => {
    await c1.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    await c1.execute("INSERT INTO counter VALUES (1, 0)");
    const clients = Array.from({ length: 8 }, () => server.client());
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < 5; i++) {
          const tx = await c.transaction("write");
          try {
            const n = await scalar(tx, "SELECT n FROM counter WHERE id = 1");
            await tx.execute({ sql: "UPDATE counter SET n = ? WHERE id = 1", args: [n + 1] });
            await tx.commit();
          } finally {
            tx.close();
          }
        }
      }),
    );
    assert.equal(await scalar(c1, "SELECT n FROM counter WHERE id = 1"), 40);
  });
});

describe("concurrent autocommit writes", () => {
  test("50 concurrent inserts from one client all succeed", async () => {
    await c1.execute("CREATE TABLE conc1 (id INTEGER PRIMARY KEY, v INTEGER)");
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => c1.execute({ sql: "INSERT INTO conc1 (v) VALUES (?)", args: [i] })),
    );
    assert.ok(results.every((r) => r.rowsAffected === 1));
    const ids = new Set(results.map((r) => r.lastInsertRowid));
    assert.equal(ids.size, 50, "every insert got its own rowid");
    assert.equal(await count("conc1"), 50);
    assert.equal(await scalar(c1, "SELECT sum(v) FROM conc1"), (49 * 50) / 2);
  });

  test("concurrent inserts from 5 clients, with concurrent readers, all succeed", async () => {
    await c1.execute("CREATE TABLE conc5 (c INTEGER, i INTEGER, UNIQUE (c, i))");
    const clients = Array.from({ length: 5 }, () => server.client({ concurrency: 10 }));
    const work = [];
    clients.forEach((c, ci) => {
      for (let i = 0; i < 40; i++) work.push(c.execute({ sql: "INSERT INTO conc5 VALUES (?, ?)", args: [ci, i] }));
      for (let i = 0; i < 10; i++) work.push(c.execute("SELECT count(*) FROM conc5"));
    });
    await Promise.all(work);
    assert.equal(await count("conc5"), 200);
  });
});
