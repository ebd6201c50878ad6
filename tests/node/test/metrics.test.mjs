// /metrics on the admin listener and /v1/namespaces/:ns/stats: known requests move the counters by
// exactly what they did (rows counted by hand).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./server.mjs";

// Parses the Prometheus text format into { samples: Map("name{labels}" → number), families }.
function parseMetrics(text) {
  const samples = new Map();
  const help = new Set();
  const types = new Map();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m;
    if ((m = /^# HELP (\S+) /.exec(line))) {
      help.add(m[1]);
    } else if ((m = /^# TYPE (\S+) (\S+)$/.exec(line))) {
      types.set(m[1], m[2]);
    } else {
      m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
      assert.ok(m, `not a sample line: ${line}`);
      samples.set(m[1], Number(m[2]));
    }
  }
  return { samples, help, types };
}

async function scrape(server, headers = {}) {
  const resp = await fetch(new URL("metrics", server.adminUrl), { headers });
  const text = await resp.text();
  assert.equal(resp.status, 200, text);
  assert.match(resp.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  return parseMetrics(text);
}

function value(m, key) {
  return m.samples.get(key) ?? 0;
}

async function run(server, sql) {
  const r = await server.post(
    "v2/pipeline",
    { baton: null, requests: [{ type: "execute", stmt: { sql } }, { type: "close" }] },
    { namespace: "m1" },
  );
  assert.equal(r.status, 200, r.text);
  return r.json.results[0];
}

test("/metrics counts known requests exactly; /stats matches hand-counted rows", async () => {
  const server = await startServer({ args: ["--metrics-database", "m2"] });
  try {
    for (const ns of ["m1", "m2"]) assert.equal((await server.createNamespace(ns)).status, 200);
    assert.equal((await run(server, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")).type, "ok");

    const before = await scrape(server);
    const statsBefore = (await server.admin("GET", "v1/namespaces/m1/stats")).json;

    // 2 inserts (3 rows written), 5 selects (4 point selects of 1 row + 1 scan of 3: 7 rows read),
    // 1 SQL error.
    assert.equal((await run(server, "INSERT INTO t (v) VALUES ('a')")).type, "ok");
    assert.equal((await run(server, "INSERT INTO t (v) VALUES ('b'), ('c')")).type, "ok");
    for (let i = 0; i < 4; i++) {
      const r = await run(server, "SELECT v FROM t WHERE id = 2");
      assert.equal(r.type, "ok");
      assert.equal(r.response.result.rows_read, 1);
    }
    const scan = await run(server, "SELECT * FROM t");
    assert.equal(scan.response.result.rows.length, 3);
    const failed = await run(server, "SELECT * FROM no_such_table");
    assert.equal(failed.type, "error");
    const code = failed.error.code;
    assert.ok(code, JSON.stringify(failed));
    // Other endpoints: one health check, one unknown path.
    assert.equal((await server.get("health")).status, 200);
    assert.equal((await server.get("nope")).status, 404);

    const after = await scrape(server);
    const delta = (key) => value(after, key) - value(before, key);
    assert.equal(delta('cairn_http_requests_total{endpoint="pipeline",status="2xx"}'), 8);
    assert.equal(delta('cairn_http_requests_total{endpoint="pipeline",status="4xx"}'), 0);
    assert.equal(delta('cairn_http_requests_total{endpoint="health",status="2xx"}'), 1);
    assert.equal(delta('cairn_http_requests_total{endpoint="other",status="4xx"}'), 1);
    assert.equal(delta('cairn_http_request_duration_seconds_count{endpoint="pipeline"}'), 8);
    assert.equal(delta('cairn_http_request_duration_seconds_bucket{endpoint="pipeline",le="+Inf"}'), 8);
    assert.ok(delta('cairn_http_request_duration_seconds_sum{endpoint="pipeline"}') > 0);
    assert.equal(delta(`cairn_hrana_errors_total{code="${code}"}`), 1);
    assert.equal(delta('cairn_hrana_errors_total{code="NOT_FOUND"}'), 1);
    assert.equal(delta('cairn_database_rows_read_total{db="m1"}'), 7);
    assert.equal(delta('cairn_database_rows_written_total{db="m1"}'), 3);
    assert.ok(value(after, 'cairn_database_size_bytes{db="m1"}') > 0);
    // m2 is named by --metrics-database: published although idle.
    assert.equal(value(after, 'cairn_database_rows_read_total{db="m2"}'), 0);
    assert.ok(after.samples.has('cairn_database_rows_read_total{db="m2"}'));
    assert.ok(value(after, "cairn_databases_known") >= 3); // default, m1, m2
    assert.ok(value(after, "cairn_databases_open") >= 1);
    // Backups are on by default: their gauges exist.
    assert.equal(value(after, "cairn_backup_enabled"), 1);
    for (const key of [
      "cairn_backup_healthy",
      "cairn_backup_backlog_bytes",
      "cairn_backup_backlog_overflows_total",
      "cairn_backup_upload_errors_total",
      "cairn_backup_uploaded_bytes_total",
      'cairn_backup_lag_seconds{quantile="0.5"}',
      'cairn_backup_lag_seconds{quantile="0.99"}',
      'cairn_backup_verify_total{result="ok"}',
      'cairn_backup_verify_total{result="failed"}',
    ])
      assert.ok(after.samples.has(key), key);
    // Every family is announced.
    for (const [name, type] of after.types) assert.ok(after.help.has(name), name);
    assert.equal(after.types.get("cairn_http_request_duration_seconds"), "histogram");
    assert.equal(after.types.get("cairn_http_requests_total"), "counter");

    const stats = (await server.admin("GET", "v1/namespaces/m1/stats")).json;
    assert.equal(stats.rows_read_count - statsBefore.rows_read_count, 7);
    assert.equal(stats.rows_written_count - statsBefore.rows_written_count, 3);
    assert.equal(stats.query_count - statsBefore.query_count, 7); // the failed statement is not one
    assert.ok(stats.storage_bytes_used > 0);
    assert.equal((await server.admin("GET", "v1/namespaces/nope/stats")).status, 404);
  } finally {
    await server.stop();
  }
});

test("/metrics needs the admin key when one is set", async () => {
  const key = "metrics-admin-key-0123456789";
  const server = await startServer({ args: ["--admin-auth-key", key] });
  try {
    const anon = await fetch(new URL("metrics", server.adminUrl));
    assert.equal(anon.status, 401);
    const wrong = await fetch(new URL("metrics", server.adminUrl), {
      headers: { authorization: "Bearer wrong" },
    });
    assert.equal(wrong.status, 401);
    const m = await scrape(server, { authorization: `Bearer ${key}` });
    assert.ok(m.samples.has("cairn_databases_known"));
  } finally {
    await server.stop();
  }
});
