// A replica seeded from the primary's backups (`serve --replica-seed-store`): a new replica
// restores each database from the object store the primary backs up to, at the primary's current
// generation, and takes only the newer transactions from the primary — which serves it no
// snapshot. Without a usable backup (another generation, nothing there) it falls back to the
// primary's snapshot. The copies end byte-identical (checksums).

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDataDir, rejection, runCairn, scalar, sleep, startServer } from "./server.mjs";

const backups = mkdtempSync(join(tmpdir(), "cairn-seed-store-"));
const servers = [];

after(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  rmSync(backups, { recursive: true, force: true });
});

async function caughtUp(replica, primary, ns) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const p = (await primary.admin("GET", `v1/namespaces/${ns}`)).json;
    const r = (await replica.admin("GET", "v1/replication")).json.databases?.find((d) => d.name === ns);
    if (r && r.txid === p.txid && r.generation === p.generation) {
      assert.equal(r.checksum, p.checksum);
      return r;
    }
    if (Date.now() > deadline) assert.fail(`replica at ${JSON.stringify(r)}, primary at ${JSON.stringify(p)}`);
    await sleep(50);
  }
}

test("a new replica restores databases from the primary's backups and streams only what is newer", async () => {
  const primary = await startServer({ args: ["--backup", backups, "--backup-interval-ms", "600000"] });
  servers.push(primary);
  const c = primary.client();
  await c.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB)");
  for (let i = 0; i < 20; i++) {
    await c.execute("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100) INSERT INTO big(b) SELECT randomblob(4000) FROM s");
  }
  assert.equal((await primary.admin("POST", "v1/namespaces/default/backup")).status, 200);
  // Written after the backup: these come from the primary's log.
  for (let i = 0; i < 5; i++) await c.execute("INSERT INTO big(b) VALUES (zeroblob(10))");

  const replica = await startServer({ dataDir: makeDataDir(), args: [
    "--backup", "off", "--replica-of", primary.adminUrl.replace(/\/$/, ""), "--replica-seed-store", backups] });
  servers.push(replica);
  const d = await caughtUp(replica, primary, "default");
  assert.equal(await scalar(replica.client(), "SELECT count(*) FROM big"), 2005);
  const log = replica.logs.join("");
  assert.match(log, /database default restored from .* at txid \d+/);
  assert.doesNotMatch(log, /database default copied from the primary/);
  // The transactions after the backup were streamed, not copied.
  assert.ok(d.transactions >= 5, JSON.stringify(d));
  // And it keeps following.
  await c.execute("INSERT INTO big(b) VALUES (zeroblob(1))");
  await caughtUp(replica, primary, "default");
  assert.equal(await scalar(replica.client(), "SELECT count(*) FROM big"), 2006);

  // A store without this backup (empty): the primary's snapshot, as without the flag.
  const empty = mkdtempSync(join(tmpdir(), "cairn-seed-empty-"));
  try {
    const other = await startServer({ dataDir: makeDataDir(), args: [
      "--backup", "off", "--replica-of", primary.adminUrl.replace(/\/$/, ""), "--replica-seed-store", empty] });
    servers.push(other);
    await caughtUp(other, primary, "default");
    assert.equal(await scalar(other.client(), "SELECT count(*) FROM big"), 2006);
    assert.match(other.logs.join(""), /database default is copied from the primary \(no backup/);
    assert.match(other.logs.join(""), /database default copied from the primary at txid/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("sync_backup: a commit is answered once the object store has it; with the store down, UNAVAILABLE", async () => {
  const store = mkdtempSync(join(tmpdir(), "cairn-sync-backup-"));
  // A long batching delay: without sync_backup nothing would reach the store for minutes.
  const primary = await startServer({ args: ["--backup", store, "--backup-interval-ms", "600000"] });
  servers.push(primary);
  try {
    const cfg = await primary.admin("POST", "v1/namespaces/default/config", { sync_backup: true, sync_timeout_ms: 3000 });
    assert.equal(cfg.status, 200, cfg.text);
    assert.equal(cfg.json.sync_backup, true);
    const c = primary.client();
    await c.execute("CREATE TABLE kv (k TEXT PRIMARY KEY)");
    await c.execute("INSERT INTO kv VALUES ('acked')");
    // The acknowledged row is in the store right now: a restore finds it.
    const out = join(store, "restored.sqlite");
    const r = await runCairn(["restore", "default", "--from", store, "-o", out, "--json"]);
    assert.equal(r.code, 0, r.err);
    const check = await startServer({ dataDir: makeDataDir(), args: ["--backup", "off"] });
    servers.push(check);
    await check.stop({ keepDataDir: true });
    copyFileSync(out, join(check.dataDir, "databases/default/data.sqlite"));
    for (const f of ["-wal", "-shm"]) rmSync(join(check.dataDir, "databases/default/data.sqlite" + f), { force: true });
    const again = await startServer({ dataDir: check.dataDir, args: ["--backup", "off"] });
    servers.push(again);
    assert.equal(await scalar(again.client(), "SELECT count(*) FROM kv WHERE k = 'acked'"), 1);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
});

test("sync_backup with an object store that does not answer: UNAVAILABLE, committed on the primary", async () => {
  // An S3 endpoint on a port nothing listens on.
  const url = "s3://none/x?endpoint=http://127.0.0.1:9&path_style=true";
  const primary = await startServer({ args: ["--backup", url, "--backup-interval-ms", "50"] });
  servers.push(primary);
  const c = primary.client();
  await c.execute("CREATE TABLE kv (k TEXT PRIMARY KEY)");
  assert.equal((await primary.admin("POST", "v1/namespaces/default/config", { sync_backup: true, sync_timeout_ms: 1000 })).status, 200);
  const t0 = Date.now();
  const e = await rejection(c.execute("INSERT INTO kv VALUES ('unconfirmed')"));
  assert.match(e.message, /the backup did not confirm it within 1000 ms/);
  assert.ok(Date.now() - t0 >= 900, `gave up after ${Date.now() - t0} ms`);
  assert.equal(await scalar(c, "SELECT count(*) FROM kv"), 1);
});
