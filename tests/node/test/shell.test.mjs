// `cairn shell` used as a script tool against a real server: SQL on the command line and on stdin,
// table and JSON output, the server's error message and code, exit codes, transactions kept across
// statements of one session, and .dump output that recreates the data.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cairnBin, startServer } from "./server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

function shell(args, input) {
  const r = spawnSync(cairnBin(), ["shell", server.url.toString(), ...args], {
    input: input ?? "",
    encoding: "utf8",
    timeout: 20000,
    env: { ...process.env, HOME: process.env.HOME ?? "/tmp" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("cairn shell", () => {
  test("runs statements given as arguments and prints an aligned table", () => {
    const r = shell([
      "CREATE TABLE s(id INTEGER PRIMARY KEY, name TEXT, score REAL)",
      "INSERT INTO s(name, score) VALUES ('ada', 9.5), ('bob', 12)",
      "SELECT id, name, score FROM s ORDER BY id",
    ]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split("\n").filter((l) => l.startsWith("|"));
    assert.ok(lines.length >= 3, r.out);
    assert.match(lines[0], /\|\s*id\s*\|\s*name\s*\|\s*score\s*\|/);
    assert.match(r.out, /\|\s+1 \| ada\s*\|\s+9\.5 \|/);
    assert.match(r.out, /\|\s+2 \| bob\s*\|\s+12(\.0)? \|/);
    // Every table row has the same width.
    const widths = new Set(r.out.split("\n").filter((l) => /^[|+]/.test(l)).map((l) => l.length));
    assert.equal(widths.size, 1, r.out);
  });

  test("reads SQL from stdin, keeps a transaction across statements, prints JSON rows", () => {
    const r = shell(["--json"], "BEGIN;\nINSERT INTO s(name, score) VALUES ('cy', 1);\nROLLBACK;\nSELECT count(*) AS n FROM s;\n");
    assert.equal(r.code, 0, r.err);
    const rows = r.out.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.deepEqual(rows, [{ n: 2 }]);
  });

  test("shows the server's error message and code and exits 1", () => {
    const r = shell(["INSERT INTO s(id, name) VALUES (1, 'dup')"]);
    assert.equal(r.code, 1);
    assert.match(r.out + r.err, /UNIQUE constraint failed: s\.id/);
    assert.match(r.out + r.err, /SQLITE_CONSTRAINT/);
    const p = shell(["SELEC 1"]);
    assert.equal(p.code, 1);
    assert.match(p.out + p.err, /SQL_PARSE_ERROR/);
  });

  test(".tables, .schema and .dump; the dump recreates the data in another database", async () => {
    const t = shell([".tables"]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /\bs\b/);
    const sc = shell([".schema s"]);
    assert.match(sc.out, /CREATE TABLE s\(id INTEGER PRIMARY KEY, name TEXT, score REAL\)/);
    const dump = shell([".dump"]);
    assert.equal(dump.code, 0, dump.err);
    assert.match(dump.out, /INSERT INTO/);
    const created = await fetch(new URL("v1/namespaces/copy/create", server.adminUrl), { method: "POST" });
    assert.equal(created.status, 200);
    const load = shell(["--namespace", "copy"], dump.out);
    assert.equal(load.code, 0, load.err + load.out);
    const check = shell(["--namespace", "copy", "--json", "SELECT name, score FROM s ORDER BY id"]);
    const rows = check.out.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rows, [{ name: "ada", score: 9.5 }, { name: "bob", score: 12 }]);
  });
});
