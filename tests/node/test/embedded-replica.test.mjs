// Embedded replicas: the real `libsql` package (under @libsql/client with a syncUrl) keeps a local
// SQLite file in sync with `cairn serve` through libSQL's HTTP sync protocol, reads it in-process
// and sends writes to the server. docs/embedded-replicas.md describes what is served.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { cairnBin, makeDataDir, NODE_DIR, rejection, runCairn, scalar, sleep, startServer } from "./server.mjs";

const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), "cairn-embedded-"));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function server(opts = {}) {
  const s = await startServer(opts);
  cleanup.push(() => s.stop());
  return s;
}

// An embedded replica of `srv` in a file of `dir`.
function embedded(srv, dir, config = {}) {
  const c = createClient({ url: `file:${join(dir, "local.db")}`, syncUrl: srv.url, ...config });
  cleanup.push(() => c.close());
  return c;
}

// A counter of the server's /metrics.
async function metric(srv, name) {
  const r = await srv.admin("GET", "metrics");
  const m = r.text.match(new RegExp(`^${name} (\\d+)`, "m"));
  return m ? Number(m[1]) : 0;
}

const count = (c) => scalar(c, "SELECT count(*) FROM t");

// The rows of t, as text, on any client.
async function rows(c) {
  const rs = await c.execute("SELECT id, v FROM t ORDER BY id");
  return rs.rows.map((r) => `${r.id}:${r.v}`).join(",");
}

// A summary of t that differs when any row does (for tables too large to compare row by row).
async function digest(c) {
  const rs = await c.execute(
    "SELECT count(*) AS n, sum(id) AS s, sum(length(v)) AS l, sum(unicode(substr(v, 7, 1)) * id) AS x FROM t",
  );
  const r = rs.rows[0];
  return `${r.n}/${r.s}/${r.l}/${r.x}`;
}

async function seed(remote, n, size = 20) {
  await remote.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)");
  const stmts = [];
  for (let i = 0; i < n; i++) stmts.push({ sql: "INSERT INTO t(v) VALUES (hex(randomblob(?)))", args: [size] });
  if (stmts.length) await remote.batch(stmts, "write");
}

