// Vector search through the real @libsql/client against the real server: libSQL's SQL surface
// (F32_BLOB columns, vector functions, CREATE INDEX ... libsql_vector_idx, vector_top_k,
// DROP INDEX), the index kept in step by writes, batches and interactive transactions, clear
// errors, and a restart (the index lives in the database file).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { rejection, startServer } from "./server.mjs";

let server;
let client;
let restartedDir; // set once the test restarts the server on its own data directory

before(async () => {
  server = await startServer();
  client = server.client();
});

after(async () => {
  await server?.stop();
  if (restartedDir) server.removeDataDir();
});

// A deterministic pseudo-random generator (no Math.random: runs must be repeatable).
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function vec(r, dims) {
  return Array.from({ length: dims }, () => Number(r().toFixed(4)));
}

function text(v) {
  return `[${v.join(",")}]`;
}

function cosDistance(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return 1 - dot / Math.sqrt(na * nb);
}

describe("vector functions", () => {
  test("constructors and vector_extract use libSQL's blob layouts", async () => {
    const rs = await client.execute(
      "SELECT hex(vector('[1,2]')), hex(vector64('[1]')), hex(vector8('[0,1,2,3]')), hex(vector1bit('[1,-1,2]')), vector_extract(vector16('[1.5,-2]'))",
    );
    assert.deepEqual(Array.from(rs.rows[0]), [
      "0000803F00000040",
      "000000000000F03F02",
      "0055AAFFC1C0403C00000000000004",
      "050D03",
      "[1.5,-2]",
    ]);
  });

  test("distances, and libSQL's errors for mismatched vectors", async () => {
    const rs = await client.execute(
      "SELECT vector_distance_l2(vector('[0,0]'), vector('[3,4]')), vector_distance_cos(vector('[1,0]'), vector('[0,1]'))",
    );
    assert.deepEqual(Array.from(rs.rows[0]), [5, 1]);
    const e1 = await rejection(client.execute("SELECT vector_distance_cos(vector('[1,2]'), vector64('[1,2]'))"));
    assert.match(e1.message, /vectors must have the same type: 1 != 2/);
    const e2 = await rejection(client.execute("SELECT vector_distance_l2(vector('[1,2]'), vector('[1,2,3]'))"));
    assert.match(e2.message, /vectors must have the same length: 2 != 3/);
  });
});

