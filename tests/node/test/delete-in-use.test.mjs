// Deleting a database while clients use it (issue 4: "refuse while in use or wait, never
// corrupt"). Cairn waits: a statement running on the writer finishes first, an open transaction
// is rolled back, and from then on the database's clients get errors, never its old data; the
// directory is gone and a database created again under the name starts empty.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { rejection, scalar, startServer } from "./server.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

test("an open write transaction is rolled back; its commit fails; nothing of it survives", async () => {
  assert.equal((await server.createNamespace("busy")).status, 200);
  const c = server.client({ namespace: "busy" });
  await c.execute("CREATE TABLE t(v)");
  await c.execute("INSERT INTO t VALUES ('committed')");
  const tx = await c.transaction("write");
  await tx.execute("INSERT INTO t VALUES ('in the transaction')");

  const t0 = Date.now();
  const del = await server.deleteNamespace("busy");
  assert.equal(del.status, 200, del.text);
  assert.ok(Date.now() - t0 < 10000, "delete hung");
  assert.ok(!existsSync(join(server.dataDir, "databases", "busy")), "files left behind");

  const err = await rejection(tx.commit());
  assert.ok(err, "the commit of a deleted database's transaction succeeded");
  tx.close();
  const gone = await rejection(c.execute("SELECT count(*) FROM t"));
  assert.ok(gone, "the deleted database still answered");

  assert.equal((await server.createNamespace("busy")).status, 200);
  const again = server.client({ namespace: "busy" });
  const tables = await again.execute("SELECT name FROM sqlite_schema");
  assert.equal(tables.rows.length, 0, "a re-created database must start empty");
  assert.equal(await scalar(server.client(), "SELECT 41 + 1"), 42);
});

test("a write running when the delete comes finishes or fails whole; the server stays healthy", async () => {
  assert.equal((await server.createNamespace("long")).status, 200);
  const c = server.client({ namespace: "long" });
  await c.execute("CREATE TABLE t(v)");
  // About a second of work on the writer.
  const write = c
    .execute(
      "INSERT INTO t WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) " +
        "SELECT i FROM n",
    )
    .then(
      () => "ok",
      (e) => e,
    );
  await new Promise((r) => setTimeout(r, 100));
  const del = await server.deleteNamespace("long");
  assert.equal(del.status, 200, del.text);
  const outcome = await write;
  assert.ok(outcome === "ok" || outcome instanceof Error, String(outcome));
  assert.ok(!existsSync(join(server.dataDir, "databases", "long")), "files left behind");
  assert.equal((await server.admin("GET", "v1/namespaces/long/stats")).status, 404);
  assert.equal(await scalar(server.client(), "SELECT 41 + 1"), 42);
});
