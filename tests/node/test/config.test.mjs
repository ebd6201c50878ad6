// `cairn serve --config FILE` (TOML) and its precedence (command line > CAIRN_* environment >
// file), `serve --help`, and request ids: every response carries x-request-id (the client's when
// sane), and the JSON log lines of a request carry it too, error lines included.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rejection, startServer, runCairn } from "./server.mjs";

let dir;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "cairn-config-test-"));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});


// The JSON log lines the server wrote so far, parsed (every line must be JSON).
function jsonLog(server) {
  return server.logs
    .join("")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        assert.fail(`not a JSON log line: ${l}`);
      }
    });
}

// A 4,000-character value: more than the file's max-response-bytes allows.
async function bigSelect(server) {
  const db = server.client();
  return db.execute("SELECT printf('%.4000c', 'x') AS v");
}

describe("serve --config", () => {
  test("the file sets flags; the command line and the environment override it", async () => {
    const file = join(dir, "cairn.toml");
    writeFileSync(
      file,
      [
        "# a Cairn config file",
        "max-response-bytes = 3000",
        "log_json = true            # underscores work too",
        'log-level = "debug"',
        "",
      ].join("\n"),
    );
    const fromFile = await startServer({ args: ["--config", file] });
    try {
      const e = await rejection(bigSelect(fromFile));
      assert.equal(e.code, "RESPONSE_TOO_LARGE", String(e));
      assert.ok(jsonLog(fromFile).length > 0);  // log-json came from the file
    } finally {
      await fromFile.stop();
    }

    const cli = await startServer({ args: ["--config", file, "--max-response-bytes", "100000"] });
    try {
      assert.equal((await bigSelect(cli)).rows[0].v.length, 4000);
    } finally {
      await cli.stop();
    }

    process.env.CAIRN_MAX_RESPONSE_BYTES = "100000";
    let env;
    try {
      env = await startServer({ args: ["--config", file] });
    } finally {
      delete process.env.CAIRN_MAX_RESPONSE_BYTES;
    }
    try {
      assert.equal((await bigSelect(env)).rows[0].v.length, 4000);
    } finally {
      await env.stop();
    }
  });

  test("a bad file is refused with a message naming the problem", async () => {
    const unknown = join(dir, "unknown.toml");
    writeFileSync(unknown, "listen = \"127.0.0.1:0\"\nmax-bogus = 1\n");
    let r = await runCairn(["serve", "--config", unknown]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /max-bogus/);

    const badValue = join(dir, "bad-value.toml");
    writeFileSync(badValue, "max-readers = \"many\"\n");
    r = await runCairn(["serve", "--config", badValue]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /max-readers/);

    r = await runCairn(["serve", "--config", join(dir, "missing.toml")]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /does not exist/);
  });

  test("serve --help documents every flag, --config and --migrations-dir included", async () => {
    const r = await runCairn(["serve", "--help"]);
    assert.equal(r.code, 0, r.err);
    for (const flag of ["--config", "--migrations-dir", "--listen", "--max-response-bytes", "--log-json"]) {
      assert.ok(r.out.includes(flag), `${flag} missing from:\n${r.out}`);
    }
  });
});

describe("request ids", () => {
  let server;
  let migrations;

  before(async () => {
    migrations = mkdtempSync(join(tmpdir(), "cairn-config-migrations-"));
    // Fails on every database created: a 500 from the admin API, logged at error level.
    writeFileSync(join(migrations, "0001_bad.sql"), "INSERT INTO no_such_table VALUES (1);\n");
    server = await startServer({ args: ["--log-json", "--log-level", "debug", "--migrations-dir", migrations] });
  });

  after(async () => {
    await server?.stop();
    if (migrations) rmSync(migrations, { recursive: true, force: true });
  });

  test("a sane x-request-id is echoed; anything else gets a fresh one", async () => {
    const mine = await server.get("health", { headers: { "x-request-id": "req-42.a:b" } });
    assert.equal(mine.headers.get("x-request-id"), "req-42.a:b");
    const generated = new Set();
    for (const bad of [undefined, "has space", "x".repeat(129), "quote\"d"]) {
      const r = await server.get("health", { headers: bad === undefined ? {} : { "x-request-id": bad } });
      const id = r.headers.get("x-request-id");
      assert.match(id, /^[0-9a-f]{16}-[0-9a-f]+$/, `for ${bad}`);
      generated.add(id);
    }
    assert.equal(generated.size, 4);
    // Errors, Hrana and the admin listener too.
    const missing = await server.post("v2/pipeline", { baton: null, requests: [] }, {
      namespace: "nope",
      headers: { "x-request-id": "r-404" },
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-request-id"), "r-404");
    const admin = await fetch(new URL("v1/namespaces", server.adminUrl), { headers: { "x-request-id": "r-admin" } });
    await admin.text();
    assert.equal(admin.headers.get("x-request-id"), "r-admin");
  });

  test("JSON log lines carry the request id, error lines included", async () => {
    const ok = await server.post(
      "v2/pipeline",
      { baton: null, requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }, { type: "close" }] },
      { headers: { "x-request-id": "trace-ok-1" } },
    );
    assert.equal(ok.status, 200, ok.text);
    const failed = await fetch(new URL("v1/namespaces/doomed/create", server.adminUrl), {
      method: "POST",
      headers: { "x-request-id": "trace-fail-1" },
    });
    assert.equal(failed.status, 500, await failed.text());
    assert.equal(failed.headers.get("x-request-id"), "trace-fail-1");
    const lines = jsonLog(server);
    const okLine = lines.find((l) => l.request_id === "trace-ok-1");
    assert.ok(okLine, "no log line for trace-ok-1");
    assert.match(okLine.msg, /POST \/v2\/pipeline -> 200/);
    const errorLine = lines.find((l) => l.request_id === "trace-fail-1" && l.level === "error");
    assert.ok(errorLine, "no error line for trace-fail-1");
    assert.match(errorLine.msg, /-> 500/);
    // Lines outside any request have no request_id.
    assert.ok(lines.some((l) => /cairn serving Hrana/.test(l.msg) && !("request_id" in l)));
  });
});
