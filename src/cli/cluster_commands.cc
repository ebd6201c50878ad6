#include "cli/cluster_commands.h"

#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <simdjson.h>

#include "base/json_writer.h"
#include "cluster/etcd.h"
#include "net/http_client.h"

namespace cairn::cli {

namespace {

struct StatusArgs {
  std::string etcd;
  std::string cluster = "cairn";
  std::string admin_key;
  bool json = false;
};

int Status(const StatusArgs& a) {
  cluster::EtcdClient etcd(a.etcd);
  auto primary = etcd.Get(a.cluster + "/primary");
  if (!primary.ok()) {
    std::fprintf(stderr, "cairn cluster status: %s\n", primary.status().message().c_str());
    return 1;
  }
  const std::string prefix = a.cluster + "/nodes/";
  auto nodes = etcd.List(prefix);
  if (!nodes.ok()) {
    std::fprintf(stderr, "cairn cluster status: %s\n", nodes.status().message().c_str());
    return 1;
  }
  const std::string primary_url = *primary ? (*primary)->value : std::string();
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("cluster").String(a.cluster).Key("primary");
  if (primary_url.empty()) {
    w.Null();
  } else {
    w.String(primary_url);
  }
  w.Key("nodes").BeginArray();
  if (!a.json) {
    std::printf("cluster %s: primary %s\n", a.cluster.c_str(),
                primary_url.empty() ? "(none: election under way)" : primary_url.c_str());
    std::printf("%-32s %-8s %-9s %-10s %s\n", "node", "role", "connected", "lag p99",
                "databases (txid / primary txid)");
  }
  for (const auto& [key, url] : *nodes) {
    net::HttpClient http(url, a.admin_key, {.accept_compressed = true});
    auto answer = http.Get("/v1/replication", std::chrono::seconds(3));
    w.BeginObject().Key("url").String(url);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (!answer.ok() || answer->status != 200 ||
        parser.parse(answer->body).get(doc) != simdjson::SUCCESS) {
      w.Key("reachable").Bool(false).EndObject();
      if (!a.json) std::printf("%-32s %-8s\n", url.c_str(), "unreachable");
      continue;
    }
    std::string_view role = "?";
    if (doc["role"].get(role) != simdjson::SUCCESS) {
    }
    bool connected = role == "primary";
    if (doc["connected"].get(connected) != simdjson::SUCCESS) {
    }
    double lag = 0;
    if (doc["lag_p99_ms"].get(lag) != simdjson::SUCCESS) {
    }
    w.Key("reachable")
        .Bool(true)
        .Key("role")
        .String(role)
        .Key("connected")
        .Bool(connected)
        .Key("lag_p99_ms")
        .Double(lag);
    std::string dbs;
    w.Key("databases").BeginArray();
    simdjson::dom::array arr;
    if (doc["databases"].get(arr) == simdjson::SUCCESS) {
      for (auto d : arr) {
        std::string_view name;
        uint64_t txid = 0, ptxid = 0;
        if (d["name"].get(name) != simdjson::SUCCESS) {
        }
        if (d["txid"].get(txid) != simdjson::SUCCESS) {
        }
        if (d["primary_txid"].get(ptxid) != simdjson::SUCCESS) {
        }
        w.BeginObject()
            .Key("name")
            .String(name)
            .Key("txid")
            .Uint(txid)
            .Key("primary_txid")
            .Uint(ptxid)
            .EndObject();
        dbs += fmt::format("{}{} {}/{}", dbs.empty() ? "" : ", ", name, txid, ptxid);
      }
    }
    w.EndArray().EndObject();
    if (!a.json)
      std::printf("%-32s %-8s %-9s %-10s %s\n", url.c_str(), std::string(role).c_str(),
                  connected ? "yes" : "no",
                  role == "primary" ? "-" : fmt::format("{:.1f} ms", lag).c_str(), dbs.c_str());
  }
  w.EndArray().EndObject();
  if (a.json) std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace

void AddClusterCommands(CLI::App& app) {
  auto* cluster =
      app.add_subcommand("cluster", "Inspect a cluster of Cairn nodes (cluster mode on etcd)");
  cluster->require_subcommand(1);
  auto args = std::make_shared<StatusArgs>();
  auto* status =
      cluster->add_subcommand("status", "Show the primary, every node, its role, position and lag");
  status->add_option("--etcd", args->etcd, "etcd's client URL (http://HOST:PORT)")
      ->required()
      ->envname("CAIRN_CLUSTER_ETCD");
  status->add_option("--cluster", args->cluster, "The cluster's name")->capture_default_str();
  status->add_option("--admin-key", args->admin_key, "The nodes' admin key")
      ->envname("CAIRN_ADMIN_AUTH_KEY");
  status->add_flag("--json", args->json, "Print one JSON object");
  status->callback([args] {
    int rc = Status(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace cairn::cli
