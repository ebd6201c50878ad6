// Embedded replicas of a cluster's nodes across a failover (real etcd, three real Cairn nodes,
// the primary killed with SIGKILL): a replica synced from a surviving node, and one synced from
// the killed primary once it is back as a replica of the new one, both end with the new
// primary's content (docs/embedded-replicas.md, "Generations and positions").

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { sleep } from "./server.mjs";
import { Cluster, executeRetrying, newPrimary, startEtcd } from "./cluster-harness.mjs";

let etcd;
let cluster;
const cleanup = [];

before(async () => {
  etcd = await startEtcd();
  cluster = new Cluster({ etcdUrl: etcd.url, name: "er", ttl: 2 });
  for (let i = 0; i < 3; i++) await cluster.add();
});

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
  await cluster?.stopAll();
  etcd?.stop();
});

function embedded(server) {
  const dir = mkdtempSync(join(tmpdir(), "cairn-embedded-cluster-"));
  const c = createClient({ url: `file:${join(dir, "local.db")}`, syncUrl: server.url });
  cleanup.push(() => {
    c.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return c;
}

async function rows(c) {
  const rs = await c.execute("SELECT id, v FROM t ORDER BY id");
  return rs.rows.map((r) => `${r.id}:${r.v}`).join(",");
}

// Syncs `local` until it holds what `want()` returns (bounded); returns what it holds.
async function syncUntil(local, want, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let have;
  let expected;
  for (;;) {
    try {
      await local.sync();
      have = await rows(local);
      expected = await want();
      if (have === expected) return have;
    } catch (e) {
      have = `error: ${e.message}`;
    }
    if (Date.now() > deadline) return `${have} (wanted ${expected})`;
    await sleep(200);
  }
}

test("after the primary is killed, embedded replicas of the survivors and of the old primary converge", async () => {
  const primary = await cluster.settled();
  const pNode = cluster.nodeOf(primary);
  const survivor = cluster.nodes.find((n) => n !== pNode);
  await executeRetrying(primary, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  for (let i = 0; i < 50; i++) await executeRetrying(primary, `INSERT INTO t(v) VALUES ('before ${i}')`);
  await cluster.converged(primary);

  const viaSurvivor = embedded(survivor.server);
  const viaPrimary = embedded(primary);
  await viaSurvivor.sync();
  await viaPrimary.sync();
  const before = await rows(viaPrimary);
  assert.equal(await rows(viaSurvivor), before);

  await primary.kill();
  const next = await newPrimary(cluster, pNode);
  for (let i = 0; i < 10; i++) await executeRetrying(next, `INSERT INTO t(v) VALUES ('after ${i}')`);
  const remote = createClient({ url: next.url });
  cleanup.push(() => remote.close());
  const want = () => rows(remote);
  assert.equal(await syncUntil(viaSurvivor, want), await want());

  // The old primary comes back at the same address, now a replica of the new one.
  pNode.opts = { port: primary.port, adminPort: primary.adminPort };
  await cluster.restart(pNode);
  await cluster.settled();
  assert.equal(await syncUntil(viaPrimary, want), await want());
  assert.equal(await viaPrimary.execute("PRAGMA integrity_check").then((r) => r.rows[0][0]), "ok");
});
