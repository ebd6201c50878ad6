// Error reporting: SQL errors through @libsql/client (LibsqlError codes), protocol errors through
// raw HTTP (status, JSON body with message and code), batons that are forged or replayed, limits.
// After every failure the database must be unchanged.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { LibsqlError } from "@libsql/client";
import { rejection, scalar, startServer } from "./server.mjs";

let server;
let client;

before(async () => {
  server = await startServer();
  client = server.client();
  await client.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER CHECK (n >= 0))");
  await client.execute("INSERT INTO e (name, n) VALUES ('first', 1)");
});

after(async () => {
  await server?.stop();
});

// The contents of table e, to compare before and after a failure.
async function snapshot() {
  const rs = await client.execute("SELECT id, name, n FROM e ORDER BY id");
  return JSON.stringify(rs.rows.map((r) => Array.from(r)));
}

function assertLibsqlError(e, code) {
  assert.ok(e instanceof LibsqlError, `expected a LibsqlError, got ${e?.name}: ${e?.message}`);
  if (code instanceof RegExp) assert.match(e.code, code, e.message);
  else assert.equal(e.code, code, e.message);
  return e;
}

// A whole-request failure: 4xx, Content-Type exactly application/json, {message, code} strings.
function assertProtocolError(resp, what) {
  assert.ok(resp.status >= 400 && resp.status < 500, `${what}: expected 4xx, got ${resp.status} ${resp.text}`);
  assert.equal(resp.headers.get("content-type"), "application/json", `${what}: content-type`);
  assert.ok(resp.json && typeof resp.json === "object", `${what}: body is not JSON: ${resp.text}`);
  assert.equal(typeof resp.json.message, "string", `${what}: message`);
  assert.ok(resp.json.message.length > 0, `${what}: empty message`);
  assert.equal(typeof resp.json.code, "string", `${what}: code in ${resp.text}`);
  assert.ok(resp.json.code.length > 0, `${what}: empty code`);
}

const stmt = (sql, extra = {}) => ({ sql, args: [], named_args: [], want_rows: true, ...extra });

