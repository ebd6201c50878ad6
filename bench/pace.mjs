#!/usr/bin/env node
// Paced write load for bench/backup.sh: single-row autocommit INSERTs over Hrana (POST /v2/pipeline)
// on a fixed schedule, so that the backup's commit-to-store lag is measured at a known rate.
//
//   node bench/pace.mjs --url http://127.0.0.1:PORT [--rate 1000] [--duration 20] [--workers 16]
//                       [--timeout-ms 5000] [--grace 10] [--client fetch|http]
//
// Request i (0-based) is due at start + i / rate seconds; rate × duration requests in all. WORKERS
// concurrent workers take the next due request, wait for its time and send it; a worker that is
// behind sends at once, so a slow server (or client) shows up as a lower achieved rate and as
// lateness, never as silently skipped requests. The run stops after duration + grace seconds even
// if requests are still due (they are counted as not sent). Before the clock starts, each worker
// sends one GET /health (not counted), so that connections are open and the client code is loaded.
//
// --client fetch (default): Node's global fetch with its keep-alive pool (at most one connection
// per worker). --client http: node:http with a keep-alive Agent of WORKERS sockets. fetch costs the
// client far more CPU per request (on a busy 2-core machine: ~0.9 ms against ~0.26 ms), so at
// 1,000/s it can use most of a core, next to the server; client_cpu_us in the output shows it.
//
// The request is the one bench/wrk/hrana.lua's `insert` workload sends:
//   INSERT INTO bench_insert(k, v) VALUES (?, ?)   then close
// A response counts as an error unless it is HTTP 200 without a Hrana error and with
// "affected_row_count":1; network errors and timeouts count too.
//
// Prints one JSON object on stdout (and a one-line summary on stderr):
//   {"rate_target","duration_s","workers","scheduled","sent","ok","errors","not_sent",
//    "elapsed_s","achieved_rate","latency_ms":{"p50","p90","p99","max","mean"},
//    "late_ms":{"p50","p99","max"},"client","client_cpu_us","first_error"}
// latency = send → full response; late = how long after its due time a request was sent.
// achieved_rate = ok / (time from start to the last response). client_cpu_us: this process's CPU time
// (user + system) per request sent, on the same cores as the server.
// Exit status: 0 the run finished (errors are reported, not fatal), 2 bad arguments.

import http from "node:http";

const args = {
  url: "",
  client: "fetch",
  rate: 1000,
  duration: 20,
  workers: 16,
  "timeout-ms": 5000,
  grace: 10,
};

function usage(msg) {
  if (msg) process.stderr.write(`pace: ${msg}\n`);
  process.stderr.write(
    "usage: node bench/pace.mjs --url URL [--rate N] [--duration S] [--workers N] [--timeout-ms MS] [--grace S]\n" +
    "                           [--client fetch|http]\n");
  process.exit(2);
}

const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "-h" || a === "--help") usage();
  if (!a.startsWith("--")) usage(`unexpected argument ${a}`);
  const key = a.slice(2);
  if (!(key in args)) usage(`unknown option ${a}`);
  if (i + 1 >= argv.length) usage(`${a} needs a value`);
  const v = argv[++i];
  if (key === "url") {
    args.url = v.replace(/\/+$/, "");
  } else if (key === "client") {
    if (v !== "fetch" && v !== "http") usage(`--client is fetch or http (got ${v})`);
    args.client = v;
  } else {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) usage(`${a} must be a positive number (got ${v})`);
    args[key] = n;
  }
}
if (!args.url) usage("--url is required");
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(args.url)) {
  usage("--url must be a loopback http URL (this is a load generator)");
}

const total = Math.floor(args.rate * args.duration);
const workers = Math.max(1, Math.floor(args.workers));
const intervalMs = 1000 / args.rate;
const deadlineMs = (args.duration + args.grace) * 1000;
const endpoint = `${args.url}/v2/pipeline`;

const bodyFor = (k) =>
  '{"requests":[{"type":"execute","stmt":{"sql":"INSERT INTO bench_insert(k, v) VALUES (?, ?)",' +
  `"args":[{"type":"integer","value":"${k}"},{"type":"text","value":"benchmark row value"}]}},{"type":"close"}]}`;

