// HTTP-level behaviour real clients and infrastructure depend on: CORS for browser apps
// (@libsql/client/web; sqld answers every origin), HEAD, chunked bodies, Expect: 100-continue,
// keep-alive reuse, and lenient request Content-Type.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { startServer } from "./server.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

const pipeline = JSON.stringify({
  requests: [{ type: "execute", stmt: { sql: "SELECT 1", args: [], named_args: [], want_rows: true } }, { type: "close" }],
});
const ONE = [[{ type: "integer", value: "1" }]];

function raw(method, path, { headers = {}, chunks = [], agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: server.port, method, path, headers, agent }, (res) => {
      const parts = [];
      res.on("data", (c) => parts.push(c));
      res.on("end", () => {
        const text = Buffer.concat(parts).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json, socket: req.socket });
      });
    });
    req.on("error", reject);
    req.setTimeout(10000, () => req.destroy(new Error("request timed out")));
    for (const c of chunks) req.write(c);
    req.end();
  });
}

// Sends bytes on a fresh TCP connection and returns everything the server sends until it closes.
function rawExchange(bytes) {
  return new Promise((resolve, reject) => {
    const sock = connect(server.port, "127.0.0.1");
    const parts = [];
    sock.setTimeout(10000, () => sock.destroy(new Error("socket timed out")));
    sock.on("data", (c) => parts.push(c));
    sock.on("end", () => resolve(Buffer.concat(parts).toString("latin1")));
    sock.on("error", reject);
    sock.write(bytes);
  });
}

test("CORS preflight for /v2/pipeline is answered for any origin", async () => {
  const resp = await raw("OPTIONS", "/v2/pipeline", {
    headers: {
      origin: "http://app.example.com",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });
  assert.ok(resp.status >= 200 && resp.status < 300, `preflight answered ${resp.status} ${resp.text}`);
  const allowOrigin = resp.headers["access-control-allow-origin"];
  assert.ok(allowOrigin === "*" || allowOrigin === "http://app.example.com", `allow-origin: ${allowOrigin}`);
  const methods = (resp.headers["access-control-allow-methods"] ?? "").toUpperCase();
  assert.ok(methods === "*" || methods.includes("POST"), `allow-methods: ${methods}`);
  const allowHeaders = (resp.headers["access-control-allow-headers"] ?? "").toLowerCase();
  assert.ok(
    allowHeaders === "*" || (allowHeaders.includes("authorization") && allowHeaders.includes("content-type")),
    `allow-headers: ${allowHeaders}`,
  );
});

test("a cross-origin POST gets Access-Control-Allow-Origin", async () => {
  const resp = await raw("POST", "/v2/pipeline", {
    headers: { origin: "http://app.example.com", "content-type": "application/json" },
    chunks: [pipeline],
  });
  assert.equal(resp.status, 200, resp.text);
  const allowOrigin = resp.headers["access-control-allow-origin"];
  assert.ok(allowOrigin === "*" || allowOrigin === "http://app.example.com", `allow-origin: ${allowOrigin}`);
});

test("HEAD /health → 200 without a body, and the connection stays usable", async () => {
  const out = await rawExchange(
    "HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
  );
  assert.match(out, /^HTTP\/1\.1 200 /, `HEAD answered: ${out.slice(0, 80)}`);
  const endOfHead = out.indexOf("\r\n\r\n");
  assert.ok(endOfHead > 0);
  const rest = out.slice(endOfHead + 4);
  assert.match(rest, /^HTTP\/1\.1 200 /, `bytes after the HEAD response headers: ${JSON.stringify(rest.slice(0, 80))}`);
});

test("HEAD on an unknown path → 404 without a body", async () => {
  const out = await rawExchange(
    "HEAD /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
  );
  assert.match(out, /^HTTP\/1\.1 404 /, out.slice(0, 80));
  const rest = out.slice(out.indexOf("\r\n\r\n") + 4);
  assert.match(rest, /^HTTP\/1\.1 200 /, `a HEAD response must not carry a body: ${JSON.stringify(rest.slice(0, 80))}`);
});

test("a chunked request body is accepted", async () => {
  const resp = await raw("POST", "/v2/pipeline", {
    headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    chunks: [pipeline.slice(0, 7), pipeline.slice(7, 40), pipeline.slice(40)],
  });
  assert.equal(resp.status, 200, resp.text);
  assert.deepEqual(resp.json.results[0].response.result.rows, ONE);
});

test("Expect: 100-continue is honoured (curl sends it for large bodies)", async () => {
  const resp = await raw("POST", "/v2/pipeline", {
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(pipeline), expect: "100-continue" },
    chunks: [pipeline],
  });
  assert.equal(resp.status, 200, resp.text);
  assert.deepEqual(resp.json.results[0].response.result.rows, ONE);
});