describe("SQL errors through @libsql/client", () => {
  // Codes follow sqld: a statement that does not parse → SQL_PARSE_ERROR; SQLite refusing to
  // prepare it (unknown table, column or function, ...) → SQL_INPUT_ERROR; errors while it runs →
  // SQLITE_<primary code name>.
  test("syntax error → SQL_PARSE_ERROR", async () => {
    const before = await snapshot();
    for (const sql of ["SELEC 1", "INSERT INTO e (name VALUES ('x')", "SELECT FROM WHERE", "SELECT 1 +"]) {
      const e = assertLibsqlError(await rejection(client.execute(sql)), "SQL_PARSE_ERROR");
      assert.match(e.message, /syntax error|incomplete input/i, sql);
    }
    assert.equal(await snapshot(), before);
  });

  test("unknown table → SQL_INPUT_ERROR with SQLite's message (as sqld)", async () => {
    const t = assertLibsqlError(await rejection(client.execute("SELECT * FROM no_such_table")), "SQL_INPUT_ERROR");
    assert.match(t.message, /no such table: no_such_table/);
    const ins = await rejection(client.execute("INSERT INTO missing_table VALUES (1)"));
    assertLibsqlError(ins, "SQL_INPUT_ERROR");
    assert.match(ins.message, /no such table: missing_table/);
  });

  test("unknown column or function → SQL_INPUT_ERROR with SQLite's message and the offset", async () => {
    const c = assertLibsqlError(await rejection(client.execute("SELECT no_such_col FROM e")), "SQL_INPUT_ERROR");
    assert.match(c.message, /no such column: no_such_col/);
    assert.match(c.message, /offset 7/);
    const f = assertLibsqlError(await rejection(client.execute("SELECT nofunc(1)")), "SQL_INPUT_ERROR");
    assert.match(f.message, /no such function: nofunc/);
  });

  test("constraint violations → SQLITE_CONSTRAINT*, nothing written", async () => {
    const before = await snapshot();
    const cases = [
      ["INSERT INTO e (name, n) VALUES ('first', 2)", /UNIQUE constraint failed: e\.name/],
      ["INSERT INTO e (name, n) VALUES (NULL, 2)", /NOT NULL constraint failed: e\.name/],
      ["INSERT INTO e (name, n) VALUES ('neg', -1)", /CHECK constraint failed/],
      ["INSERT INTO e (id, name, n) VALUES (1, 'dup-pk', 0)", /UNIQUE constraint failed: e\.id/],
      ["UPDATE e SET n = -5", /CHECK constraint failed/],
    ];
    for (const [sql, msg] of cases) {
      const e = await rejection(client.execute(sql));
      assert.ok(e instanceof LibsqlError, `${sql}: ${e}`);
      assert.ok(e.code.startsWith("SQLITE_CONSTRAINT"), `${sql}: code ${e.code}`);
      assert.match(e.message, msg, sql);
    }
    assert.equal(await snapshot(), before);
  });

  test("multi-row insert that fails half way writes nothing (statement atomicity)", async () => {
    const before = await snapshot();
    const e = await rejection(client.execute("INSERT INTO e (name, n) VALUES ('ok1', 1), ('ok2', 2), ('first', 3)"));
    assert.ok(e.code.startsWith("SQLITE_CONSTRAINT"));
    assert.equal(await snapshot(), before);
  });

  test("multiple statements in one execute → SQL_MANY_STATEMENTS and none of them runs", async () => {
    const before = await snapshot();
    const e = await rejection(
      client.execute("INSERT INTO e (name, n) VALUES ('m1', 1); INSERT INTO e (name, n) VALUES ('m2', 2)"),
    );
    assertLibsqlError(e, "SQL_MANY_STATEMENTS");
    assert.equal(await snapshot(), before);
    // A trailing semicolon, whitespace or comment is still one statement.
    assert.equal(await scalar(client, "SELECT 1;  "), 1);
    assert.equal(await scalar(client, "SELECT 2; -- trailing comment"), 2);
  });

  test("empty statement → SQL_NO_STATEMENT", async () => {
    for (const sql of ["", "   ", "-- just a comment", ";"]) {
      assertLibsqlError(await rejection(client.execute(sql)), "SQL_NO_STATEMENT");
    }
  });

  test("the client keeps working after errors", async () => {
    await rejection(client.execute("SELEC 1"));
    await rejection(client.execute("INSERT INTO e (name) VALUES (NULL)"));
    assert.equal(await scalar(client, "SELECT 40 + 2"), 42);
    assert.equal(await scalar(client, "SELECT count(*) FROM e"), 1);
  });
});

