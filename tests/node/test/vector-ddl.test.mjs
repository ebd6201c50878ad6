// Vector-index DDL and the writes triggers cannot see, through the real @libsql/client against the
// real server: executeMultiple (Hrana `sequence`) rewrites libSQL's CREATE/DROP INDEX as execute
// does, DROP TABLE drops the table's vector indexes (atomically: a rolled-back drop keeps both),
// renaming the table or its column keeps the index working, and rows that REPLACE removes on
// another unique column (no delete trigger runs) are never returned.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rejection, startServer } from "./server.mjs";

let server;
let client;

before(async () => {
  server = await startServer();
  client = server.client();
});

after(async () => {
  await server?.stop();
});

async function ids(sql, args = []) {
  const rs = await client.execute({ sql, args });
  return rs.rows.map((row) => Number(row[0]));
}

async function tables() {
  const rs = await client.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
  return rs.rows.map((row) => row.name);
}

test("executeMultiple runs libSQL's vector-index DDL like execute", async () => {
  await client.executeMultiple(`
    CREATE TABLE docs (id INTEGER PRIMARY KEY, slug TEXT UNIQUE, emb F32_BLOB(2));
    CREATE INDEX docs_idx ON docs (libsql_vector_idx(emb, 'metric=cosine'));
    INSERT INTO docs VALUES (1, 'a', vector('[1,0]')), (2, 'b', vector('[0,1]')), (3, 'c', vector('[1,1]'));
  `);
  assert.deepEqual(await ids("SELECT id FROM vector_top_k('docs_idx', vector('[1,0]'), 3)"), [1, 3, 2]);
  await client.executeMultiple("DROP INDEX docs_idx; CREATE INDEX docs_l2 ON docs (libsql_vector_idx(emb, 'metric=l2'));");
  assert.deepEqual(await tables(), ["docs", "docs_l2", "docs_l2_edges", "docs_l2_meta", "docs_l2_vectors"]);
  assert.deepEqual(await ids("SELECT id FROM vector_top_k('docs_l2', vector('[1,0.1]'), 2)"), [1, 3]);
});

test("rows REPLACE removes on another unique column are never returned", async () => {
  // Upserts by slug: each replaces a row with a new rowid, without firing the delete trigger.
  for (let round = 0; round < 5; round++) {
    await client.batch(
      ["a", "b", "c"].map((slug, i) => ({
        sql: "INSERT OR REPLACE INTO docs (slug, emb) VALUES (?, vector(?))",
        args: [slug, `[${round + 1},${i}]`],
      })),
      "write",
    );
  }
  const live = await ids("SELECT id FROM docs ORDER BY id");
  assert.equal(live.length, 3);
  const got = await ids("SELECT id FROM vector_top_k('docs_l2', vector('[5,0]'), 3)");
  assert.deepEqual([...got].sort((a, b) => a - b), live);
  assert.equal(got[0], live[0]); // slug 'a' = [5,0]
  const joined = await client.execute(
    "SELECT docs.slug FROM vector_top_k('docs_l2', vector('[5,2]'), 2) AS v JOIN docs ON docs.rowid = v.id",
  );
  assert.deepEqual(joined.rows.map((row) => row.slug), ["c", "b"]);
});

test("renaming the table and the indexed column keeps the index working", async () => {
  await client.execute("ALTER TABLE docs RENAME TO notes");
  await client.execute("ALTER TABLE notes RENAME COLUMN emb TO embedding");
  await client.execute("INSERT INTO notes (slug, embedding) VALUES ('d', vector('[-1,0]'))");
  await client.execute("UPDATE notes SET embedding = vector('[0,-9]') WHERE slug = 'a'");
  const got = await client.execute(
    "SELECT notes.slug FROM vector_top_k('docs_l2', vector('[-1,0]'), 1) AS v JOIN notes ON notes.rowid = v.id",
  );
  assert.deepEqual(got.rows.map((row) => row.slug), ["d"]);
  const far = await client.execute(
    "SELECT notes.slug FROM vector_top_k('docs_l2', vector('[0,-10]'), 1) AS v JOIN notes ON notes.rowid = v.id",
  );
  assert.deepEqual(far.rows.map((row) => row.slug), ["a"]);
});

test("DROP TABLE drops its vector indexes, atomically", async () => {
  const tx = await client.transaction("write");
  await tx.execute("DROP TABLE notes");
  assert.equal(Number((await tx.execute("SELECT count(*) FROM sqlite_schema")).rows[0][0]), 0);
  await tx.rollback();
  assert.deepEqual(await tables(), ["docs_l2", "docs_l2_edges", "docs_l2_meta", "docs_l2_vectors", "notes"]);
  assert.equal((await ids("SELECT id FROM vector_top_k('docs_l2', vector('[-1,0]'), 1)")).length, 1);

  await client.executeMultiple("DROP TABLE notes; CREATE TABLE notes (x);");
  assert.deepEqual(await tables(), ["notes"]);
  const e = await rejection(client.execute("SELECT id FROM vector_top_k('docs_l2', vector('[1,0]'), 1)"));
  assert.match(e.message, /index not found: docs_l2/);

  await client.batch(
    [
      "CREATE TABLE t (v F32_BLOB(2))",
      "CREATE INDEX t_idx ON t (libsql_vector_idx(v))",
      "INSERT INTO t VALUES (vector('[1,2]'))",
      "DROP TABLE t",
    ],
    "write",
  );
  assert.deepEqual(await tables(), ["notes"]);
});
