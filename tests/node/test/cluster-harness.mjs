// Shared by the cluster tests: a real etcd, Cairn nodes in cluster mode, waiting for the cluster to
// settle, Hrana calls that say who acknowledged them, and a bounded client workload (a set of
// unique inserts and bank transfers) whose acknowledged writes are checked afterwards.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, makeDataDir, readResponse, sleep, startServer } from "./server.mjs";

// A real etcd on `host` (loopback by default); `wrap` runs it inside a network namespace.
export async function startEtcd({ host = "127.0.0.1", wrap = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "cairn-etcd-"));
  const client = await freePort();
  const peer = await freePort();
  const url = `http://${host}:${client}`;
  const args = ["--data-dir", dir, "--listen-client-urls", url, "--advertise-client-urls", url,
    "--listen-peer-urls", `http://${host}:${peer}`, "--initial-advertise-peer-urls", `http://${host}:${peer}`,
    "--initial-cluster", `default=http://${host}:${peer}`];
  const proc = wrap.length ? spawn(wrap[0], [...wrap.slice(1), "etcd", ...args], { stdio: "ignore" })
                           : spawn("etcd", args, { stdio: "ignore" });
  const etcd = {
    url,
    proc,
    stop() {
      proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: "eA==" }),
                                                    signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return etcd;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  etcd.stop();
  throw new Error("etcd did not start");
}

export const urlOf = (server) => server.adminUrl.replace(/\/$/, "");

// Nodes of one cluster. Each node is { dir, server, opts } (opts: startServer's host/wrap).
export class Cluster {
  constructor({ etcdUrl, name, ttl, extraArgs = [] }) {
    this.etcdUrl = etcdUrl;
    this.name = name;
    this.ttl = ttl;
    this.extraArgs = extraArgs;
    this.nodes = [];
  }

  args(node) {
    const a = ["--cluster-etcd", this.etcdUrl, "--cluster-name", this.name, "--lease-ttl-s", String(this.ttl),
      ...this.extraArgs];
    return a;
  }

  async add(opts = {}) {
    const node = { dir: makeDataDir(), opts, server: null };
    node.server = await startServer({ dataDir: node.dir, args: this.args(node), ...opts });
    this.nodes.push(node);
    return node;
  }

  async restart(node) {
    node.server = await startServer({ dataDir: node.dir, args: this.args(node), ...node.opts });
  }

  nodeOf(server) {
    return this.nodes.find((n) => n.server === server);
  }

  async stopAll() {
    for (const n of this.nodes) {
      try {
        n.server.proc.kill("SIGCONT");
      } catch {
        // not running
      }
      await n.server.stop({ keepDataDir: true, graceMs: 5000 }).catch(() => {});
      rmSync(n.dir, { recursive: true, force: true });
    }
  }

  // Waits (bounded) until exactly one running node says it is the primary and every other running
  // node follows it, connected. `except`: nodes to leave out (paused ones).
  async settled({ timeoutMs = 20000, except = [] } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.nodes.filter((n) => n.server.running && !except.includes(n));
      const roles = await Promise.all(running.map((n) => role(n.server)));
      const primaries = running.filter((n, i) => roles[i]?.role === "primary");
      if (primaries.length === 1) {
        const p = primaries[0].server;
        if (roles.every((r, i) => running[i].server === p || (r?.role === "replica" && r.primary === urlOf(p) && r.connected)))
          return p;
      }
      if (Date.now() > deadline) assert.fail(`no single primary: ${JSON.stringify(roles)}`);
      await sleep(100);
    }
  }

  // Waits (bounded) until every running node holds `db` at the primary's txid with its checksum.
  async converged(primary, db = "default", timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    for (const n of this.nodes.filter((x) => x.server.running && x.server !== primary)) {
      for (;;) {
        const p = (await primary.admin("GET", `v1/namespaces/${db}`)).json;
        const d = (await role(n.server))?.databases?.find((x) => x.name === db);
        if (d && d.txid === p.txid && d.generation === p.generation) {
          assert.equal(d.checksum, p.checksum, `${urlOf(n.server)} diverged from the primary`);
          break;
        }
        if (Date.now() > deadline) assert.fail(`replica at ${JSON.stringify(d)}, primary at ${JSON.stringify(p)}`);
        await sleep(50);
      }
    }
  }
}

export async function role(server) {
  try {
    const r = await server.admin("GET", "v1/replication");
    return r.json;
  } catch {
    return null;
  }
}

