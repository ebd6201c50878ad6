// The cluster subcommand of `cairn`:
//
//   cairn cluster status --etcd URL [--cluster NAME] [--admin-key KEY] [--json]
//       Who is the primary (from etcd), every node registered in the cluster, and each node's
//       role, databases, position and lag as the node itself reports them (GET /v1/replication
//       on its admin API). A node that does not answer is listed as unreachable.
//
// Exit codes: 0 success (also when nodes are unreachable); 1 etcd cannot be read; 2 bad arguments.
#pragma once

#include <CLI/CLI.hpp>

namespace cairn::cli {

void AddClusterCommands(CLI::App& app);

}  // namespace cairn::cli