describe("an embedded replica of cairn serve", () => {
  test("bootstraps, reads locally, and later syncs bring only what changed", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 500);
    const local = embedded(srv, tempDir());
    await local.sync();
    assert.equal(await count(local), 500);
    assert.equal(await scalar(local, "PRAGMA integrity_check"), "ok");
    assert.equal(await rows(local), await rows(remote));

    // Up to date: a sync sends no frame.
    const f0 = await metric(srv, "cairn_libsql_sync_frames_total");
    await local.sync();
    assert.equal(await metric(srv, "cairn_libsql_sync_frames_total"), f0);

    // One small remote change: a few pages, not the database.
    await remote.execute("INSERT INTO t(v) VALUES ('one more')");
    await local.sync();
    const sent = (await metric(srv, "cairn_libsql_sync_frames_total")) - f0;
    assert.ok(sent >= 1 && sent <= 4, `frames sent for one insert: ${sent}`);
    assert.equal(await rows(local), await rows(remote));
  });

  test("writes and batches go to the server and are read back at once, atomically", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 10);
    const local = embedded(srv, tempDir());
    await local.sync();

    const w = await local.execute({ sql: "INSERT INTO t(v) VALUES (?)", args: ["mine"] });
    assert.equal(w.rowsAffected, 1);
    // Read your writes: the local file has the row as soon as the write returns.
    assert.equal(await scalar(local, "SELECT v FROM t WHERE id = ?", [Number(w.lastInsertRowid)]), "mine");
    assert.equal(await scalar(remote, "SELECT v FROM t WHERE id = ?", [Number(w.lastInsertRowid)]), "mine");

    await local.batch(
      [
        { sql: "INSERT INTO t(v) VALUES (?)", args: ["b1"] },
        { sql: "INSERT INTO t(v) VALUES (?)", args: ["b2"] },
      ],
      "write",
    );
    assert.equal(await count(local), 13);

    // A batch that fails changes nothing, on the server or in the file.
    const e = await rejection(
      local.batch(
        [
          { sql: "INSERT INTO t(v) VALUES (?)", args: ["lost"] },
          { sql: "INSERT INTO nosuch(v) VALUES (1)", args: [] },
        ],
        "write",
      ),
    );
    assert.match(e.message, /no such table/);
    await local.sync();
    assert.equal(await count(local), 13);
    assert.equal(await count(remote), 13);
    assert.equal(await scalar(local, "SELECT count(*) FROM t WHERE v = 'lost'"), 0);

    // An interactive transaction runs on the server; a sync brings its result.
    const tx = await local.transaction("write");
    await tx.execute("INSERT INTO t(v) VALUES ('in a transaction')");
    await tx.commit();
    await local.sync();
    assert.equal(await rows(local), await rows(remote));
  });

  test("closing and reopening the file resumes where it was", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 300);
    const dir = tempDir();
    const first = embedded(srv, dir);
    await first.sync();
    first.close();
    assert.ok(existsSync(join(dir, "local.db-info")), "the client keeps its position beside the file");

    await remote.execute("INSERT INTO t(v) VALUES ('while closed')");
    const f0 = await metric(srv, "cairn_libsql_sync_frames_total");
    const again = embedded(srv, dir);
    await again.sync();
    const sent = (await metric(srv, "cairn_libsql_sync_frames_total")) - f0;
    assert.ok(sent <= 4, `a reopened replica got ${sent} frames for one insert`);
    assert.equal(await rows(again), await rows(remote));
  });

  test("syncInterval keeps the file up to date without calls to sync()", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 5);
    const local = embedded(srv, tempDir(), { syncInterval: 1 });
    await local.sync();
    await remote.execute("INSERT INTO t(v) VALUES ('pushed')");
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && (await count(local)) !== 6) await sleep(100);
    assert.equal(await count(local), 6);
  });

  test("a server stopped and started again keeps the replica's position", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 300);
    const local = embedded(srv, tempDir());
    await local.sync();
    await remote.execute("INSERT INTO t(v) VALUES ('before the stop')");
    await srv.stop({ keepDataDir: true });
    const again = await server({ dataDir: srv.dataDir, port: srv.port, adminPort: srv.adminPort });
    const remote2 = again.client();
    await remote2.execute("INSERT INTO t(v) VALUES ('after the restart')");
    await local.sync();
    assert.equal(await rows(local), await rows(remote2));
    // The same generation went on: no new one, so the client did not fetch the database again.
    const started = await metric(again, "cairn_libsql_sync_generations_total");
    assert.equal(started, 0, again.logs.join("").split("\n").filter((l) => /generation|log/.test(l)).join("\n"));
    assert.ok((await metric(again, "cairn_libsql_sync_frames_total")) <= 8);
  });

  test("a server killed with SIGKILL and restarted: the replica converges", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 300);
    const local = embedded(srv, tempDir());
    await local.sync();
    await remote.execute("INSERT INTO t(v) VALUES ('before the kill')");
    await srv.kill();
    const again = await server({ dataDir: srv.dataDir, port: srv.port, adminPort: srv.adminPort });
    const remote2 = again.client();
    await remote2.execute("INSERT INTO t(v) VALUES ('after the restart')");
    await local.sync();
    assert.equal(await scalar(local, "PRAGMA integrity_check"), "ok");
    assert.equal(await rows(local), await rows(remote2));
  });

  test("after a point-in-time restore the replica converges to the restored database", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 50);
    const keep = Number(await scalar(remote, "SELECT max(id) FROM t"));
    const at = await srv.post("v3/pipeline", { requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] });
    const txid = at.json.results[0].response.result.replication_index;
    await sleep(1000); // the backup has the history
    const dir = tempDir();
    const local = embedded(srv, dir);
    await remote.execute("DELETE FROM t WHERE id <= 10");
    await seed(remote, 20);
    await local.sync();
    assert.equal(await count(local), 60);
    await srv.stop({ keepDataDir: true });

    // Back to the state after the seed: the restored file replaces the database.
    const backups = join(srv.dataDir, "backups");
    const out = await runCairn([
      "restore", "default", "--from", backups,
      "--data-dir", srv.dataDir, "--overwrite", "--to-tx", String(txid),
    ]);
    assert.equal(out.code, 0, out.err + out.out);
    const again = await server({ dataDir: srv.dataDir, port: srv.port, adminPort: srv.adminPort });
    const remote2 = again.client();
    assert.equal(await count(remote2), 50);
    assert.equal(Number(await scalar(remote2, "SELECT max(id) FROM t")), keep);
    await local.sync();
    assert.equal(await scalar(local, "PRAGMA integrity_check"), "ok");
    assert.equal(await rows(local), await rows(remote2));
  });

  test("several replicas sync at once while the server is written", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 100);
    const locals = [0, 1, 2, 3].map(() => embedded(srv, tempDir()));
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 200 && writing; i++) await remote.execute({ sql: "INSERT INTO t(v) VALUES (?)", args: [`w${i}`] });
    })();
    const syncers = locals.map(async (l) => {
      for (let i = 0; i < 20; i++) {
        await l.sync();
        await sleep(10);
      }
    });
    await Promise.all(syncers);
    writing = false;
    await writer;
    const want = await rows(remote);
    for (const l of locals) {
      await l.sync();
      assert.equal(await rows(l), want);
    }
  });

  test("offline writes (offline: true) are refused with a message the client reports", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 5);
    const local = embedded(srv, tempDir(), { offline: true });
    await local.sync();
    assert.equal(await count(local), 5);
    // Written locally, then pushed by the next sync: the server refuses, and says why.
    await local.execute("INSERT INTO t(v) VALUES ('offline')");
    const e = await rejection(local.sync());
    assert.match(String(e.message), /offline/);
    assert.equal(await count(remote), 5);
  });

  test("malformed and impossible requests get a clear 4xx and the server keeps serving", async () => {
    const srv = await server();
    await seed(srv.client(), 3);
    for (const [path, method] of [
      ["sync/1/5/2", "GET"],
      ["sync/1/0/2", "GET"],
      ["sync/abc/1/2", "GET"],
      ["sync/1/1/99999999", "GET"],
      ["sync/1/1", "GET"],
      ["export/0", "GET"],
      ["info", "POST"],
      ["sync/1/1/2", "POST"],
    ]) {
      const r = await (method === "GET" ? srv.get(path) : srv.post(path, "frames"));
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${path}: ${r.status} ${r.text}`);
      assert.ok(r.json?.error, `${method} ${path}: ${r.text}`);
    }
    const push = await srv.post("sync/1/1/2", "x");
    assert.match(push.json.error, /offline/);
    assert.equal((await srv.get("export/999")).status, 404);
    assert.equal((await srv.get("info")).status, 200);
    const local = embedded(srv, tempDir());
    await local.sync();
    assert.equal(await count(local), 3);
  });
});

describe("embedded replicas and credentials", () => {
  test("tokens decide who may sync and who may write", async () => {
    const keys = tempDir();
    const priv = join(keys, "k.pem");
    const pub = join(keys, "k.pub.pem");
    execFileSync(cairnBin(), ["keygen", "--private-key", priv, "--public-key", pub]);
    const token = (...args) => execFileSync(cairnBin(), ["token", "create", "--key", priv, ...args], { encoding: "utf8" }).trim();
    const srv = await server({ args: ["--auth-jwt-key-file", pub] });
    const rw = token("--db", "default");
    const remote = srv.client({ authToken: rw });
    await seed(remote, 10);

    // No token, and a token for another database: refused, with nothing written locally.
    // (The client probes the server as it opens, so the refusal may come from createClient.)
    for (const authToken of [undefined, token("--db", "other")]) {
      let error;
      try {
        const c = embedded(srv, tempDir(), authToken ? { authToken } : {});
        await c.sync();
      } catch (e) {
        error = e;
      }
      assert.ok(error, "the sync was refused");
      assert.match(String(error.message), /Unauthorized/);
    }

    // Read-only: may sync and read, not write.
    const ro = embedded(srv, tempDir(), { authToken: token("--db", "default", "--read-only") });
    await ro.sync();
    assert.equal(await count(ro), 10);
    await rejection(ro.execute("INSERT INTO t(v) VALUES ('ro')"));
    assert.equal(await count(remote), 10);

    // Read-write: both.
    const full = embedded(srv, tempDir(), { authToken: rw });
    await full.sync();
    await full.execute("INSERT INTO t(v) VALUES ('rw')");
    assert.equal(await count(full), 11);
  });
});

describe("an embedded replica fed by a Cairn read replica", () => {
  test("syncs from the replica's copy and its writes reach the primary", async () => {
    const primary = await server();
    const remote = primary.client();
    await seed(remote, 100);
    const replica = await server({ args: ["--replica-of", primary.adminUrl.replace(/\/$/, "")] });
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      try {
        if (Number(await scalar(replica.client(), "SELECT count(*) FROM t")) === 100) break;
      } catch {
        // not there yet
      }
      await sleep(100);
    }
    const local = embedded(replica, tempDir());
    await local.sync();
    assert.equal(await count(local), 100);

    await local.execute("INSERT INTO t(v) VALUES ('via the edge')");
    assert.equal(await scalar(remote, "SELECT count(*) FROM t WHERE v = 'via the edge'"), 1);
    // The write is in the file once the replica has it.
    const until = Date.now() + 10000;
    while (Date.now() < until && (await count(local)) !== 101) {
      await sleep(50);
      await local.sync();
    }
    assert.equal(await rows(local), await rows(remote));
  });
});

describe("a replica killed in the middle of a sync", () => {
  test("the next sync repairs the file", async () => {
    const srv = await server();
    const remote = srv.client();
    await seed(remote, 20000, 400); // ~16 MB: many answers
    const dir = tempDir();
    const script = join(dir, "sync.mjs");
    writeFileSync(
      script,
      `import { createClient } from "@libsql/client";\n` +
        `const c = createClient({ url: "file:${join(dir, "local.db")}", syncUrl: "${srv.url}" });\n` +
        `await c.sync();\nprocess.stdout.write("done");\n`,
    );
    const child = spawn(process.execPath, [script], { cwd: NODE_DIR, env: { ...process.env, NODE_PATH: join(NODE_DIR, "node_modules") }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    // Kill it once the local WAL holds part of the database.
    const wal = join(dir, "local.db-wal");
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (existsSync(wal) && statSync(wal).size > 2 << 20) break;
      await sleep(5);
    }
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", r)));
    assert.ok(!out.includes("done"), `the sync finished before the kill: ${out}`);

    const local = embedded(srv, dir);
    await local.sync();
    assert.equal(await scalar(local, "PRAGMA integrity_check"), "ok");
    assert.equal(await digest(local), await digest(remote));
  });
});