// One Hrana pipeline with a bounded wait. Returns the first result's response and who acknowledged
// it: the primary a replica forwarded to, or the node itself.
export async function call(server, request, { index, timeoutMs = 5000 } = {}) {
  const headers = index ? { "x-replication-index": index } : {};
  const resp = await fetch(new URL("v2/pipeline", server.url), {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ requests: [request, { type: "close" }] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const { status, text, json } = await readResponse(resp);
  if (status !== 200 || json?.results?.[0]?.type !== "ok") throw new Error(`${status} ${text}`);
  return { response: json.results[0].response, by: resp.headers.get("x-cairn-forwarded-to") ?? urlOf(server) };
}

export async function execute(server, sql, args = [], index) {
  const stmt = { sql, args: args.map((v) => ({ type: "integer", value: String(v) })) };
  return (await call(server, { type: "execute", stmt }, { index })).response.result;
}

// Like execute, retrying (bounded) what a node answers while it changes roles.
export async function executeRetrying(server, sql, args = [], index) {
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      return await execute(server, sql, args, index);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(100);
    }
  }
}

export const ACCOUNTS = 10;
export const BALANCE = 100;

export async function createBank(server) {
  await executeRetrying(server, "CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)");
  await executeRetrying(server, "CREATE TABLE IF NOT EXISTS transfers (id INTEGER PRIMARY KEY)");
  await executeRetrying(server, "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY)");
  await executeRetrying(server, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
                        "INSERT OR IGNORE INTO accounts SELECT i, ? FROM n", [ACCOUNTS, BALANCE]);
}

// A transfer of 1 between two accounts, recorded in `transfers` under `id`, as one transaction.
function transfer(id) {
  const from = 1 + (id % ACCOUNTS);
  const to = 1 + ((id + 3) % ACCOUNTS);
  return { type: "batch", batch: { steps: [
    { stmt: { sql: "BEGIN IMMEDIATE" } },
    { condition: { type: "ok", step: 0 }, stmt: { sql: `UPDATE accounts SET balance = balance - 1 WHERE id = ${from}` } },
    { condition: { type: "ok", step: 1 }, stmt: { sql: `UPDATE accounts SET balance = balance + 1 WHERE id = ${to}` } },
    { condition: { type: "ok", step: 2 }, stmt: { sql: `INSERT INTO transfers VALUES (${id})` } },
    { condition: { type: "ok", step: 3 }, stmt: { sql: "COMMIT" } },
    { condition: { type: "not", cond: { type: "ok", step: 4 } }, stmt: { sql: "ROLLBACK" } },
  ] } };
}

// Clients writing through `pick()` (a node, or null to skip a beat) until stopped, at most
// `maxOps` operations or `maxMs`: unique inserts into `items` and transfers, alternately, each id
// used once. Every acknowledged write is kept with its time and the node that acknowledged it.
export function startWorkload(pick, { clients = 2, maxOps = 40000, maxMs = 120000 } = {}) {
  const w = { acked: [], attempts: 0, failures: 0, stop: false };
  let next = 0;
  const started = Date.now();
  const loop = async () => {
    while (!w.stop && next < maxOps && Date.now() - started < maxMs) {
      const node = pick();
      if (!node) {
        await sleep(20);
        continue;
      }
      const id = ++next;
      const kind = id % 2 === 0 ? "item" : "transfer";
      w.attempts++;
      const sent = Date.now();
      try {
        const request = kind === "item"
          ? { type: "execute", stmt: { sql: `INSERT INTO items VALUES (${id})` } }
          : transfer(id);
        const { response, by } = await call(node, request, { timeoutMs: 3000 });
        const ok = kind === "item" ? response.result.affected_row_count === 1
                                   : response.result.step_errors.every((e) => e === null);
        if (ok) w.acked.push({ sent, at: Date.now(), id, kind, by });
        else w.failures++;
      } catch {
        w.failures++;  // refused, unreachable or timed out: not acknowledged
      }
      await sleep(2);
    }
  };
  w.done = Promise.all(Array.from({ length: clients }, loop));
  return w;
}

// What the cluster kept of a workload, read from `server` (the primary): the acknowledged writes
// missing, and the bank's total.
export async function audit(server, w) {
  const items = new Set((await executeRetrying(server, "SELECT id FROM items")).rows.map((r) => Number(r[0].value)));
  const transfers = new Set((await executeRetrying(server, "SELECT id FROM transfers")).rows.map((r) => Number(r[0].value)));
  const lost = w.acked.filter((a) => !(a.kind === "item" ? items : transfers).has(a.id));
  const total = Number((await executeRetrying(server, "SELECT sum(balance) FROM accounts")).rows[0][0].value);
  return { lost, total, items: items.size, transfers: transfers.size };
}

// Network namespaces of the test's own, to cut nodes off from each other: a hub namespace holding
// a bridge (and etcd), one namespace per node joined to the bridge by a veth pair, and a veth from
// the test's own namespace to the bridge so the test reaches every node. Names carry this process's
// id; destroy() removes everything (deleting a namespace removes its end of each veth pair).
export class NetLab {
  // A NetLab with `n` node namespaces, or { unavailable: reason } when this machine cannot make
  // network namespaces (no privilege, no `ip`).
  static create(n) {
    const lab = new NetLab(n);
    try {
      lab.setUp();
      return lab;
    } catch (e) {
      lab.destroy();
      return { unavailable: e.message };
    }
  }

