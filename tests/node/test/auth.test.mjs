// Authentication and authorization end to end: the real @libsql/client (authToken) against the real
// binary started with JWT keys and an admin key. Tokens come from `cairn token create` (key made by
// `cairn keygen`) and from this test itself (node:crypto Ed25519), which also forges the bad ones.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, createHmac, sign } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cairnBin, rejection, scalar, startServer } from "./server.mjs";

const ADMIN_KEY = "admin-secret-for-tests";

let server;
let keyDir;
let cliPrivate; // cairn keygen's private key file (its public PEM file is given to the server)
let nodeKey; // second configured key (raw base64url on the command line): rotation
let strangerKey; // never configured

const b64url = (data) => Buffer.from(data).toString("base64url");

// A JWT signed here with node:crypto. `header` may be replaced to forge bad tokens.
function nodeToken(claims, { key = nodeKey.privateKey, header = { alg: "EdDSA", typ: "JWT" } } = {}) {
  const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${b64url(sign(null, Buffer.from(signed), key))}`;
}

// A token from `cairn token create --key <keygen's key> ...args`.
function cliToken(...args) {
  return execFileSync(cairnBin(), ["token", "create", "--key", cliPrivate, ...args], { encoding: "utf8" }).trim();
}

const now = () => Math.floor(Date.now() / 1000);

async function adminRequest(method, path, { auth } = {}) {
  const headers = auth === undefined ? {} : { authorization: auth };
  const resp = await fetch(new URL(path, server.adminUrl), { method, headers });
  const text = await resp.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: resp.status, text, json };
}

// One statement through the raw pipeline endpoint with `token` (undefined: no Authorization header).
function pipeline(sql, { token, namespace, baton, close = true, path = "v2/pipeline" } = {}) {
  const requests = [{ type: "execute", stmt: { sql } }];
  if (close) requests.push({ type: "close" });
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return server.post(path, { baton, requests }, { namespace, headers });
}

let admin; // a client with a token for every database, to check what was (not) written

before(async () => {
  keyDir = mkdtempSync(join(tmpdir(), "cairn-auth-test-"));
  cliPrivate = join(keyDir, "signing.pem");
  const publicPem = join(keyDir, "signing.pub.pem");
  const out = execFileSync(
    cairnBin(),
    ["keygen", "--private-key", cliPrivate, "--public-key", publicPem],
    { encoding: "utf8" },
  );
  assert.ok(existsSync(cliPrivate) && existsSync(publicPem), out);
  assert.match(readFileSync(publicPem, "utf8"), /^-----BEGIN PUBLIC KEY-----/);
  assert.match(out, /raw, for cairn serve --auth-jwt-key\): [A-Za-z0-9_-]{43}\n/);

  nodeKey = generateKeyPairSync("ed25519");
  strangerKey = generateKeyPairSync("ed25519");
  const nodeRaw = nodeKey.publicKey.export({ format: "jwk" }).x;

  server = await startServer({
    args: ["--auth-jwt-key-file", publicPem, "--auth-jwt-key", nodeRaw, "--admin-auth-key", ADMIN_KEY],
  });
  for (const ns of ["tenant-a", "tenant-b"]) {
    const r = await adminRequest("POST", `v1/namespaces/${ns}/create`, { auth: `Bearer ${ADMIN_KEY}` });
    assert.equal(r.status, 200, r.text);
  }
  const everything = cliToken();
  for (const ns of ["tenant-a", "tenant-b"]) {
    const c = server.client({ namespace: ns, authToken: everything });
    await c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, owner TEXT)");
    await c.execute({ sql: "INSERT INTO t (owner) VALUES (?)", args: [ns] });
  }
  admin = (ns) => server.client({ namespace: ns, authToken: everything });
});

