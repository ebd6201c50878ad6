// Hrana over WebSocket: the real @libsql/client with a ws:// URL (it negotiates hrana3 and uses
// streams, stored SQL and cursors), then the protocol's edges with a raw WebSocket (the `ws`
// package): subprotocol negotiation, hello, stream and cursor ids, protocol errors, namespaces,
// authentication.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, LibsqlError } from "@libsql/client";
import WebSocket from "ws";
import { cairnBin, randomBytes, rejection, scalar, startServer } from "./server.mjs";

let server;
let wsUrl;
const clients = [];

function wsClient(config = {}) {
  const c = createClient({ url: wsUrl, ...config });
  clients.push(c);
  return c;
}

before(async () => {
  server = await startServer();
  wsUrl = server.url.toString().replace(/^http:/, "ws:");
  const admin = await fetch(new URL("v1/namespaces/other/create", server.adminUrl), { method: "POST" });
  assert.equal(admin.status, 200, await admin.text());
});

after(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

// A raw Hrana WebSocket: `messages()` yields what the server sends, `closed` resolves with
// {code, reason} when the connection closes.
function raw({ protocols = ["hrana3"], headers = {} } = {}) {
  const ws = new WebSocket(wsUrl, protocols, { headers });
  const inbox = [];
  const waiters = [];
  let closeInfo;
  const closed = new Promise((resolve) => {
    ws.on("close", (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      resolve(closeInfo);
      for (const w of waiters.splice(0)) w.reject(new Error(`closed ${code} ${reason}`));
    });
  });
  ws.on("message", (data, isBinary) => {
    const msg = isBinary ? { binary: data } : JSON.parse(data.toString());
    const w = waiters.shift();
    if (w) w.resolve(msg);
    else inbox.push(msg);
  });
  const opened = new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.once("error", reject);
  });
  return {
    ws,
    opened,
    closed,
    send: (obj) => ws.send(typeof obj === "string" ? obj : JSON.stringify(obj)),
    next: () =>
      inbox.length
        ? Promise.resolve(inbox.shift())
        : closeInfo
          ? Promise.reject(new Error(`closed ${closeInfo.code}`))
          : new Promise((resolve, reject) => {
              const t = setTimeout(() => reject(new Error("no message within 5 s")), 5000);
              waiters.push({
                resolve: (m) => (clearTimeout(t), resolve(m)),
                reject: (e) => (clearTimeout(t), reject(e)),
              });
            }),
    request: async function (id, request) {
      this.send({ type: "request", request_id: id, request });
      return this.next();
    },
  };
}

