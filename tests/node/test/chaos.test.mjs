// Repeated faults under load, per durability mode: three Cairn nodes in cluster mode on a real
// etcd take a set workload (unique inserts: every acknowledged one must be present) and bank
// transfers (the total never changes) through any node, while the primary is killed with SIGKILL
// and paused with SIGSTOP, again and again. Afterwards every node holds the same data (checksums)
// and the test reports what was acknowledged and what was lost (cluster-harness.mjs, runFaults):
//
//   asynchronous replication   writes acknowledged by a primary and sent before its successor was
//                              elected may be lost; nothing acknowledged by any other node is
//   sync_replicas = 1          nothing acknowledged is lost
//
// Bounded: a fixed number of fault cycles, each waiting at most seconds for the cluster.

import { after, before, test } from "node:test";
import { Cluster, runFaults, startEtcd } from "./cluster-harness.mjs";

const TTL = 2;
let etcd;

before(async () => {
  etcd = await startEtcd();
});

after(() => etcd?.stop());

const kill = (cluster) => ({
  kind: "kill -9",
  inject: (node) => node.server.kill(),
  heal: (node) => cluster.restart(node),  // it rejoins as a replica (at a new address)
});

const pause = {
  kind: "SIGSTOP",
  inject: async (node) => node.server.proc.kill("SIGSTOP"),
  heal: async (node) => node.server.proc.kill("SIGCONT"),
};

async function run(mode) {
  const cluster = new Cluster({ etcdUrl: etcd.url, name: `chaos-${mode.name}`, ttl: TTL });
  try {
    for (let i = 0; i < 3; i++) await cluster.add();
    await runFaults(cluster, mode, [kill(cluster), pause, kill(cluster), pause]);
  } finally {
    await cluster.stopAll();
  }
}

test("asynchronous replication: repeated kill -9 and SIGSTOP of the primary under load", async () => {
  await run({ name: "async", sync: 0 });
});

test("sync_replicas = 1: repeated kill -9 and SIGSTOP of the primary under load lose no acknowledged write", async () => {
  await run({ name: "sync_replicas=1", sync: 1 });
});