describe("protocol errors over raw HTTP", () => {
  test("a well-formed pipeline works and has the expected shape", async () => {
    const resp = await server.post("v2/pipeline", {
      baton: null,
      requests: [{ type: "execute", stmt: stmt("SELECT 1 AS one, 'x' AS two, 1.5, NULL, x'ff'") }, { type: "close" }],
    });
    assert.equal(resp.status, 200, resp.text);
    assert.equal(resp.headers.get("content-type"), "application/json");
    const body = resp.json;
    assert.equal(body.baton, null);
    assert.equal(body.results.length, 2);
    assert.equal(body.results[0].type, "ok");
    assert.equal(body.results[0].response.type, "execute");
    const result = body.results[0].response.result;
    assert.deepEqual(result.cols.map((c) => c.name), ["one", "two", "1.5", "NULL", "x'ff'"]);
    assert.deepEqual(result.rows, [
      [
        { type: "integer", value: "1" },
        { type: "text", value: "x" },
        { type: "float", value: 1.5 },
        { type: "null" },
        { type: "blob", base64: "/w==" },
      ],
    ]);
    assert.equal(typeof result.affected_row_count, "number");
    assert.deepEqual(body.results[1], { type: "ok", response: { type: "close" } });
  });

  const malformed = [
    ["malformed JSON", "{\"requests\": [ {\"type\": \"execute\", "],
    ["not JSON at all", "hello"],
    ["empty body", ""],
    ["JSON that is not an object", "[1, 2, 3]"],
    ["requests missing", "{}"],
    ["requests not an array", JSON.stringify({ requests: { type: "close" } })],
    ["unknown request type", JSON.stringify({ requests: [{ type: "frobnicate" }] })],
    ["request without type", JSON.stringify({ requests: [{ stmt: stmt("SELECT 1") }] })],
    ["stmt without sql", JSON.stringify({ requests: [{ type: "execute", stmt: { args: [] } }] })],
    [
      "value of unknown type",
      JSON.stringify({ requests: [{ type: "execute", stmt: stmt("SELECT ?", { args: [{ type: "bogus", value: 1 }] }) }] }),
    ],
    [
      "integer value that is not a decimal string",
      JSON.stringify({
        requests: [{ type: "execute", stmt: stmt("SELECT ?", { args: [{ type: "integer", value: "12abc" }] }) }],
      }),
    ],
  ];
  for (const [what, body] of malformed) {
    test(`${what} → 4xx with a JSON error`, async () => {
      const before = await snapshot();
      const resp = await server.post("v2/pipeline", body);
      assertProtocolError(resp, what);
      assert.equal(await snapshot(), before);
    });
  }

  test("a pipeline that would write but is malformed later on writes nothing", async () => {
    const before = await snapshot();
    const resp = await server.post("v2/pipeline", {
      requests: [
        { type: "execute", stmt: stmt("INSERT INTO e (name, n) VALUES ('should-not-exist', 1)") },
        { type: "nonsense" },
      ],
    });
    assertProtocolError(resp, "unknown request type after a write");
    assert.equal(await snapshot(), before);
  });

  test("both args and named_args → ARGS_BOTH_POSITIONAL_AND_NAMED, nothing written", async () => {
    const before = await snapshot();
    const resp = await server.post("v2/pipeline", {
      requests: [
        {
          type: "execute",
          stmt: stmt("INSERT INTO e (name, n) VALUES (?, :n)", {
            args: [{ type: "text", value: "both" }],
            named_args: [{ name: "n", value: { type: "integer", value: "1" } }],
          }),
        },
        { type: "close" },
      ],
    });
    // As in sqld: an error result for that request (HTTP 200), not a failure of the whole pipeline.
    assert.equal(resp.status, 200, resp.text);
    assert.equal(resp.json.results[0].type, "error", resp.text);
    assert.deepEqual(resp.json.results[1], { type: "ok", response: { type: "close" } });
    const error = resp.json.results[0].error;
    assert.equal(typeof error.message, "string");
    assert.equal(error.code, "ARGS_BOTH_POSITIONAL_AND_NAMED");
    assert.equal(await snapshot(), before);
  });

  test("empty args and named_args together are fine (the real client always sends both)", async () => {
    const resp = await server.post("v2/pipeline", {
      requests: [{ type: "execute", stmt: stmt("SELECT 7") }, { type: "close" }],
    });
    assert.equal(resp.status, 200, resp.text);
    assert.deepEqual(resp.json.results[0].response.result.rows, [[{ type: "integer", value: "7" }]]);
  });

  test("forged baton → 4xx JSON error, nothing written", async () => {
    const before = await snapshot();
    for (const baton of ["forged", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "0.0.0", "🙂"]) {
      const resp = await server.post("v2/pipeline", {
        baton,
        requests: [{ type: "execute", stmt: stmt("INSERT INTO e (name, n) VALUES ('forged', 1)") }],
      });
      assertProtocolError(resp, `forged baton ${baton}`);
    }
    assert.equal(await snapshot(), before);
  });

  test("tampered baton (one character changed) → 4xx JSON error", async () => {
    const open = await server.post("v2/pipeline", { requests: [{ type: "execute", stmt: stmt("SELECT 1") }] });
    assert.equal(open.status, 200, open.text);
    const baton = open.json.baton;
    assert.equal(typeof baton, "string");
    const i = Math.floor(baton.length / 2);
    const tampered = baton.slice(0, i) + (baton[i] === "A" ? "B" : "A") + baton.slice(i + 1);
    const before = await snapshot();
    const resp = await server.post("v2/pipeline", {
      baton: tampered,
      requests: [{ type: "execute", stmt: stmt("INSERT INTO e (name, n) VALUES ('tampered', 1)") }],
    });
    assertProtocolError(resp, "tampered baton");
    assert.equal(await snapshot(), before);
    // The genuine baton still works and closes the stream.
    const close = await server.post("v2/pipeline", { baton, requests: [{ type: "close" }] });
    assert.equal(close.status, 200, close.text);
  });

  test("replayed baton → 4xx JSON error, nothing written; the current baton still works", async () => {
    const first = await server.post("v2/pipeline", {
      requests: [{ type: "execute", stmt: stmt("SELECT 1") }],
    });
    assert.equal(first.status, 200, first.text);
    const b1 = first.json.baton;
    assert.equal(typeof b1, "string");
    const second = await server.post("v2/pipeline", { baton: b1, requests: [{ type: "execute", stmt: stmt("SELECT 2") }] });
    assert.equal(second.status, 200, second.text);
    const b2 = second.json.baton;
    assert.equal(typeof b2, "string");
    assert.notEqual(b2, b1, "every response must hand out a new baton");

    const before = await snapshot();
    const replay = await server.post("v2/pipeline", {
      baton: b1,
      requests: [{ type: "execute", stmt: stmt("INSERT INTO e (name, n) VALUES ('replayed', 1)") }],
    });
    assertProtocolError(replay, "replayed baton");
    assert.equal(await snapshot(), before);

    const close = await server.post("v2/pipeline", { baton: b2, requests: [{ type: "close" }] });
    assert.equal(close.status, 200, close.text);
    assert.equal(close.json.baton, null);
    // After close the last baton is dead too.
    const afterClose = await server.post("v2/pipeline", {
      baton: b2,
      requests: [{ type: "execute", stmt: stmt("INSERT INTO e (name, n) VALUES ('after-close', 1)") }],
    });
    assertProtocolError(afterClose, "baton of a closed stream");
    assert.equal(await snapshot(), before);
  });

  test("a baton replayed inside an open transaction cannot commit or write into it", async () => {
    const open = await server.post("v2/pipeline", {
      requests: [
        { type: "execute", stmt: stmt("BEGIN IMMEDIATE", { want_rows: false }) },
        { type: "execute", stmt: stmt("INSERT INTO e (name, n) VALUES ('in-tx', 1)") },
      ],
    });
    assert.equal(open.status, 200, open.text);
    assert.equal(open.json.results[1].type, "ok", open.text);
    const b1 = open.json.baton;
    const next = await server.post("v2/pipeline", {
      baton: b1,
      requests: [{ type: "execute", stmt: stmt("SELECT count(*) FROM e WHERE name = 'in-tx'") }],
    });
    assert.equal(next.status, 200, next.text);
    const replay = await server.post("v2/pipeline", {
      baton: b1,
      requests: [{ type: "execute", stmt: stmt("COMMIT", { want_rows: false }) }],
    });
    assertProtocolError(replay, "replayed baton trying to COMMIT");
    // Roll back with the genuine baton.
    const rb = await server.post("v2/pipeline", {
      baton: next.json.baton,
      requests: [{ type: "execute", stmt: stmt("ROLLBACK", { want_rows: false }) }, { type: "close" }],
    });
    assert.equal(rb.status, 200, rb.text);
    assert.equal(await scalar(client, "SELECT count(*) FROM e WHERE name = 'in-tx'"), 0);
  });

  test("unknown sql_id → an error, nothing written", async () => {
    const before = await snapshot();
    const resp = await server.post("v2/pipeline", {
      requests: [{ type: "execute", stmt: { sql_id: 4242, args: [], named_args: [], want_rows: true } }, { type: "close" }],
    });
    if (resp.status === 200) {
      assert.equal(resp.json.results[0].type, "error", resp.text);
      assert.equal(typeof resp.json.results[0].error.code, "string");
    } else {
      assertProtocolError(resp, "unknown sql_id");
    }
    assert.equal(await snapshot(), before);
  });

  test("SQL errors in a raw pipeline are per-request error results (HTTP 200)", async () => {
    const resp = await server.post("v2/pipeline", {
      requests: [
        { type: "execute", stmt: stmt("SELECT * FROM nope") },
        { type: "execute", stmt: stmt("SELECT 5") },
        { type: "close" },
      ],
    });
    assert.equal(resp.status, 200, resp.text);
    assert.equal(resp.json.results[0].type, "error");
    assert.equal(resp.json.results[0].error.code, "SQL_INPUT_ERROR");
    assert.match(resp.json.results[0].error.message, /no such table: nope/);
    assert.equal(resp.json.results[1].type, "ok");
    assert.deepEqual(resp.json.results[1].response.result.rows, [[{ type: "integer", value: "5" }]]);
  });

  test("endpoints: GET /health, /version, /v2, /v3 are 200; /v3-protobuf is not 2xx; unknown path 404", async () => {
    for (const p of ["health", "version", "v2", "v3"]) {
      const r = await server.get(p);
      assert.equal(r.status, 200, `GET /${p}`);
    }
    const pb = await server.get("v3-protobuf");
    assert.ok(pb.status < 200 || pb.status >= 300, `GET /v3-protobuf answered ${pb.status}`);
    const unknown = await server.get("no/such/path");
    assert.equal(unknown.status, 404);
    const wrongMethod = await server.get("v2/pipeline");
    assert.ok(wrongMethod.status >= 400 && wrongMethod.status < 500, `GET /v2/pipeline answered ${wrongMethod.status}`);
  });
});