describe("@libsql/client over ws://", () => {
  test("values of every type round-trip", async () => {
    const c = wsClient();
    const blob = randomBytes(300_000);
    const rs = await c.execute({
      sql: "SELECT ? AS big, ? AS f, ? AS t, ? AS b, ? AS n",
      args: [9007199254740991n, 1.5, "žluťoučký kůň 🐎", blob, null],
    });
    assert.equal(rs.rows.length, 1);
    const r = rs.rows[0];
    assert.equal(r.big, 9007199254740991);  // the largest safe number; beyond it, intMode "bigint"
    assert.equal(r.f, 1.5);
    assert.equal(r.t, "žluťoučký kůň 🐎");
    assert.deepEqual(new Uint8Array(r.b), blob);
    assert.equal(r.n, null);
    const exact = wsClient({ intMode: "bigint" });
    assert.equal(await scalar(exact, "SELECT ?", [9007199254740993n]), 9007199254740993n);
  });

  test("execute, batch, executeMultiple and transactions reach the same database as HTTP", async () => {
    const c = wsClient();
    await c.executeMultiple("CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT UNIQUE); INSERT INTO w (v) VALUES ('a');");
    const results = await c.batch(
      [
        { sql: "INSERT INTO w (v) VALUES (?)", args: ["b"] },
        { sql: "INSERT INTO w (v) VALUES (?)", args: ["c"] },
        "SELECT v FROM w ORDER BY id",
      ],
      "write",
    );
    assert.deepEqual(results[2].rows.map((r) => r.v), ["a", "b", "c"]);
    assert.equal(results[0].rowsAffected, 1);
    // What was written over the WebSocket is there for an HTTP client, and the other way round.
    const http = server.client();
    assert.equal(await scalar(http, "SELECT count(*) FROM w"), 3);
    await http.execute("INSERT INTO w (v) VALUES ('from http')");
    assert.equal(await scalar(c, "SELECT count(*) FROM w"), 4);

    // A batch that fails part-way changes nothing.
    const e = await rejection(
      c.batch([{ sql: "INSERT INTO w (v) VALUES ('d')", args: [] }, { sql: "INSERT INTO w (v) VALUES ('a')", args: [] }], "write"),
    );
    assert.ok(e instanceof LibsqlError, String(e));
    assert.match(e.code, /CONSTRAINT/);
    assert.equal(await scalar(c, "SELECT count(*) FROM w WHERE v = 'd'"), 0);

    // Interactive transactions: rollback leaves nothing, commit keeps everything.
    const tx = await c.transaction("write");
    await tx.execute("INSERT INTO w (v) VALUES ('rolled back')");
    assert.equal(await scalar(tx, "SELECT count(*) FROM w WHERE v = 'rolled back'"), 1);
    await tx.rollback();
    assert.equal(await scalar(c, "SELECT count(*) FROM w WHERE v = 'rolled back'"), 0);
    const tx2 = await c.transaction("write");
    await tx2.execute("INSERT INTO w (v) VALUES ('committed')");
    await tx2.commit();
    assert.equal(await scalar(http, "SELECT count(*) FROM w WHERE v = 'committed'"), 1);
  });

  test("errors carry the same codes as over HTTP; a read transaction refuses writes", async () => {
    const c = wsClient();
    const parse = await rejection(c.execute("SELEKT 1"));
    assert.ok(parse instanceof LibsqlError);
    const httpParse = await rejection(server.client().execute("SELEKT 1"));
    assert.equal(parse.code, httpParse.code);
    const missing = await rejection(c.execute("SELECT * FROM no_such_table"));
    assert.match(missing.message, /no such table/);
    await c.execute("CREATE TABLE IF NOT EXISTS ro (x)");
    const e = await rejection(c.batch(["SELECT 1", "INSERT INTO ro VALUES (1)"], "read"));
    assert.ok(e instanceof LibsqlError, String(e));
    assert.equal(await scalar(c, "SELECT count(*) FROM ro"), 0);
  });

  test("a write waiting for the lock holds up no other stream of the same client", async () => {
    const a = wsClient();
    const b = wsClient();
    await a.execute("CREATE TABLE IF NOT EXISTS lockt (x)");
    const tx = await a.transaction("write");
    await tx.execute("INSERT INTO lockt VALUES (1)");
    const waiting = b.execute("INSERT INTO lockt VALUES (2)");  // waits for a's transaction
    assert.equal(await scalar(b, "SELECT count(*) FROM lockt"), 0);  // reads go on meanwhile
    await tx.commit();
    await waiting;
    assert.equal(await scalar(b, "SELECT count(*) FROM lockt"), 2);
  });
});