describe("vector index", () => {
  const dims = 8;
  const r = rng(42);
  const rows = Array.from({ length: 300 }, () => vec(r, dims));

  test("CREATE INDEX ... libsql_vector_idx, writes kept in step, vector_top_k nearest first", async () => {
    await client.execute(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, emb F32_BLOB(${dims}))`);
    // Half the rows exist before the index; the rest arrive through the triggers.
    await client.batch(
      rows.slice(0, 150).map((v, i) => ({ sql: "INSERT INTO items VALUES (?, ?, vector(?))", args: [i + 1, `n${i + 1}`, text(v)] })),
      "write",
    );
    await client.execute("CREATE INDEX items_idx ON items (libsql_vector_idx(emb, 'metric=cosine'))");
    await client.batch(
      rows.slice(150).map((v, i) => ({ sql: "INSERT INTO items VALUES (?, ?, vector(?))", args: [i + 151, `n${i + 151}`, text(v)] })),
      "write",
    );
    await client.execute("DELETE FROM items WHERE id % 10 = 0");
    await client.execute({ sql: "UPDATE items SET emb = vector(?) WHERE id = 7", args: [text(rows[0])] });

    const live = new Map();
    rows.forEach((v, i) => {
      if ((i + 1) % 10 !== 0) live.set(i + 1, v);
    });
    live.set(7, rows[0]);
    let hits = 0;
    const qr = rng(7);
    for (let n = 0; n < 20; n++) {
      const q = vec(qr, dims);
      const rs = await client.execute({
        sql: "SELECT items.id, v.distance FROM vector_top_k('items_idx', vector(?), 10) AS v JOIN items ON items.rowid = v.id",
        args: [text(q)],
      });
      const got = rs.rows.map((row) => Number(row.id));
      assert.equal(got.length, 10);
      for (const id of got) assert.ok(live.has(id), `returned a deleted row ${id}`);
      const dist = rs.rows.map((row) => Number(row.distance));
      for (let i = 1; i < dist.length; i++) assert.ok(dist[i - 1] <= dist[i] + 1e-9, "nearest first");
      const truth = [...live.entries()]
        .map(([id, v]) => [cosDistance(q, v), id])
        .sort((a, b) => a[0] - b[0])
        .slice(0, 10)
        .map(([, id]) => id);
      hits += truth.filter((id) => got.includes(id)).length;
      // Exact mode, no index: exactly the brute-force answer.
      const exact = await client.execute({
        sql: "SELECT id FROM vector_top_k_exact('items', 'emb', vector(?), 10)",
        args: [text(q)],
      });
      assert.deepEqual(exact.rows.map((row) => Number(row.id)), truth);
    }
    assert.ok(hits / 200 >= 0.9, `recall@10 ${hits / 200}`);

    // The updated row is found at distance ~0 from its new vector.
    const rs = await client.execute({ sql: "SELECT id FROM vector_top_k('items_idx', vector(?), 2)", args: [text(rows[0])] });
    assert.deepEqual(rs.rows.map((row) => Number(row.id)).sort((a, b) => a - b), [1, 7]);
  });

  test("an interactive transaction sees its own writes; a rollback leaves the index as it was", async () => {
    const q = text(Array(dims).fill(3));
    const before = await client.execute({ sql: "SELECT id FROM vector_top_k('items_idx', vector(?), 3)", args: [q] });
    const tx = await client.transaction("write");
    await tx.execute({ sql: "INSERT INTO items VALUES (5000, 'x', vector(?))", args: [q] });
    const inside = await tx.execute({ sql: "SELECT id FROM vector_top_k('items_idx', vector(?), 1)", args: [q] });
    assert.equal(Number(inside.rows[0].id), 5000);
    await tx.rollback();
    const afterRs = await client.execute({ sql: "SELECT id FROM vector_top_k('items_idx', vector(?), 3)", args: [q] });
    assert.deepEqual(afterRs.rows.map((row) => Number(row.id)), before.rows.map((row) => Number(row.id)));
  });

  test("clear errors: k = 0, wrong dimensions, NaN, missing index, wrong insert", async () => {
    const q = text(Array(dims).fill(1));
    const cases = [
      [`SELECT id FROM vector_top_k('items_idx', vector('${q}'), 0)`, /k\) must be a positive integer/],
      ["SELECT id FROM vector_top_k('items_idx', vector('[1,2,3]'), 3)", /dimensions are different: 3 != 8/],
      [`SELECT id FROM vector_top_k('nope', vector('${q}'), 3)`, /index not found: nope/],
      ["INSERT INTO items VALUES (9999, 'bad', vector('[1,2]'))", /dimensions are different: 2 != 8/],
      ["CREATE INDEX bad_idx ON items (libsql_vector_idx(emb, 'metric=manhattan'))", /unsupported metric/],
    ];
    for (const [sql, re] of cases) {
      const e = await rejection(client.execute(sql));
      assert.match(e.message, re, sql);
    }
    const nan = await rejection(
      client.execute({ sql: "SELECT id FROM vector_top_k('items_idx', ?, 3)", args: [new Uint8Array(new Float32Array(dims).fill(NaN).buffer)] }),
    );
    assert.match(nan.message, /NaN/);
    // The server still answers.
    assert.equal(Number((await client.execute("SELECT count(*) FROM items")).rows[0][0]), 270);
  });

  test("shadow tables are readable but not writable by clients", async () => {
    const rs = await client.execute("SELECT count(*) FROM items_idx_vectors");
    assert.equal(Number(rs.rows[0][0]), 270);
    const e = await rejection(client.execute("DELETE FROM items_idx_edges"));
    assert.match(e.message, /read-only|may not be modified/i);
  });

  test("the index survives a restart and DROP INDEX removes it", async () => {
    const q = text(rows[3]);
    const beforeRs = await client.execute({ sql: "SELECT id FROM vector_top_k('items_idx', vector(?), 5)", args: [q] });
    restartedDir = server.dataDir;
    await server.stop({ keepDataDir: true });
    server = await startServer({ dataDir: restartedDir });
    client = server.client();
    const afterRs = await client.execute({ sql: "SELECT id FROM vector_top_k('items_idx', vector(?), 5)", args: [q] });
    assert.deepEqual(afterRs.rows.map((row) => Number(row.id)), beforeRs.rows.map((row) => Number(row.id)));
    await client.execute("DROP INDEX items_idx");
    const left = await client.execute("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'items_idx%'");
    assert.equal(Number(left.rows[0][0]), 0);
    const e = await rejection(client.execute({ sql: "SELECT id FROM vector_top_k('items_idx', vector(?), 5)", args: [q] }));
    assert.match(e.message, /index not found/);
    await client.execute({ sql: "INSERT INTO items VALUES (7777, 'after drop', vector(?))", args: [q] });
  });
});