describe("limits", () => {
  let limited;
  let lc;

  before(async () => {
    limited = await startServer({
      args: ["--max-body-bytes", "65536", "--max-response-bytes", "1048576", "--statement-timeout-ms", "500"],
    });
    lc = limited.client();
    await lc.execute("CREATE TABLE l (v BLOB)");
  });

  after(async () => {
    await limited?.stop();
  });

  test("a request body over --max-body-bytes → 413 JSON error, nothing written", async () => {
    const big = "x".repeat(100000);
    const resp = await limited.post("v2/pipeline", {
      requests: [{ type: "execute", stmt: stmt("INSERT INTO l VALUES (?)", { args: [{ type: "text", value: big }] }) }],
    });
    assert.equal(resp.status, 413, resp.text);
    assert.equal(resp.headers.get("content-type"), "application/json");
    assert.equal(typeof resp.json?.message, "string");
    assert.equal(typeof resp.json?.code, "string");
    assert.equal(await scalar(lc, "SELECT count(*) FROM l"), 0);
    const e = await rejection(lc.execute({ sql: "INSERT INTO l VALUES (?)", args: [big] }));
    assert.ok(e instanceof LibsqlError, String(e));
    assert.equal(await scalar(lc, "SELECT count(*) FROM l"), 0);
  });

  test("a result over --max-response-bytes → RESPONSE_TOO_LARGE", async () => {
    const e = await rejection(lc.execute("SELECT randomblob(600000) UNION ALL SELECT randomblob(600000)"));
    assertLibsqlError(e, "RESPONSE_TOO_LARGE");
    assert.equal(await scalar(lc, "SELECT 1"), 1);
  });

  test("a statement running past --statement-timeout-ms is interrupted and the server stays usable", { timeout: 20000 }, async () => {
    // Give up on our side after 8 s so a server that never interrupts cannot hang the suite.
    const impatient = limited.client({
      fetch: (req) => fetch(req, { signal: AbortSignal.timeout(8000) }),
    });
    const t0 = Date.now();
    const e = await rejection(
      impatient.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"),
    );
    const took = Date.now() - t0;
    assert.ok(e instanceof LibsqlError, String(e));
    assert.equal(e.code, "QUERY_TIMEOUT");
    assert.ok(took < 5000, `interrupt took ${took} ms`);
    assert.equal(await scalar(lc, "SELECT 2"), 2);
  });
});
