// Streams a client never closes must not keep their databases open: with many databases and a
// small --max-open-databases, open files stay bounded, and every stream still works afterwards
// (its session moves to a fresh handle of its database).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { sleep, startServer } from "./server.mjs";

const openFiles = (pid) => readdirSync(`/proc/${pid}/fd`).length;

test("streams left open do not pin databases; open files stay bounded", async () => {
  const srv = await startServer({ args: ["--max-open-databases", "4", "--backup", "off"] });
  try {
    const N = 60;
    const batons = new Map();
    for (let i = 0; i < N; i++) {
      assert.equal((await srv.createNamespace(`s${i}`)).status, 200);
      const r = await srv.post(
        "v2/pipeline",
        { requests: [{ type: "execute", stmt: { sql: "CREATE TABLE t(x)" } }] },
        { namespace: `s${i}` },
      );
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.results[0].type, "ok", r.text);
      batons.set(i, r.json.baton); // never closed
    }
    await sleep(300); // idle handles are closed in the background
    const files = openFiles(srv.proc.pid);
    assert.ok(files < 150, `the server holds ${files} open files for ${N} databases with 4 open`);
    // Every stream still works, on its own database.
    for (let i = 0; i < N; i++) {
      const r = await srv.post(
        "v2/pipeline",
        {
          baton: batons.get(i),
          requests: [
            { type: "execute", stmt: { sql: "INSERT INTO t VALUES (?)", args: [{ type: "integer", value: String(i) }] } },
            { type: "execute", stmt: { sql: "SELECT x FROM t" } },
            { type: "close" },
          ],
        },
        { namespace: `s${i}` },
      );
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.results[1].type, "ok", r.text);
      assert.deepEqual(r.json.results[1].response.result.rows, [[{ type: "integer", value: String(i) }]]);
    }
    assert.ok(openFiles(srv.proc.pid) < 150);
  } finally {
    await srv.stop();
  }
});