describe("the protocol over a raw WebSocket", () => {
  test("subprotocols: hrana3 is preferred, hrana2 and hrana1 are accepted, others are refused", async () => {
    const a = raw({ protocols: ["hrana3-protobuf", "hrana3", "hrana2"] });
    await a.opened;
    assert.equal(a.ws.protocol, "hrana3");
    a.ws.close();
    const b = raw({ protocols: ["hrana2"] });
    await b.opened;
    assert.equal(b.ws.protocol, "hrana2");
    b.ws.close();
    const v1 = raw({ protocols: ["hrana1"] });
    await v1.opened;
    assert.equal(v1.ws.protocol, "hrana1");
    v1.send({ type: "hello", jwt: null });
    assert.deepEqual(await v1.next(), { type: "hello_ok" });
    await v1.request(1, { type: "open_stream", stream_id: 1 });
    const r = await v1.request(2, { type: "execute", stream_id: 1, stmt: { sql: "SELECT 7" } });
    assert.deepEqual(r.response.result.rows, [[{ type: "integer", value: "7" }]]);
    v1.ws.close();
    const c = raw({ protocols: ["hrana3-protobuf"] });
    const e = await rejection(c.opened);
    assert.equal(e.status, 400);
    assert.match(e.body, /subprotocol/);
  });

  test("hello, streams, stored SQL and a cursor", async () => {
    const s = raw();
    await s.opened;
    s.send({ type: "hello", jwt: null });
    assert.deepEqual(await s.next(), { type: "hello_ok" });
    assert.deepEqual(await s.request(1, { type: "open_stream", stream_id: 7 }), {
      type: "response_ok", request_id: 1, response: { type: "open_stream" },
    });
    assert.equal((await s.request(2, { type: "store_sql", sql_id: 3, sql: "SELECT ? * 2 AS twice" })).type, "response_ok");
    await s.request(3, { type: "open_stream", stream_id: 8 });
    // A stored text serves every stream of the connection.
    for (const [id, stream] of [[4, 7], [5, 8]]) {
      const r = await s.request(id, { type: "execute", stream_id: stream, stmt: { sql_id: 3, args: [{ type: "integer", value: "21" }] } });
      assert.equal(r.type, "response_ok", JSON.stringify(r));
      assert.equal(r.request_id, id);
      assert.deepEqual(r.response.result.rows, [[{ type: "integer", value: "42" }]]);
    }
    // A statement error is a response_error; the stream stays usable.
    const bad = await s.request(6, { type: "execute", stream_id: 7, stmt: { sql: "SELECT * FROM nowhere" } });
    assert.equal(bad.type, "response_error");
    assert.match(bad.error.message, /no such table/);
    assert.equal(typeof bad.error.code, "string");
    assert.equal((await s.request(7, { type: "get_autocommit", stream_id: 7 })).response.is_autocommit, true);
    // A cursor returns the batch's entries in as many fetches as the client wants.
    const opened = await s.request(8, {
      type: "open_cursor", stream_id: 8, cursor_id: 1,
      batch: { steps: [{ stmt: { sql: "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT x FROM n" } }] },
    });
    assert.equal(opened.type, "response_ok", JSON.stringify(opened));
    const entries = [];
    for (let id = 9; ; id++) {
      const f = await s.request(id, { type: "fetch_cursor", cursor_id: 1, max_count: 2 });
      assert.equal(f.type, "response_ok", JSON.stringify(f));
      assert.ok(f.response.entries.length <= 2);
      entries.push(...f.response.entries);
      if (f.response.done) break;
      assert.ok(id < 30, "the cursor never finished");
    }
    assert.deepEqual(entries.map((e) => e.type), ["step_begin", "row", "row", "row", "row", "row", "step_end"]);
    assert.deepEqual(entries.filter((e) => e.type === "row").map((e) => e.row[0].value), ["1", "2", "3", "4", "5"]);
    assert.equal((await s.request(40, { type: "close_cursor", cursor_id: 1 })).type, "response_ok");
    // close_stream rolls back what the stream left open.
    for (const [id, sql] of [[41, "CREATE TABLE IF NOT EXISTS rb (x)"], [42, "BEGIN"], [43, "INSERT INTO rb VALUES (1)"]]) {
      const r = await s.request(id, { type: "execute", stream_id: 7, stmt: { sql } });
      assert.equal(r.type, "response_ok", JSON.stringify(r));
    }
    const inside = await s.request(45, { type: "execute", stream_id: 7, stmt: { sql: "SELECT count(*) FROM rb" } });
    assert.deepEqual(inside.response.result.rows, [[{ type: "integer", value: "1" }]]);
    assert.deepEqual(await s.request(44, { type: "close_stream", stream_id: 7 }), {
      type: "response_ok", request_id: 44, response: { type: "close_stream" },
    });
    // A request on the closed stream is a protocol error.
    assert.equal(await scalar(server.client(), "SELECT count(*) FROM rb"), 0);
    s.send({ type: "request", request_id: 46, request: { type: "execute", stream_id: 7, stmt: { sql: "SELECT 1" } } });
    assert.equal((await s.closed).code, 1002);
  });

  for (const [what, messages] of [
    ["a request before hello", [{ type: "request", request_id: 1, request: { type: "open_stream", stream_id: 1 } }]],
    ["a request on a stream never opened", [{ type: "hello", jwt: null }, { type: "request", request_id: 1, request: { type: "execute", stream_id: 9, stmt: { sql: "SELECT 1" } } }]],
    ["a stream id already open", [{ type: "hello", jwt: null }, { type: "request", request_id: 1, request: { type: "open_stream", stream_id: 1 } }, { type: "request", request_id: 2, request: { type: "open_stream", stream_id: 1 } }]],
    ["malformed JSON", [{ type: "hello", jwt: null }, "{not json"]],
    ["an unknown request type", [{ type: "hello", jwt: null }, { type: "request", request_id: 1, request: { type: "drop_everything" } }]],
  ]) {
    test(`${what} closes the connection with a protocol error (1002)`, async () => {
      const s = raw();
      await s.opened;
      for (const m of messages) s.send(m);
      const { code } = await s.closed;
      assert.equal(code, 1002);
    });
  }

  test("binary messages are refused (1003); pings are answered", async () => {
    const s = raw();
    await s.opened;
    const pong = new Promise((resolve) => s.ws.once("pong", (d) => resolve(d.toString())));
    s.ws.ping("are you there");
    assert.equal(await pong, "are you there");
    s.ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await s.closed).code, 1003);
  });

  test("x-namespace chooses the database; an unknown one refuses the upgrade", async () => {
    const s = raw({ headers: { "x-namespace": "other" } });
    await s.opened;
    s.send({ type: "hello", jwt: null });
    await s.next();
    await s.request(1, { type: "open_stream", stream_id: 1 });
    await s.request(2, { type: "execute", stream_id: 1, stmt: { sql: "CREATE TABLE only_in_other (x)" } });
    const here = await s.request(3, { type: "execute", stream_id: 1, stmt: { sql: "SELECT count(*) FROM only_in_other" } });
    assert.equal(here.type, "response_ok");
    s.ws.close();
    const def = await rejection(server.client().execute("SELECT count(*) FROM only_in_other"));
    assert.match(def.message, /no such table/);
    const missing = raw({ headers: { "x-namespace": "no-such-db" } });
    const e = await rejection(missing.opened);
    assert.equal(e.status, 404);
  });
});

