// Databases (namespaces): created and deleted through the admin API, selected per request with the
// x-namespace header, fully isolated from each other.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { LibsqlError } from "@libsql/client";
import { rejection, scalar, startServer } from "./server.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

// An HTTP request with the path sent exactly as given (fetch would normalise "..").
function rawRequest(port, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.setTimeout(10000, () => req.destroy(new Error("request timed out")));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const pipelineBody = (sql) =>
  JSON.stringify({
    requests: [{ type: "execute", stmt: { sql, args: [], named_args: [], want_rows: true } }, { type: "close" }],
  });

async function listNamespaces() {
  const resp = await server.admin("GET", "v1/namespaces");
  assert.equal(resp.status, 200, resp.text);
  assert.ok(Array.isArray(resp.json?.namespaces), resp.text);
  return resp.json.namespaces;
}

describe("admin API", () => {
  test("the default database exists from the start", async () => {
    assert.ok((await listNamespaces()).includes("default"));
  });

  test("create returns 200/201 with JSON; creating again → 409; list shows it", async () => {
    const created = await server.createNamespace("gamma");
    assert.ok(created.status === 200 || created.status === 201, `${created.status} ${created.text}`);
    assert.ok(created.json !== undefined && typeof created.json === "object", `create body not JSON: ${created.text}`);
    const again = await server.createNamespace("gamma");
    assert.equal(again.status, 409, again.text);
    assert.equal(typeof again.json?.message, "string", again.text);
    assert.ok((await listNamespaces()).includes("gamma"));
  });

  test("invalid names are rejected with 400 and nothing is created", async () => {
    const before = await listNamespaces();
    for (const name of ["A", "Upper", "..%2Fx", "..", ".", "a.b", "a%20b", "%2Fetc", "a".repeat(64), "-lead", "_lead", "caf%C3%A9"]) {
      const resp = await rawRequest(server.adminPort, "POST", `/v1/namespaces/${name}/create`, { body: "{}" });
      assert.equal(resp.status, 400, `create ${name}: ${resp.status} ${resp.text}`);
      assert.equal(typeof resp.json?.message, "string", `create ${name}: ${resp.text}`);
    }
    // Empty name.
    const empty = await rawRequest(server.adminPort, "POST", "/v1/namespaces//create", { body: "{}" });
    assert.equal(empty.status, 400, `create "": ${empty.status} ${empty.text}`);
    // A literal ../x path must not create anything either (400, or 404 for an unknown route).
    const traversal = await rawRequest(server.adminPort, "POST", "/v1/namespaces/../x/create", { body: "{}" });
    assert.ok(traversal.status === 400 || traversal.status === 404, `create ../x: ${traversal.status} ${traversal.text}`);
    assert.deepEqual(await listNamespaces(), before);
  });

  test("the longest valid name (63 characters) is accepted", async () => {
    const name = "n" + "0123456789".repeat(6) + "ab";
    assert.equal(name.length, 63);
    const resp = await server.createNamespace(name);
    assert.ok(resp.status === 200 || resp.status === 201, `${resp.status} ${resp.text}`);
    const c = server.client({ namespace: name });
    assert.equal(await scalar(c, "SELECT 1"), 1);
  });

  test("deleting an unknown database → 404", async () => {
    const resp = await server.deleteNamespace("never-created");
    assert.equal(resp.status, 404, resp.text);
    assert.equal(typeof resp.json?.message, "string");
  });

  test("the admin API is not served on the public port", async () => {
    const resp = await rawRequest(server.port, "POST", "/v1/namespaces/sneaky/create", { body: "{}" });
    assert.ok(resp.status >= 400, `public port answered ${resp.status}`);
    assert.ok(!(await listNamespaces()).includes("sneaky"));
  });
});

describe("isolation and routing", () => {
  let alpha;
  let beta;
  let def;

  before(async () => {
    for (const ns of ["alpha", "beta"]) {
      const resp = await server.createNamespace(ns);
      assert.ok(resp.status === 200 || resp.status === 201, `create ${ns}: ${resp.status} ${resp.text}`);
    }
    alpha = server.client({ namespace: "alpha" });
    beta = server.client({ namespace: "beta" });
    def = server.client(); // no header → default
  });

  test("each database sees only its own data", async () => {
    await alpha.execute("CREATE TABLE t (v TEXT)");
    await beta.execute("CREATE TABLE t (v TEXT)");
    await def.execute("CREATE TABLE t (v TEXT)");
    await alpha.batch(["INSERT INTO t VALUES ('alpha-1')", "INSERT INTO t VALUES ('alpha-2')"], "write");
    await beta.execute("INSERT INTO t VALUES ('beta-1')");
    await def.execute("INSERT INTO t VALUES ('default-1')");
    const rows = async (c) => (await c.execute("SELECT v FROM t ORDER BY v")).rows.map((r) => r.v);
    assert.deepEqual(await rows(alpha), ["alpha-1", "alpha-2"]);
    assert.deepEqual(await rows(beta), ["beta-1"]);
    assert.deepEqual(await rows(def), ["default-1"]);
    // The explicit header for default reaches the same database as no header.
    const def2 = server.client({ namespace: "default" });
    assert.deepEqual(await rows(def2), ["default-1"]);
  });

  test("schemas are separate too", async () => {
    await alpha.execute("CREATE TABLE only_in_alpha (x)");
    const e = await rejection(beta.execute("SELECT * FROM only_in_alpha"));
    assert.ok(e instanceof LibsqlError);
    assert.equal(e.code, "SQL_INPUT_ERROR");
    const tables = async (c) =>
      (await c.execute("SELECT name FROM sqlite_schema WHERE name = 'only_in_alpha'")).rows.length;
    assert.equal(await tables(alpha), 1);
    assert.equal(await tables(beta), 0);
    assert.equal(await tables(def), 0);
  });

  test("interactive transactions stay in their database", async () => {
    const tx = await alpha.transaction("write");
    await tx.execute("INSERT INTO t VALUES ('alpha-tx')");
    // A concurrent write in beta is not blocked by alpha's write lock.
    const t0 = Date.now();
    await beta.execute("INSERT INTO t VALUES ('beta-during-alpha-tx')");
    assert.ok(Date.now() - t0 < 2000, "beta write waited for alpha's transaction");
    await tx.commit();
    assert.equal(await scalar(alpha, "SELECT count(*) FROM t WHERE v = 'alpha-tx'"), 1);
    assert.equal(await scalar(beta, "SELECT count(*) FROM t WHERE v = 'alpha-tx'"), 0);
  });

  test("unknown namespace → 404 JSON error; the client gets a LibsqlError", async () => {
    const resp = await server.post("v2/pipeline", pipelineBody("SELECT 1"), { namespace: "nosuchdb" });
    assert.equal(resp.status, 404, resp.text);
    assert.equal(resp.headers.get("content-type"), "application/json");
    assert.equal(typeof resp.json?.message, "string", resp.text);
    assert.equal(typeof resp.json?.code, "string", resp.text);
    const c = server.client({ namespace: "nosuchdb" });
    const e = await rejection(c.execute("SELECT 1"));
    assert.ok(e instanceof LibsqlError, String(e));
    assert.equal(e.code, resp.json.code);
    assert.ok(!(await listNamespaces()).includes("nosuchdb"), "a request must not create a database");
  });

  test("an invalid x-namespace value → 400", async () => {
    for (const ns of ["A", "../default", "a b"]) {
      const resp = await server.post("v2/pipeline", pipelineBody("SELECT 1"), { namespace: ns });
      assert.equal(resp.status, 400, `x-namespace ${ns}: ${resp.status} ${resp.text}`);
      assert.equal(typeof resp.json?.code, "string", resp.text);
    }
  });

  test("x-namespace-bin (base64) selects a database", async () => {
    const resp = await server.post("v2/pipeline", pipelineBody("SELECT v FROM t ORDER BY v LIMIT 1"), {
      headers: { "x-namespace-bin": Buffer.from("beta").toString("base64") },
    });
    assert.equal(resp.status, 200, resp.text);
    assert.deepEqual(resp.json.results[0].response.result.rows, [[{ type: "text", value: "beta-1" }]]);
  });

  test("the first label of Host selects a database when it names one", async () => {
    const q = pipelineBody("SELECT v FROM t ORDER BY v LIMIT 1");
    const headers = { "content-type": "application/json" };
    const viaHost = await rawRequest(server.port, "POST", "/v2/pipeline", {
      headers: { ...headers, host: `alpha.db.example.com:${server.port}` },
      body: q,
    });
    assert.equal(viaHost.status, 200, viaHost.text);
    assert.deepEqual(viaHost.json.results[0].response.result.rows, [[{ type: "text", value: "alpha-1" }]]);
    // A first label that is not a database falls back to default.
    const fallback = await rawRequest(server.port, "POST", "/v2/pipeline", {
      headers: { ...headers, host: `www.example.com:${server.port}` },
      body: q,
    });
    assert.equal(fallback.status, 200, fallback.text);
    assert.deepEqual(fallback.json.results[0].response.result.rows, [[{ type: "text", value: "default-1" }]]);
    // x-namespace wins over Host.
    const both = await rawRequest(server.port, "POST", "/v2/pipeline", {
      headers: { ...headers, host: `alpha.db.example.com:${server.port}`, "x-namespace": "beta" },
      body: q,
    });
    assert.equal(both.status, 200, both.text);
    assert.deepEqual(both.json.results[0].response.result.rows, [[{ type: "text", value: "beta-1" }]]);
  });

  test("a baton from one database cannot be used in another", async () => {
    const open = await server.post(
      "v2/pipeline",
      JSON.stringify({ requests: [{ type: "execute", stmt: { sql: "SELECT 1", args: [], named_args: [] } }] }),
      { namespace: "alpha" },
    );
    assert.equal(open.status, 200, open.text);
    const cross = await server.post(
      "v2/pipeline",
      JSON.stringify({
        baton: open.json.baton,
        requests: [{ type: "execute", stmt: { sql: "INSERT INTO t VALUES ('cross')", args: [], named_args: [] } }],
      }),
      { namespace: "beta" },
    );
    assert.ok(cross.status >= 400 && cross.status < 500, `cross-database baton: ${cross.status} ${cross.text}`);
    assert.equal(await scalar(alpha, "SELECT count(*) FROM t WHERE v = 'cross'"), 0);
    assert.equal(await scalar(beta, "SELECT count(*) FROM t WHERE v = 'cross'"), 0);
  });
});

describe("deletion", () => {
  test("delete then access → 404; re-create gives an empty database", async () => {
    const created = await server.createNamespace("doomed");
    assert.ok(created.status === 200 || created.status === 201, created.text);
    const c = server.client({ namespace: "doomed" });
    await c.execute("CREATE TABLE d (v)");
    await c.execute("INSERT INTO d VALUES (1)");

    const del = await server.deleteNamespace("doomed");
    assert.equal(del.status, 200, del.text);
    assert.ok(!(await listNamespaces()).includes("doomed"));

    const resp = await server.post("v2/pipeline", pipelineBody("SELECT count(*) FROM d"), { namespace: "doomed" });
    assert.equal(resp.status, 404, resp.text);
    const e = await rejection(c.execute("SELECT count(*) FROM d"));
    assert.ok(e instanceof LibsqlError, String(e));

    const again = await server.deleteNamespace("doomed");
    assert.equal(again.status, 404, again.text);

    const recreated = await server.createNamespace("doomed");
    assert.ok(recreated.status === 200 || recreated.status === 201, recreated.text);
    const fresh = server.client({ namespace: "doomed" });
    const tables = await fresh.execute("SELECT name FROM sqlite_schema WHERE type = 'table'");
    assert.equal(tables.rows.length, 0, "a re-created database must start empty");
  });

  test("deleting a database with an open transaction neither hangs nor affects others", async () => {
    const created = await server.createNamespace("busy");
    assert.ok(created.status === 200 || created.status === 201, created.text);
    const c = server.client({ namespace: "busy" });
    await c.execute("CREATE TABLE b (v)");
    const tx = await c.transaction("write");
    await tx.execute("INSERT INTO b VALUES (1)");
    const t0 = Date.now();
    const del = await server.deleteNamespace("busy");
    assert.ok(Date.now() - t0 < 10000, "delete hung");
    // Either the delete waits out / aborts the transaction (200) or refuses while busy (4xx).
    assert.ok(del.status === 200 || (del.status >= 400 && del.status < 500), `${del.status} ${del.text}`);
    tx.close();
    const other = server.client({ namespace: "default" });
    assert.equal(await scalar(other, "SELECT 41 + 1"), 42);
    if (del.status === 200) {
      const gone = await server.post("v2/pipeline", pipelineBody("SELECT 1"), { namespace: "busy" });
      assert.equal(gone.status, 404, gone.text);
    }
  });
});
