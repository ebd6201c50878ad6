// Network partitions between real processes: etcd and three Cairn nodes, each node in a network
// namespace of its own joined by veth pairs to a bridge (NetLab in cluster-harness.mjs), under a
// set workload and bank transfers sent to every node, per durability mode:
//
//   isolate   the primary can no longer reach etcd or the other nodes, while clients still reach
//             it: it must stop acknowledging writes before another node is elected, and rejoin
//             as a replica when the partition heals;
//   unplug    the primary's link goes down silently (no error, packets vanish) and comes back.
//
// What was acknowledged and lost is reported (runFaults). The machine must let the test make
// network namespaces (root, iproute2); where it cannot, the test says so and is skipped.

import { after, before, test } from "node:test";
import { Cluster, NetLab, runFaults, startEtcd } from "./cluster-harness.mjs";

const TTL = 2;
let lab;
let etcd;
let unavailable = null;

before(async () => {
  const made = NetLab.create(3);
  if (made.unavailable) {
    unavailable = `network namespaces unavailable here: ${made.unavailable}`;
    console.log(unavailable);
    return;
  }
  lab = made;
  etcd = await startEtcd({ host: lab.hubIp, wrap: lab.wrap(lab.hub) });
});

after(() => {
  etcd?.stop();
  lab?.destroy();
});

async function run(t, mode) {
  if (unavailable) {
    t.skip(unavailable);
    return;
  }
  const cluster = new Cluster({ etcdUrl: etcd.url, name: `partition-${mode.name}`, ttl: TTL });
  const index = (node) => cluster.nodes.indexOf(node);
  const isolate = {
    kind: "isolated from etcd and peers",
    inject: async (node) => lab.isolate(index(node)),
    heal: async (node) => lab.unisolate(index(node)),
  };
  const unplug = {
    kind: "link down",
    inject: async (node) => lab.unplug(index(node)),
    heal: async (node) => lab.plug(index(node)),
  };
  try {
    for (const n of lab.nodes) await cluster.add({ host: n.ip, wrap: lab.wrap(n.ns) });
    await runFaults(cluster, mode, [isolate, unplug, isolate]);
  } finally {
    await cluster.stopAll();
  }
}

test("asynchronous replication: the primary cut off by a partition is replaced and rejoins", async (t) => {
  await run(t, { name: "async", sync: 0 });
});

test("sync_replicas = 1: partitions of the primary lose no acknowledged write", async (t) => {
  await run(t, { name: "sync_replicas=1", sync: 1 });
});