test("200 requests reuse one keep-alive connection", async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const sockets = new Set();
    for (let i = 0; i < 200; i++) {
      const resp = await raw("POST", "/v2/pipeline", {
        headers: { "content-type": "application/json" },
        chunks: [pipeline],
        agent,
      });
      assert.equal(resp.status, 200, resp.text);
      sockets.add(resp.socket);
    }
    assert.equal(sockets.size, 1, `used ${sockets.size} connections`);
  } finally {
    agent.destroy();
  }
});

test("the pipeline body is read as JSON whatever the request Content-Type", async () => {
  for (const headers of [{ "content-type": "text/plain" }, {}]) {
    const resp = await raw("POST", "/v2/pipeline", { headers, chunks: [pipeline] });
    assert.equal(resp.status, 200, resp.text);
    assert.equal(resp.headers["content-type"], "application/json");
    assert.deepEqual(resp.json.results[0].response.result.rows, ONE);
  }
});

// The answers in `out`, a sequence of HTTP/1.x responses with Content-Length (or none for 204):
// [{ status, headers (lower-case names), body }].
function splitResponses(out) {
  const answers = [];
  let rest = out;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) throw new Error(`incomplete head: ${JSON.stringify(rest.slice(0, 200))}`);
    const lines = rest.slice(0, end).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(":");
      headers[l.slice(0, colon).toLowerCase()] = l.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    answers.push({ status, headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return answers;
}

test("pipelined requests on one connection are answered in order", async () => {
  const body = pipeline;
  const out = await rawExchange(
    "GET /health HTTP/1.1\r\nHost: x\r\nx-request-id: first\r\n\r\n" +
      `POST /v2/pipeline HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-request-id: second\r\n\r\n${body}` +
      "POST /v2/pipeline HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nx-request-id: third\r\n\r\n" +
      `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n` +
      "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-request-id: fourth\r\n\r\n",
  );
  const answers = splitResponses(out);
  assert.deepEqual(
    answers.map((a) => [a.status, a.headers["x-request-id"]]),
    [
      [200, "first"],
      [200, "second"],
      [200, "third"],
      [200, "fourth"],
    ],
  );
  for (const a of answers.slice(1, 3)) assert.deepEqual(JSON.parse(a.body).results[0].response.result.rows, ONE);
  assert.match(answers[3].body, /^cairn /);
  assert.equal(answers[3].headers.connection, "close");
});

test("HTTP/1.0: closed after the answer unless keep-alive is asked", async () => {
  let answers = splitResponses(await rawExchange("GET /health HTTP/1.0\r\n\r\n"));
  assert.equal(answers.length, 1);
  assert.equal(answers[0].status, 200);
  answers = splitResponses(
    await rawExchange("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /version HTTP/1.0\r\n\r\n"),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200],
  );
  assert.equal(answers[0].headers.connection, "keep-alive");
});

test("unreadable requests get a clear 4xx/5xx JSON answer and the connection closes", async () => {
  const cases = [
    ["GARBAGE\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nbad header line\r\n\r\n", 400],
    ["GET /health HTTP/2.0\r\n\r\n", 505],
    ["POST /v2/pipeline HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
    ["POST /v2/pipeline HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
    ["POST /v2/pipeline HTTP/1.1\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n{}", 417],
    [`GET /health HTTP/1.1\r\nx-big: ${"a".repeat(70000)}\r\n\r\n`, 431],
    [`GET /${"a".repeat(70000)} HTTP/1.1\r\n\r\n`, 414],
  ];
  for (const [bytes, status] of cases) {
    const answers = splitResponses(await rawExchange(bytes + "GET /health HTTP/1.1\r\n\r\n"));
    assert.equal(answers.length, 1, `${JSON.stringify(bytes.slice(0, 60))}: one answer, then close`);
    assert.equal(answers[0].status, status, JSON.stringify(bytes.slice(0, 60)));
    assert.equal(answers[0].headers["content-type"], "application/json");
    assert.equal(answers[0].headers.connection, "close");
    const json = JSON.parse(answers[0].body);
    assert.equal(typeof json.message, "string");
    assert.equal(typeof json.code, "string");
  }
});