describe("authentication over ws://", () => {
  let authed;
  let keyDir;
  let token;
  let readToken;

  before(async () => {
    keyDir = mkdtempSync(join(tmpdir(), "cairn-ws-auth-"));
    const priv = join(keyDir, "k.pem");
    const pub = join(keyDir, "k.pub.pem");
    execFileSync(cairnBin(), ["keygen", "--private-key", priv, "--public-key", pub]);
    token = execFileSync(cairnBin(), ["token", "create", "--key", priv, "--db", "default"], { encoding: "utf8" }).trim();
    readToken = execFileSync(cairnBin(), ["token", "create", "--key", priv, "--db", "default", "--read-only"], { encoding: "utf8" }).trim();
    authed = await startServer({ args: ["--auth-jwt-key-file", pub] });
  });

  after(async () => {
    await authed?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test("a refused hello is answered with hello_error and closes the connection (1008)", async () => {
    const url = authed.url.toString().replace(/^http:/, "ws:");
    for (const jwt of [null, token.slice(0, -4) + "AAAA"]) {
      const ws = new WebSocket(url, ["hrana3"]);
      await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
      const got = new Promise((resolve) => ws.once("message", (d) => resolve(JSON.parse(d.toString()))));
      const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
      ws.send(JSON.stringify({ type: "hello", jwt }));
      const msg = await got;
      assert.equal(msg.type, "hello_error", JSON.stringify(msg));
      assert.equal(typeof msg.error.message, "string");
      assert.equal(await closed, 1008);
    }
  });

  test("an unknown database is told only after authentication", async () => {
    const url = authed.url.toString().replace(/^http:/, "ws:");
    const ws = new WebSocket(url, ["hrana3"], { headers: { "x-namespace": "no-such-db" } });
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    const got = new Promise((resolve) => ws.once("message", (d) => resolve(JSON.parse(d.toString()))));
    ws.send(JSON.stringify({ type: "hello", jwt: token }));
    const msg = await got;
    assert.equal(msg.type, "hello_error");
    assert.match(msg.error.message, /no-such-db|not exist|no such/i);
    ws.close();
  });

  test("once its token has expired, a connection closes (1008) until a new hello", async () => {
    const url = authed.url.toString().replace(/^http:/, "ws:");
    const brief = execFileSync(cairnBin(), ["token", "create", "--key", join(keyDir, "k.pem"), "--db", "default", "--expires", "2s"], { encoding: "utf8" }).trim();
    const ws = new WebSocket(url, ["hrana3"]);
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    const inbox = [];
    ws.on("message", (d) => inbox.push(JSON.parse(d.toString())));
    const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send(JSON.stringify({ type: "hello", jwt: brief }));
    ws.send(JSON.stringify({ type: "request", request_id: 1, request: { type: "open_stream", stream_id: 1 } }));
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(inbox.map((m) => m.type), ["hello_ok", "response_ok"]);
    ws.send(JSON.stringify({ type: "request", request_id: 2, request: { type: "execute", stream_id: 1, stmt: { sql: "SELECT 1" } } }));
    assert.equal(await closed, 1008);
  });

  test("a valid token works, none or a forged one is refused, a read-only one cannot write", async () => {
    const url = authed.url.toString().replace(/^http:/, "ws:");
    const ok = createClient({ url, authToken: token });
    await ok.execute("CREATE TABLE a (x)");
    await ok.execute("INSERT INTO a VALUES (1)");
    ok.close();
    for (const jwt of [undefined, token.slice(0, -4) + "AAAA"]) {
      const c = createClient({ url, ...(jwt ? { authToken: jwt } : {}) });
      const e = await rejection(c.execute("SELECT 1"));
      assert.ok(e instanceof Error, String(e));
      c.close();
    }
    const ro = createClient({ url, authToken: readToken });
    assert.equal(await scalar(ro, "SELECT count(*) FROM a"), 1);
    const denied = await rejection(ro.execute("INSERT INTO a VALUES (2)"));
    assert.ok(denied instanceof Error);
    ro.close();
    const check = createClient({ url, authToken: token });
    assert.equal(await scalar(check, "SELECT count(*) FROM a"), 1);
    check.close();
  });
});