  constructor(n) {
    const id = process.pid % 100000;
    this.prefix = `cz${id}`;
    this.subnet = `10.${200 + (id % 50)}.${Math.floor(id / 50) % 250}`;
    this.hub = `${this.prefix}h`;
    this.hubIp = `${this.subnet}.1`;
    this.nodes = Array.from({ length: n }, (_, i) => ({ ns: `${this.prefix}n${i}`, ip: `${this.subnet}.${10 + i}`,
                                                        hubSide: `${this.prefix}n${i}h` }));
    this.made = [];
    this.rootLink = null;
  }

  static ip(args) {
    const r = spawnSync("ip", args, { encoding: "utf8" });
    if (r.error) throw new Error(`ip ${args.join(" ")}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
  }

  inNs(ns, args) {
    NetLab.ip(["netns", "exec", ns, "ip", ...args]);
  }

  setUp() {
    NetLab.ip(["netns", "add", this.hub]);
    this.made.push(this.hub);
    this.inNs(this.hub, ["link", "set", "lo", "up"]);
    this.inNs(this.hub, ["link", "add", "br0", "type", "bridge"]);
    this.inNs(this.hub, ["addr", "add", `${this.hubIp}/24`, "dev", "br0"]);
    this.inNs(this.hub, ["link", "set", "br0", "up"]);
    // The test's own way in.
    const root = `${this.prefix}r`;
    NetLab.ip(["link", "add", root, "type", "veth", "peer", "name", `${root}h`, "netns", this.hub]);
    this.rootLink = root;
    NetLab.ip(["addr", "add", `${this.subnet}.254/24`, "dev", root]);
    NetLab.ip(["link", "set", root, "up"]);
    this.inNs(this.hub, ["link", "set", `${root}h`, "master", "br0", "up"]);
    for (const n of this.nodes) {
      NetLab.ip(["netns", "add", n.ns]);
      this.made.push(n.ns);
      this.inNs(n.ns, ["link", "set", "lo", "up"]);
      this.inNs(this.hub, ["link", "add", n.hubSide, "type", "veth", "peer", "name", "eth0", "netns", n.ns]);
      this.inNs(this.hub, ["link", "set", n.hubSide, "master", "br0", "up"]);
      this.inNs(n.ns, ["addr", "add", `${n.ip}/24`, "dev", "eth0"]);
      this.inNs(n.ns, ["link", "set", "eth0", "up"]);
    }
  }

  wrap(ns) {
    return ["ip", "netns", "exec", ns];
  }

  // Node i can no longer reach etcd or the other nodes (its packets to them are refused at its
  // own routing table, so their connections to it stall too); the test still reaches it.
  isolate(i) {
    for (const ip of [this.hubIp, ...this.nodes.filter((_, j) => j !== i).map((n) => n.ip)])
      this.inNs(this.nodes[i].ns, ["route", "add", "prohibit", `${ip}/32`]);
  }

  unisolate(i) {
    for (const ip of [this.hubIp, ...this.nodes.filter((_, j) => j !== i).map((n) => n.ip)])
      this.inNs(this.nodes[i].ns, ["route", "del", "prohibit", `${ip}/32`]);
  }

  // Node i's cable is pulled: nothing reaches it or leaves it, silently.
  unplug(i) {
    this.inNs(this.hub, ["link", "set", this.nodes[i].hubSide, "down"]);
  }

  plug(i) {
    this.inNs(this.hub, ["link", "set", this.nodes[i].hubSide, "up"]);
  }

  destroy() {
    if (this.rootLink) spawnSync("ip", ["link", "del", this.rootLink]);
    for (const ns of this.made.reverse()) spawnSync("ip", ["netns", "del", ns]);
    this.made = [];
    this.rootLink = null;
  }
}

// Waits (bounded) until a node other than `victim` says it is the primary; returns its server.
export async function newPrimary(cluster, victim, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const others = cluster.nodes.filter((n) => n !== victim && n.server.running);
    const roles = await Promise.all(others.map((n) => role(n.server)));
    const i = roles.findIndex((r) => r?.role === "primary");
    if (i >= 0) return others[i].server;
    if (Date.now() > deadline) {
      assert.fail(`no new primary ${timeoutMs} ms after the fault: ${JSON.stringify(roles)}\n` +
                  cluster.nodes.map((n) => `--- ${urlOf(n.server)}:\n${n.server.logs.join("").slice(-6000)}`).join("\n"));
    }
    await sleep(50);
  }
}

// Runs a workload through every running node of `cluster` (three nodes, settled) while each of
// `faults` in turn strikes the primary of the moment: fault.inject(node) makes it fail, the test
// waits for another node to become the primary, fault.heal(node) ends the failure (a killed node
// is restarted by it). Then checks, with `mode.sync` replicas acknowledging each commit (0:
// asynchronous replication):
//   - the bank's total never changed, and every node ends with the same data (checksums);
//   - no two nodes acknowledged writes at the same time: every write a deposed primary
//     acknowledged was acknowledged before the first one its successor acknowledged;
//   - lost acknowledged writes: none with synchronous replication; with asynchronous replication
//     only ones a deposed primary acknowledged that were sent before its successor was elected.
// Returns a summary (what was attempted, acknowledged, lost).
export async function runFaults(cluster, mode, faults) {
  let primary = await cluster.settled();
  await createBank(primary);
  if (mode.sync) {
    const r = await primary.admin("POST", "v1/namespaces/default/config", { sync_replicas: mode.sync, sync_timeout_ms: 2000 });
    assert.equal(r.status, 200, r.text);
  }
  const w = startWorkload(() => {
    const l = cluster.nodes.filter((n) => n.server.running);
    return l.length ? l[Math.floor(Math.random() * l.length)].server : null;
  });
  // Primaries deposed by a fault: { url, t0 (the fault), elected_at (its successor), healed_at }.
  const deposed = [];
  const done = [];
  try {
    for (const fault of faults) {
      await sleep(1500);
      primary = await cluster.settled();
      const victim = cluster.nodeOf(primary);
      const t0 = Date.now();
      const d = { url: urlOf(victim.server), t0, successor: null, elected_at: Infinity, healed_at: Infinity };
      deposed.push(d);
      await fault.inject(victim);
      let next;
      try {
        console.log(`fault ${done.length + 1}: ${fault.kind} of the primary ${d.url}`);
        next = await newPrimary(cluster, victim);
      } finally {
        d.elected_at = Date.now();
        d.healed_at = Date.now();
        await fault.heal(victim);
      }
      d.successor = urlOf(next);
      done.push({ kind: fault.kind, failover_ms: d.elected_at - t0 });
      // The cluster takes writes again.
      const deadline = Date.now() + 15000;
      while (!w.acked.some((a) => a.at > t0 && a.by === d.successor) && Date.now() < deadline) await sleep(50);
    }
    await sleep(1000);
  } finally {
    w.stop = true;
    await w.done;
  }
  primary = await cluster.settled();
  const a = await audit(primary, w);
  // A write a deposed primary acknowledged may be lost if it was sent before its successor was
  // elected: the primary committed it before its fence, and the answer may have reached the
  // client only later (a partitioned node's answer is retransmitted once the partition heals).
  const wasDeposed = (x) => deposed.some((d) => d.url === x.by && x.sent <= d.elected_at);
  const byDeposed = a.lost.filter(wasDeposed).length;
  const result = {
    mode: mode.name, faults: done.map((f) => `${f.kind} ${f.failover_ms} ms`).join(", "), attempted: w.attempts,
    acknowledged: w.acked.length, lost: a.lost.length, lost_by_deposed_primaries: byDeposed,
  };
  console.log(`faults ${JSON.stringify(result)}`);
  assert.equal(done.length, faults.length);
  assert.ok(w.acked.length > 100, `too few writes acknowledged: ${w.acked.length}`);
  assert.equal(a.total, ACCOUNTS * BALANCE, "the bank's total changed");
  for (const d of deposed) {
    // (Answers a paused node sends once resumed may be for commits made before the pause: only
    // those received while the fault lasted are compared; later ones count as lost if missing.)
    const lastOld = Math.max(0, ...w.acked.filter((x) => x.by === d.url && x.at < d.healed_at).map((x) => x.at));
    const firstNew = Math.min(Infinity, ...w.acked.filter((x) => x.by === d.successor && x.at > d.t0).map((x) => x.at));
    assert.ok(lastOld < firstNew, `${d.url} acknowledged a write after ${d.successor} took over`);
  }
  if (mode.sync) assert.deepEqual(a.lost, [], "an acknowledged write was lost with synchronous replication");
  else {
    const t = (x) => x - deposed[0]?.t0;
    assert.equal(byDeposed, a.lost.length, `a write acknowledged by a node that stayed up was lost: ` +
      JSON.stringify({ lost: a.lost.filter((x) => !wasDeposed(x)).map((x) => ({ ...x, sent: t(x.sent), at: t(x.at) })),
                       faults: deposed.map((d) => ({ url: d.url, successor: d.successor, t0: t(d.t0),
                                                     elected: t(d.elected_at), healed: t(d.healed_at) })) }));
  }
  await cluster.converged(primary);
  return result;
}