after(async () => {
  await server?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

const rows = (ns) => scalar(admin(ns), "SELECT count(*) FROM t");

describe("authentication (401)", () => {
  test("no token while keys are configured", async () => {
    const r = await pipeline("SELECT 1", { namespace: "tenant-a" });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.code, "AUTH_FAILED");
    assert.equal(r.headers.get("www-authenticate"), "Bearer");
    const e = await rejection(server.client({ namespace: "tenant-a" }).execute("SELECT 1"));
    assert.equal(e.code, "AUTH_FAILED", String(e));
  });

  const bad = {
    expired: () => nodeToken({ exp: now() - 3600 }),
    garbage: () => "this.is.garbage",
    "not a JWT": () => "abc",
    "wrong key": () => nodeToken({}, { key: strangerKey.privateKey }),
    "alg none": () => `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url("{}")}.`,
    "alg none with a real signature": () => nodeToken({}, { header: { alg: "none" } }),
    "HS256 keyed with the public key": () => {
      const signed = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url("{}")}`;
      const secret = nodeKey.publicKey.export({ format: "jwk" }).x;
      return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
    },
    "tampered claims": () => {
      const [h, , s] = cliToken("--db", "tenant-a", "--read-only").split(".");
      return `${h}.${b64url(JSON.stringify({ a: "rw" }))}.${s}`;
    },
  };
  for (const [name, make] of Object.entries(bad)) {
    test(`${name} token`, async () => {
      const token = make();
      const r = await pipeline("SELECT count(*) FROM t", { token, namespace: "tenant-a" });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.code, "AUTH_FAILED");
      const e = await rejection(server.client({ namespace: "tenant-a", authToken: token }).execute("SELECT 1"));
      assert.equal(e.code, "AUTH_FAILED", String(e));
    });
  }

  test("another scheme than Bearer", async () => {
    const r = await server.post(
      "v2/pipeline",
      { requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] },
      { namespace: "tenant-a", headers: { authorization: `Basic ${cliToken()}` } },
    );
    assert.equal(r.status, 401, r.text);
  });

  test("health and version stay open", async () => {
    assert.equal((await server.get("health")).status, 200);
    assert.equal((await server.get("version")).status, 200);
  });
});

describe("read-write and read-only tokens", () => {
  test("a read-write token from cairn token create reads and writes", async () => {
    const c = server.client({ namespace: "tenant-a", authToken: cliToken("--db", "tenant-a", "--expires", "1h") });
    const before = await rows("tenant-a");
    await c.execute({ sql: "INSERT INTO t (owner) VALUES (?)", args: ["rw"] });
    assert.equal(await scalar(c, "SELECT count(*) FROM t"), before + 1);
    await c.execute({ sql: "DELETE FROM t WHERE owner = ?", args: ["rw"] });
    assert.equal(await rows("tenant-a"), before);
  });

  test("a read-only token reads, in and out of transactions", async () => {
    const c = server.client({ namespace: "tenant-a", authToken: cliToken("--db", "tenant-a", "--read-only") });
    assert.equal(await scalar(c, "SELECT owner FROM t WHERE id = 1"), "tenant-a");
    const rs = await c.batch(["SELECT count(*) FROM t", "SELECT 2"], "read");
    assert.equal(rs.length, 2);
    await c.batch(["SELECT count(*) FROM t"], "deferred"); // BEGIN DEFERRED becomes a read transaction
    const tx = await c.transaction("read");
    assert.equal(await scalar(tx, "SELECT count(*) FROM t"), await rows("tenant-a"));
    await tx.commit();
  });

  test("a read-only token that writes gets 403 and nothing is written", async () => {
    const token = cliToken("--db", "tenant-a", "--read-only");
    const c = server.client({ namespace: "tenant-a", authToken: token });
    const before = await rows("tenant-a");
    const userVersion = await scalar(admin("tenant-a"), "PRAGMA user_version");
    const attempts = {
      insert: () => c.execute("INSERT INTO t (owner) VALUES ('ro')"),
      "insert inside WITH": () => c.execute("WITH v(x) AS (SELECT 'ro') INSERT INTO t (owner) SELECT x FROM v"),
      update: () => c.execute("UPDATE t SET owner = 'ro'"),
      ddl: () => c.execute("CREATE TABLE ro_table (x)"),
      "pragma assignment": () => c.execute("PRAGMA user_version = 77"),
      "write batch": () => c.batch(["INSERT INTO t (owner) VALUES ('ro')", "SELECT 1"], "write"),
      "deferred batch": () => c.batch(["SELECT 1", "INSERT INTO t (owner) VALUES ('ro')"], "deferred"),
      "executeMultiple": () => c.executeMultiple("SELECT 1; INSERT INTO t (owner) VALUES ('ro');"),
      "write in a transaction": async () => {
        const tx = await c.transaction("write");
        try {
          await tx.execute("INSERT INTO t (owner) VALUES ('ro')");
          await tx.commit();
        } finally {
          tx.close();
        }
      },
    };
    for (const [name, attempt] of Object.entries(attempts)) {
      const e = await rejection(attempt());
      assert.equal(e.code, "FORBIDDEN", `${name}: ${e}`);
    }
    const r = await pipeline("INSERT INTO t (owner) VALUES ('ro')", { token, namespace: "tenant-a" });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.code, "FORBIDDEN");
    const cursor = await server.post(
      "v3/cursor",
      { baton: null, batch: { steps: [{ stmt: { sql: "SELECT 1" } }, { stmt: { sql: "DELETE FROM t" } }] } },
      { namespace: "tenant-a", headers: { authorization: `Bearer ${token}` } },
    );
    assert.equal(cursor.status, 403, cursor.text);
    assert.equal(await rows("tenant-a"), before);
    assert.equal(await scalar(admin("tenant-a"), "PRAGMA user_version"), userVersion);
    assert.equal(await scalar(admin("tenant-a"), "SELECT count(*) FROM sqlite_schema WHERE name = 'ro_table'"), 0);
    // The read-only client still works afterwards.
    assert.equal(await scalar(c, "SELECT count(*) FROM t"), before);
  });

  test("a read-only request cannot write into a transaction a read-write request opened", async () => {
    const rw = nodeToken({ id: "tenant-a" });
    const ro = nodeToken({ id: "tenant-a", a: "ro" });
    const before = await rows("tenant-a");
    const begin = await server.post(
      "v2/pipeline",
      { requests: [{ type: "execute", stmt: { sql: "BEGIN" } }, { type: "execute", stmt: { sql: "INSERT INTO t (owner) VALUES ('txn')" } }] },
      { namespace: "tenant-a", headers: { authorization: `Bearer ${rw}` } },
    );
    assert.equal(begin.status, 200, begin.text);
    const baton = begin.json.baton;
    assert.ok(baton);
    const denied = await pipeline("INSERT INTO t (owner) VALUES ('ro')", { token: ro, namespace: "tenant-a", baton, close: false });
    assert.equal(denied.status, 403, denied.text);
    // The stream is gone (rolled back): its baton does not work any more, nothing was committed.
    const commit = await pipeline("COMMIT", { token: rw, namespace: "tenant-a", baton });
    assert.equal(commit.status, 400, commit.text);
    assert.equal(await rows("tenant-a"), before);
  });

  test("a read-only request may read inside a read-write transaction", async () => {
    const rw = nodeToken({ id: "tenant-a" });
    const ro = nodeToken({ id: "tenant-a", a: "ro" });
    const begin = await server.post(
      "v2/pipeline",
      { requests: [{ type: "execute", stmt: { sql: "BEGIN IMMEDIATE" } }] },
      { namespace: "tenant-a", headers: { authorization: `Bearer ${rw}` } },
    );
    assert.equal(begin.status, 200, begin.text);
    const read = await pipeline("SELECT count(*) FROM t", { token: ro, namespace: "tenant-a", baton: begin.json.baton, close: false });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.json.results[0].type, "ok", read.text);
    const end = await pipeline("ROLLBACK", { token: rw, namespace: "tenant-a", baton: read.json.baton });
    assert.equal(end.status, 200, end.text);
    assert.equal(end.json.results[0].type, "ok", end.text);
  });
});

describe("tenant isolation", () => {
  test("a token for database A can neither read nor write database B", async () => {
    const before = await rows("tenant-b");
    for (const token of [cliToken("--db", "tenant-a"), cliToken("--db", "tenant-a", "--read-only"), nodeToken({ id: "tenant-a" })]) {
      const c = server.client({ namespace: "tenant-b", authToken: token });
      for (const sql of ["SELECT owner FROM t", "INSERT INTO t (owner) VALUES ('intruder')", "DELETE FROM t"]) {
        const e = await rejection(c.execute(sql));
        assert.equal(e.code, "FORBIDDEN", `${sql}: ${e}`);
      }
      const r = await pipeline("SELECT owner FROM t", { token, namespace: "tenant-b" });
      assert.equal(r.status, 403, r.text);
      assert.doesNotMatch(r.text, /tenant-b"\]/);
      // Without x-namespace the request is for `default`, which the token does not cover either.
      assert.equal((await pipeline("SELECT 1", { token })).status, 403);
    }
    assert.equal(await rows("tenant-b"), before);
  });

  test("other tenants' databases do not reveal whether they exist", async () => {
    const token = cliToken("--db", "tenant-a");
    const existing = await pipeline("SELECT 1", { token, namespace: "tenant-b" });
    const missing = await pipeline("SELECT 1", { token, namespace: "no-such-db" });
    assert.equal(existing.status, 403);
    assert.equal(missing.status, 403);
    // A token for every database learns that one is missing.
    assert.equal((await pipeline("SELECT 1", { token: cliToken(), namespace: "no-such-db" })).status, 404);
  });

  test("per-database permissions (p claim): write A, read B, nothing else", async () => {
    const token = nodeToken({ p: { rw: { ns: ["tenant-a"] }, ro: { ns: ["tenant-b"] } } });
    const a = server.client({ namespace: "tenant-a", authToken: token });
    const b = server.client({ namespace: "tenant-b", authToken: token });
    const beforeA = await rows("tenant-a");
    const beforeB = await rows("tenant-b");
    await a.execute("INSERT INTO t (owner) VALUES ('p')");
    assert.equal(await rows("tenant-a"), beforeA + 1);
    await a.execute("DELETE FROM t WHERE owner = 'p'");
    assert.equal(await scalar(b, "SELECT owner FROM t WHERE id = 1"), "tenant-b");
    assert.equal((await rejection(b.execute("INSERT INTO t (owner) VALUES ('p')"))).code, "FORBIDDEN");
    assert.equal((await rejection(server.client({ authToken: token }).execute("SELECT 1"))).code, "FORBIDDEN");
    assert.equal(await rows("tenant-b"), beforeB);
  });

  test("a token signed by either configured key works (rotation)", async () => {
    assert.equal(await scalar(server.client({ namespace: "tenant-a", authToken: cliToken("--db", "tenant-a") }), "SELECT 1"), 1);
    assert.equal(await scalar(server.client({ namespace: "tenant-a", authToken: nodeToken({ id: "tenant-a" }) }), "SELECT 1"), 1);
  });

  test("no SQL escapes the tenant's own file, even with a read-write token", async () => {
    const c = server.client({ namespace: "tenant-a", authToken: cliToken("--db", "tenant-a") });
    const other = join(server.dataDir, "databases", "tenant-b", "data.sqlite");
    const copy = join(keyDir, "stolen.sqlite");
    const attempts = [
      `ATTACH DATABASE '${other}' AS b`,
      `VACUUM INTO '${copy}'`,
      "SELECT load_extension('/tmp/evil.so')",
      "SELECT count(*) FROM sqlite_dbpage",
      "PRAGMA writable_schema = ON",
    ];
    for (const sql of attempts) {
      await rejection(c.execute(sql));
    }
    assert.equal(existsSync(copy), false);
    assert.equal(await scalar(admin("tenant-b"), "SELECT owner FROM t WHERE id = 1"), "tenant-b");
  });
});

describe("admin API key", () => {
  test("refused without the key or with a wrong one", async () => {
    for (const auth of [undefined, "Bearer wrong", `Bearer ${ADMIN_KEY}x`, ADMIN_KEY, `Bearer ${cliToken()}`]) {
      const r = await adminRequest("GET", "v1/namespaces", { auth });
      assert.equal(r.status, 401, `${auth}: ${r.text}`);
      const create = await adminRequest("POST", "v1/namespaces/intruder/create", { auth });
      assert.equal(create.status, 401);
    }
    const list = await adminRequest("GET", "v1/namespaces", { auth: `Bearer ${ADMIN_KEY}` });
    assert.ok(!list.json.namespaces.includes("intruder"), list.text);
  });

  test("accepted with the key (Bearer, or Basic as sqld's admin API uses)", async () => {
    for (const auth of [`Bearer ${ADMIN_KEY}`, `bearer ${ADMIN_KEY}`, `Basic ${ADMIN_KEY}`]) {
      const r = await adminRequest("GET", "v1/namespaces", { auth });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.namespaces.includes("tenant-a"), r.text);
    }
  });

  test("health stays open for probes", async () => {
    assert.equal((await adminRequest("GET", "health")).status, 200);
  });
});
