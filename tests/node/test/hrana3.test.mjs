// Protocol versions beyond what @libsql/client uses by default:
//  - the real @libsql/hrana-client 0.10 in protocol-3 mode probes GET /v3-protobuf; since Cairn
//    speaks JSON only, the client must fall back to Hrana 2 and then work normally (describe,
//    sequence, store_sql, batches with conditions);
//  - Hrana 3 JSON over raw HTTP: /v3/pipeline (get_autocommit, is_autocommit condition,
//    describe) and /v3/cursor (newline-delimited JSON entries).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as hrana from "@libsql/hrana-client";
import { rejection, startServer } from "./server.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

const stmt = (sql, extra = {}) => ({ sql, args: [], named_args: [], want_rows: true, ...extra });
const int = (v) => ({ type: "integer", value: String(v) });

// POST /v3/cursor and split the NDJSON body into objects.
async function cursor(body) {
  const resp = await fetch(new URL("v3/cursor", server.url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await resp.text();
  assert.equal(resp.status, 200, text);
  assert.ok(text.endsWith("\n"), "every cursor line ends with a newline");
  const lines = text.split("\n").filter((l) => l.length > 0);
  return lines.map((l) => JSON.parse(l));
}

describe("@libsql/hrana-client in protocol-3 mode", () => {
  let client;
  const seen = [];

  before(() => {
    const spy = async (request) => {
      seen.push(`${request.method} ${new URL(request.url).pathname}`);
      return fetch(request);
    };
    client = hrana.openHttp(server.url, undefined, spy, undefined, 3);
    client.intMode = "bigint";
  });

  after(() => client?.close());

  test("probes /v3-protobuf, gets a non-2xx answer and falls back to Hrana 2 JSON", async () => {
    assert.equal(await client.getVersion(), 2);
    assert.deepEqual(seen.slice(0, 1), ["GET /v3-protobuf"]);
    const stream = client.openStream();
    assert.equal((await stream.queryValue("SELECT 9223372036854775807")).value, 9223372036854775807n);
    stream.close();
    assert.ok(seen.includes("POST /v2/pipeline"));
    assert.ok(!seen.some((s) => s.startsWith("POST /v3-protobuf")), "no protobuf request may be sent");
  });

  test("describe reports params, columns, decltypes and read-only-ness without executing", async () => {
    const stream = client.openStream();
    await stream.run("CREATE TABLE d3 (id INTEGER PRIMARY KEY, name VARCHAR(20))");
    const sel = await stream.describe("SELECT id, name, 1 + 1 AS two FROM d3 WHERE id = ? AND name = :nm");
    assert.deepEqual(sel.paramNames, [undefined, ":nm"]);
    assert.deepEqual(sel.columns.map((c) => c.name), ["id", "name", "two"]);
    assert.deepEqual(sel.columns.map((c) => c.decltype), ["INTEGER", "VARCHAR(20)", undefined]);
    assert.equal(sel.isReadonly, true);
    assert.equal(sel.isExplain, false);
    const ins = await stream.describe("INSERT INTO d3 (name) VALUES ($n)");
    assert.equal(ins.isReadonly, false);
    assert.deepEqual(ins.paramNames, ["$n"]);
    const expl = await stream.describe("EXPLAIN SELECT 1");
    assert.equal(expl.isExplain, true);
    assert.equal((await stream.queryValue("SELECT count(*) FROM d3")).value, 0n);
    stream.close();
  });

  test("sequence and stored SQL (store_sql / close_sql) on one stream", async () => {
    const stream = client.openStream();
    await stream.sequence("CREATE TABLE s3 (v INTEGER); INSERT INTO s3 VALUES (1); INSERT INTO s3 VALUES (2);");
    const stored = stream.storeSql("INSERT INTO s3 VALUES (?)");
    for (let i = 3; i <= 5; i++) await stream.run(new hrana.Stmt(stored).bindIndexes([BigInt(i)]));
    stored.close();
    assert.equal((await stream.queryValue("SELECT sum(v) FROM s3")).value, 15n);
    stream.close();
  });

  test("a batch with ok / error / not / and / or conditions", async () => {
    const stream = client.openStream();
    await stream.run("CREATE TABLE c3 (id INTEGER PRIMARY KEY, v TEXT UNIQUE)");
    const batch = stream.batch(false);
    const begin = batch.step();
    const pBegin = begin.run("BEGIN");
    const ins1 = batch.step().condition(hrana.BatchCond.ok(begin));
    const pIns1 = ins1.run(["INSERT INTO c3 (v) VALUES (?)", ["one"]]);
    const dup = batch.step().condition(hrana.BatchCond.ok(ins1));
    const pDup = dup.run(["INSERT INTO c3 (v) VALUES (?)", ["one"]]);
    const pOnErr = batch.step().condition(hrana.BatchCond.error(dup)).query("SELECT 'dup failed' AS msg");
    const pSkipped = batch.step().condition(hrana.BatchCond.ok(dup)).run("INSERT INTO c3 (v) VALUES ('never')");
    const both = batch
      .step()
      .condition(hrana.BatchCond.and(batch, [hrana.BatchCond.not(hrana.BatchCond.ok(dup)), hrana.BatchCond.ok(ins1)]));
    const pBoth = both.query("SELECT count(*) AS n FROM c3");
    const pNone = batch
      .step()
      .condition(hrana.BatchCond.or(batch, [hrana.BatchCond.ok(dup), hrana.BatchCond.error(begin)]))
      .run("INSERT INTO c3 (v) VALUES ('never-either')");
    const pCommit = batch.step().condition(hrana.BatchCond.ok(both)).run("COMMIT");
    const pRows = batch.step().query("SELECT v FROM c3 ORDER BY id");
    await batch.execute();

    await pBegin;
    assert.equal((await pIns1).affectedRowCount, 1);
    const dupErr = await rejection(pDup);
    assert.ok(dupErr instanceof hrana.ResponseError, String(dupErr));
    assert.equal(dupErr.code, "SQLITE_CONSTRAINT");
    assert.equal((await pOnErr).rows[0].msg, "dup failed");
    assert.equal(await pSkipped, undefined, "a step whose condition is false is skipped");
    assert.equal((await pBoth).rows[0].n, 1n);
    assert.equal(await pNone, undefined);
    assert.ok(await pCommit);
    assert.deepEqual((await pRows).rows.map((r) => r.v), ["one"]);
    stream.close();
  });
});

describe("Hrana 3 JSON over raw HTTP", () => {
  test("/v3/pipeline: get_autocommit follows BEGIN and COMMIT on a stream", async () => {
    const r1 = await server.post("v3/pipeline", {
      baton: null,
      requests: [
        { type: "get_autocommit" },
        { type: "execute", stmt: stmt("BEGIN", { want_rows: false }) },
        { type: "get_autocommit" },
      ],
    });
    assert.equal(r1.status, 200, r1.text);
    assert.deepEqual(r1.json.results[0], { type: "ok", response: { type: "get_autocommit", is_autocommit: true } });
    assert.deepEqual(r1.json.results[2], { type: "ok", response: { type: "get_autocommit", is_autocommit: false } });
    const r2 = await server.post("v3/pipeline", {
      baton: r1.json.baton,
      requests: [
        { type: "get_autocommit" },
        { type: "execute", stmt: stmt("COMMIT", { want_rows: false }) },
        { type: "get_autocommit" },
        { type: "close" },
      ],
    });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json.results[0].response.is_autocommit, false);
    assert.equal(r2.json.results[2].response.is_autocommit, true);
    assert.equal(r2.json.baton, null);
  });

  test("/v3/pipeline: the is_autocommit batch condition", async () => {
    const resp = await server.post("v3/pipeline", {
      requests: [
        {
          type: "batch",
          batch: {
            steps: [
              { condition: { type: "is_autocommit" }, stmt: stmt("SELECT 'auto-before'") },
              { stmt: stmt("BEGIN", { want_rows: false }) },
              { condition: { type: "is_autocommit" }, stmt: stmt("SELECT 'auto-inside'") },
              { condition: { type: "not", cond: { type: "is_autocommit" } }, stmt: stmt("SELECT 'in-tx'") },
              { stmt: stmt("ROLLBACK", { want_rows: false }) },
            ],
          },
        },
        { type: "close" },
      ],
    });
    assert.equal(resp.status, 200, resp.text);
    const result = resp.json.results[0].response.result;
    assert.equal(result.step_results.length, 5);
    assert.deepEqual(result.step_results[0].rows, [[{ type: "text", value: "auto-before" }]]);
    assert.equal(result.step_results[2], null, "skipped step has a null result");
    assert.equal(result.step_errors[2], null);
    assert.deepEqual(result.step_results[3].rows, [[{ type: "text", value: "in-tx" }]]);
    assert.ok(result.step_errors.every((e) => e === null));
  });

  test("/v2/pipeline rejects the v3-only get_autocommit request", async () => {
    const resp = await server.post("v2/pipeline", { requests: [{ type: "get_autocommit" }] });
    assert.ok(resp.status >= 400 && resp.status < 500, `${resp.status} ${resp.text}`);
    assert.equal(typeof resp.json?.code, "string", resp.text);
  });

  test("/v3/pipeline describe result shape", async () => {
    const resp = await server.post("v3/pipeline", {
      requests: [{ type: "describe", sql: "SELECT :a AS x, ?2 AS y" }, { type: "close" }],
    });
    assert.equal(resp.status, 200, resp.text);
    const d = resp.json.results[0].response;
    assert.equal(d.type, "describe");
    assert.deepEqual(d.result.params, [{ name: ":a" }, { name: "?2" }]);
    assert.deepEqual(d.result.cols.map((c) => c.name), ["x", "y"]);
    assert.equal(d.result.is_explain, false);
    assert.equal(d.result.is_readonly, true);
  });

  test("/v3/cursor streams step_begin, row and step_end entries", async () => {
    const entries = await cursor({
      baton: null,
      batch: {
        steps: [
          { stmt: stmt("CREATE TABLE cur3 (id INTEGER PRIMARY KEY, v TEXT)", { want_rows: false }) },
          { stmt: stmt("INSERT INTO cur3 (v) VALUES ('a'), ('b')") },
          { stmt: stmt("SELECT id, v FROM cur3 ORDER BY id") },
        ],
      },
    });
    const [head, ...rest] = entries;
    assert.ok("baton" in head, JSON.stringify(head));
    assert.equal(typeof head.baton, "string");
    const types = rest.map((e) => e.type);
    assert.deepEqual(types, ["step_begin", "step_end", "step_begin", "step_end", "step_begin", "row", "row", "step_end"]);
    assert.equal(rest[0].step, 0);
    assert.equal(rest[2].step, 1);
    assert.equal(rest[3].affected_row_count, 2);
    assert.equal(rest[3].last_insert_rowid, "2");
    assert.equal(rest[4].step, 2);
    assert.deepEqual(rest[4].cols.map((c) => c.name), ["id", "v"]);
    assert.deepEqual(rest[5].row, [int(1), { type: "text", value: "a" }]);
    assert.deepEqual(rest[6].row, [int(2), { type: "text", value: "b" }]);
    // The stream stays open: close it with the baton from the cursor.
    const close = await server.post("v3/pipeline", { baton: head.baton, requests: [{ type: "close" }] });
    assert.equal(close.status, 200, close.text);
  });

  test("/v3/cursor reports a failing step as step_error and skips dependent steps", async () => {
    const entries = await cursor({
      batch: {
        steps: [
          { stmt: stmt("SELECT * FROM no_such_table_v3") },
          { condition: { type: "ok", step: 0 }, stmt: stmt("SELECT 'skipped'") },
          { condition: { type: "error", step: 0 }, stmt: stmt("SELECT 'ran'") },
        ],
      },
    });
    const rest = entries.slice(1);
    const err = rest.find((e) => e.type === "step_error");
    assert.ok(err, JSON.stringify(rest));
    assert.equal(err.step, 0);
    assert.equal(err.error.code, "SQL_INPUT_ERROR");
    assert.ok(!rest.some((e) => e.type === "step_begin" && e.step === 1), "step 1 must be skipped");
    const begin2 = rest.findIndex((e) => e.type === "step_begin" && e.step === 2);
    assert.ok(begin2 >= 0, JSON.stringify(rest));
    assert.deepEqual(rest[begin2 + 1].row, [{ type: "text", value: "ran" }]);
    const close = await server.post("v3/pipeline", { baton: entries[0].baton, requests: [{ type: "close" }] });
    assert.equal(close.status, 200, close.text);
  });

  test("/v3/cursor with a big result delivers every row", async () => {
    const entries = await cursor({
      batch: {
        steps: [
          {
            stmt: stmt("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT x FROM c"),
          },
        ],
      },
    });
    const rows = entries.filter((e) => e.type === "row");
    assert.equal(rows.length, 20000);
    assert.deepEqual(rows[19999].row, [int(20000)]);
    assert.equal(entries.at(-1).type, "step_end");
    const close = await server.post("v3/pipeline", { baton: entries[0].baton, requests: [{ type: "close" }] });
    assert.equal(close.status, 200, close.text);
  });
});
