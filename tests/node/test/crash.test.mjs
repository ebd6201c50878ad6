// Durability: every write the server acknowledged survives a SIGKILL in the middle of a write
// load; uncommitted work does not; the database passes integrity_check after restart.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { makeDataDir, sleep, startServer } from "./server.mjs";

const MAX_INSERTS = 20000; // per cycle, across all writers
const MAX_LOAD_MS = 10000; // per cycle
const WRITERS = 6;

const dataDir = makeDataDir();
let server;

after(async () => {
  await server?.stop({ graceMs: 5000 });
  rmSync(dataDir, { recursive: true, force: true });
});

// Runs the write load until a request fails (the kill), the time limit or the insert limit. Acknowledged ids go
// to `acked`. Writer 0 writes 5-row "write" batches; the others autocommit single inserts.
async function writeLoad(srv, ns, cycle, acked, state) {
  const started = Date.now();
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    const c = srv.client({ namespace: ns, concurrency: 4 });
    let seq = 0;
    while (state.attempts < MAX_INSERTS && Date.now() - started < MAX_LOAD_MS) {
      const base = cycle * 100_000_000 + w * 1_000_000 + seq;
      try {
        if (w === 0) {
          const ids = [0, 1, 2, 3, 4].map((k) => base + k);
          seq += 5;
          state.attempts += 5;
          await c.batch(
            ids.map((id) => ({ sql: "INSERT INTO acks (id, writer, payload) VALUES (?, ?, ?)", args: [id, w, `b${id}`] })),
            "write",
          );
          for (const id of ids) acked.push(id);
        } else {
          seq += 1;
          state.attempts += 1;
          await c.execute({
            sql: "INSERT INTO acks (id, writer, payload) VALUES (?, ?, ?)",
            args: [base, w, "x".repeat(64 + (base % 200))],
          });
          acked.push(base);
        }
      } catch (e) {
        if (!state.killed) state.errors.push(e);
        return; // the server is gone (or misbehaving): this writer is done
      }
    }
  });
  return Promise.all(writers);
}

async function crashCycle(cycle) {
  server = await startServer({ dataDir });
  const def = server.client();
  const ns = server.client({ namespace: "durable" });
  if (cycle === 0) {
    const created = await server.createNamespace("durable");
    assert.ok(created.status === 200 || created.status === 201, created.text);
    await ns.execute("CREATE TABLE acks (id INTEGER PRIMARY KEY, writer INTEGER NOT NULL, payload TEXT)");
    await def.execute("CREATE TABLE marker (v TEXT)");
    await def.execute("INSERT INTO marker VALUES ('committed-before-crash')");
  }

  // A transaction still open (never committed) at the moment of the crash, in another database
  // so that it does not hold up the load.
  const txClient = server.client();
  const tx = await txClient.transaction("write");
  await tx.execute({ sql: "INSERT INTO marker VALUES (?)", args: [`uncommitted-${cycle}`] });

  const acked = [];
  const state = { killed: false, attempts: 0, errors: [] };
  const load = writeLoad(server, "durable", cycle, acked, state);

  // Kill mid-load: once a good number of writes are acknowledged (or after 3 s at most).
  const t0 = Date.now();
  while (acked.length < 1500 && Date.now() - t0 < 3000 && state.errors.length === 0) await sleep(20);
  // Errors from here on are the expected effect of the kill; writers keep going until they hit one.
  state.killed = true;
  server.proc.kill("SIGKILL");
  const ackedAtKill = acked.length;
  const inFlightAtKill = state.attempts - ackedAtKill;
  await server.kill();
  await load;
  assert.deepEqual(state.errors.map(String), [], "writers failed before the kill");
  assert.ok(ackedAtKill > 0, "no write was acknowledged before the kill");
  return { acked, ackedAtKill, inFlightAtKill, attempts: state.attempts };
}

async function verifyAfterRestart(allAcked) {
  server = await startServer({ dataDir });
  const ns = server.client({ namespace: "durable", intMode: "number" });
  const def = server.client();
  const rs = await ns.execute("SELECT id FROM acks");
  const present = new Set(rs.rows.map((r) => r.id));
  const missing = allAcked.filter((id) => !present.has(id));
  assert.equal(missing.length, 0, `${missing.length} acknowledged ids lost, e.g. ${missing.slice(0, 10).join(", ")}`);
  // Batches are atomic: writer 0's ids come in complete groups of 5.
  const w0 = await ns.execute("SELECT id / 5, count(*) FROM acks WHERE writer = 0 GROUP BY id / 5 HAVING count(*) <> 5");
  assert.equal(w0.rows.length, 0, "a 5-statement batch was partially applied");
  for (const client of [ns, def]) {
    const ic = await client.execute("PRAGMA integrity_check");
    assert.deepEqual(ic.rows.map((r) => r[0]), ["ok"]);
  }
  const markers = await def.execute("SELECT v FROM marker ORDER BY rowid");
  assert.deepEqual(markers.rows.map((r) => r.v), ["committed-before-crash"], "an uncommitted transaction survived");
  // Still writable after recovery.
  const ins = await ns.execute("INSERT INTO acks (id, writer, payload) VALUES (-100, 99, 'after-restart')");
  assert.equal(ins.rowsAffected, 1);
  const list = await server.admin("GET", "v1/namespaces");
  assert.ok(list.json?.namespaces?.includes("durable"), list.text);
  await ns.execute("DELETE FROM acks WHERE id = -100");
  return present.size;
}

test("acknowledged writes survive SIGKILL mid-load (two crash cycles)", { timeout: 120000 }, async (t) => {
  const allAcked = [];
  for (let cycle = 0; cycle < 2; cycle++) {
    const { acked, ackedAtKill, inFlightAtKill, attempts } = await crashCycle(cycle);
    allAcked.push(...acked);
    const rows = await verifyAfterRestart(allAcked);
    t.diagnostic(`cycle ${cycle}: ${attempts} inserts attempted, ${ackedAtKill} acknowledged and ${inFlightAtKill} in flight at kill, ` +
      `${acked.length} in total; ${rows} rows after restart`);
    assert.ok(rows >= allAcked.length, `${rows} rows < ${allAcked.length} acknowledged`);
    await server.kill(); // leave it crashed once more; the next cycle restarts from this state
  }
});
