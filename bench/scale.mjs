// Many databases on one server: creates N databases through the admin API, touches every one,
// then measures the first query on databases that are closed ("cold"), and the server's memory.
//
//   node bench/scale.mjs [--n 10000] [--open 100] [--concurrency 4] [--sample 500]
//
// Starts its own `cairn serve` (CAIRN_BIN, default build/src/cli/cairn) on free loopback ports
// with a temporary data directory (removed at the end unless KEEP_TMP=1), `--max-open-databases
// OPEN`. Every loop is bounded by N and by a time limit. Prints a table and writes
// bench/results/scale-latest.json.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import http from "node:http";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const N = Number(args.n ?? 10000);
const OPEN = Number(args.open ?? 100);
const CONC = Number(args.concurrency ?? 4);
const SAMPLE = Math.min(Number(args.sample ?? 500), N);
const LIMIT_MS = 15 * 60 * 1000;
const bin = resolve(process.env.CAIRN_BIN ?? join(root, "build/src/cli/cairn"));

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

const agent = new http.Agent({ keepAlive: true, maxSockets: CONC * 2 });
function request(port, method, path, body, headers = {}) {
  return new Promise((res, rej) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent, headers }, (r) => {
      let data = "";
      r.setEncoding("utf8");
      r.on("data", (c) => (data += c));
      r.on("end", () => res({ status: r.statusCode, body: data }));
    });
    req.on("error", rej);
    if (body) req.write(body);
    req.end();
  });
}

const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const rssMb = (pid) => {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
};

const dir = mkdtempSync(join(tmpdir(), "cairn-scale-"));
const port = await freePort();
const aport = await freePort();
const proc = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`, "--admin-listen", `127.0.0.1:${aport}`,
  "--data-dir", join(dir, "data"), "--max-open-databases", String(OPEN), "--log-level", "warn"], { stdio: ["ignore", "inherit", "inherit"] });
const started = Date.now();
const deadline = started + LIMIT_MS;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await request(port, "GET", "/health")).status === 200) break;
    } catch {}
    if (i > 200) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  const rss0 = rssMb(proc.pid);
  // 1. Create.
  const createMs = [];
  let next = 0;
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < N && Date.now() < deadline) {
      const i = next++;
      const t = performance.now();
      const r = await request(aport, "POST", `/v1/namespaces/t${i}/create`);
      if (r.status !== 200) throw new Error(`create t${i}: ${r.status} ${r.body}`);
      createMs.push(performance.now() - t);
    }
  }));
  const rssCreated = rssMb(proc.pid);
  // 2. Touch every database (a read), leaving at most OPEN open.
  const select = '{"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM sqlite_schema"}},{"type":"close"}]}';
  next = 0;
  const touchMs = [];
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < N && Date.now() < deadline) {
      const i = next++;
      const t = performance.now();
      const r = await request(port, "POST", "/v2/pipeline", select, { "x-namespace": `t${i}` });
      if (r.status !== 200 || r.body.includes('"type":"error"')) throw new Error(`touch t${i}: ${r.body}`);
      touchMs.push(performance.now() - t);
    }
  }));
  const rssTouched = rssMb(proc.pid);
  // 3. Cold first queries: databases touched long ago are closed (LRU); one at a time.
  const coldMs = [];
  const warmMs = [];
  for (let k = 0; k < SAMPLE && Date.now() < deadline; k++) {
    const i = Math.floor((k * (N - OPEN)) / SAMPLE);  // the oldest N - OPEN are closed
    let t = performance.now();
    let r = await request(port, "POST", "/v2/pipeline", select, { "x-namespace": `t${i}` });
    coldMs.push(performance.now() - t);
    t = performance.now();
    r = await request(port, "POST", "/v2/pipeline", select, { "x-namespace": `t${i}` });
    warmMs.push(performance.now() - t);
    if (r.status !== 200) throw new Error(r.body);
  }
  const rssEnd = rssMb(proc.pid);
  const result = {
    date: new Date().toISOString(), databases: N, max_open: OPEN, concurrency: CONC,
    create_ms_p50: pct(createMs, 0.5), create_ms_p90: pct(createMs, 0.9),
    touch_ms_p50: pct(touchMs, 0.5),
    cold_first_query_ms_p50: pct(coldMs, 0.5), cold_first_query_ms_p90: pct(coldMs, 0.9),
    warm_query_ms_p50: pct(warmMs, 0.5),
    rss_mb_start: rss0, rss_mb_after_create: rssCreated, rss_mb_after_touch: rssTouched, rss_mb_end: rssEnd,
    seconds: (Date.now() - started) / 1000,
  };
  console.log(`databases ${N}, max open ${OPEN}, concurrency ${CONC}, ${result.seconds.toFixed(0)} s`);
  console.log(`create            p50 ${result.create_ms_p50.toFixed(2)} ms   p90 ${result.create_ms_p90.toFixed(2)} ms   (target p50 <= 5)`);
  console.log(`cold first query  p50 ${result.cold_first_query_ms_p50.toFixed(2)} ms   p90 ${result.cold_first_query_ms_p90.toFixed(2)} ms   (target p50 <= 2; warm p50 ${result.warm_query_ms_p50.toFixed(2)} ms)`);
  console.log(`server RSS        start ${rss0.toFixed(0)} MB, after create ${rssCreated.toFixed(0)} MB, after touching all ${rssTouched.toFixed(0)} MB, end ${rssEnd.toFixed(0)} MB   (target <= 200 with ${N} known, ${OPEN} open)`);
  mkdirSync(join(root, "bench/results"), { recursive: true });
  writeFileSync(join(root, "bench/results/scale-latest.json"), JSON.stringify(result, null, 2));
} finally {
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  if (process.env.KEEP_TMP !== "1") rmSync(dir, { recursive: true, force: true });
}