// post(body) → {status, text}; rejects on a network error or after --timeout-ms.
const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
function postHttp(body) {
  return new Promise((resolve, reject) => {
    const req = http.request(endpoint, {
      method: "POST",
      agent,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
      timeout: args["timeout-ms"],
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, text }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no response in ${args["timeout-ms"]} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}
async function postFetch(body) {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
    signal: AbortSignal.timeout(args["timeout-ms"]),
  });
  return { status: res.status, text: await res.text() };
}
const post = args.client === "http" ? postHttp : postFetch;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();

const latencies = new Float64Array(total);  // ms, ok requests only
const lateness = new Float64Array(total);   // ms, every sent request
let nLat = 0;
let nLate = 0;
let next = 0;
let sent = 0;
let ok = 0;
let errors = 0;
let firstError = null;
let lastDone = 0;
let start = 0;

function fail(what) {
  errors++;
  if (firstError === null) firstError = String(what).slice(0, 300);
}

async function worker() {
  for (;;) {
    const i = next++;
    if (i >= total) return;
    const due = start + i * intervalMs;
    let t = now();
    if (t - start > deadlineMs) return;  // out of time: the rest is not sent
    if (due - t >= 1) {
      await sleep(due - t);
      t = now();
    }
    lateness[nLate++] = Math.max(0, t - due);
    sent++;
    try {
      const res = await post(bodyFor(1 + (i % 100000)));
      const text = res.text;
      const t1 = now();
      lastDone = Math.max(lastDone, t1);
      if (res.status !== 200) fail(`status ${res.status}: ${text}`);
      else if (text.includes('"type":"error"')) fail(text);
      else if (!text.includes('"affected_row_count":1')) fail(`unexpected: ${text}`);
      else {
        ok++;
        latencies[nLat++] = t1 - t;
      }
    } catch (e) {
      lastDone = Math.max(lastDone, now());
      fail(e && e.cause ? `${e.name}: ${e.message} (${e.cause.code || e.cause.message})` : e);
    }
  }
}

function pct(sorted, n, p) {
  if (n === 0) return null;
  return sorted[Math.min(n - 1, Math.floor((n - 1) * p))];
}
const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

// Warm-up, not counted: one GET /health per worker, concurrently, so that the fetch machinery is
// loaded and the keep-alive connections are open before the clock starts.
const warm = args.client === "http"
  ? () => new Promise((resolve, reject) => {
    const req = http.get(`${args.url}/health`, { agent, timeout: args["timeout-ms"] }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  })
  : () => fetch(`${args.url}/health`, { signal: AbortSignal.timeout(args["timeout-ms"]) }).then((r) => r.arrayBuffer());
try {
  await Promise.all(Array.from({ length: workers }, warm));
} catch (e) {
  process.stderr.write(`pace: warm-up GET /health failed: ${e && e.cause ? e.cause.message : e}\n`);
}

const cpu0 = process.cpuUsage();
start = now();
await Promise.all(Array.from({ length: workers }, () => worker()));
const end = now();
const cpu = process.cpuUsage(cpu0);

const lat = latencies.subarray(0, nLat).sort();
const late = lateness.subarray(0, nLate).sort();
const elapsed = ((lastDone || end) - start) / 1000;
let mean = 0;
for (let i = 0; i < nLat; i++) mean += lat[i];
mean = nLat ? mean / nLat : null;

const out = {
  rate_target: args.rate,
  duration_s: args.duration,
  workers,
  scheduled: total,
  sent,
  ok,
  errors,
  not_sent: total - sent,
  elapsed_s: r3(elapsed),
  achieved_rate: elapsed > 0 ? Math.round((ok / elapsed) * 10) / 10 : 0,
  latency_ms: {
    p50: r3(pct(lat, nLat, 0.5)),
    p90: r3(pct(lat, nLat, 0.9)),
    p99: r3(pct(lat, nLat, 0.99)),
    max: r3(nLat ? lat[nLat - 1] : null),
    mean: r3(mean),
  },
  late_ms: { p50: r3(pct(late, nLate, 0.5)), p99: r3(pct(late, nLate, 0.99)), max: r3(nLate ? late[nLate - 1] : null) },
  client: args.client,
  client_cpu_us: sent ? Math.round(((cpu.user + cpu.system) / sent) * 10) / 10 : null,
  first_error: firstError,
};
agent.destroy();
process.stdout.write(JSON.stringify(out) + "\n");
process.stderr.write(
  `pace: ${ok}/${total} ok, ${errors} errors, ${total - sent} not sent, ${out.achieved_rate}/s achieved ` +
  `(target ${args.rate}/s), latency p50 ${out.latency_ms.p50} ms p99 ${out.latency_ms.p99} ms, ` +
  `sent late p99 ${out.late_ms.p99} ms, client CPU ${out.client_cpu_us} us/request\n`);
