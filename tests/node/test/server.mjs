// Shared helpers for the Node conformance suite: start/stop a Cairn server on loopback, make
// @libsql/client instances bound to a namespace, and talk to the raw Hrana / admin endpoints.
//
// The binary comes from $CAIRN_BIN, else ../../build/src/cli/cairn relative to tests/node.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@libsql/client";

const here = dirname(fileURLToPath(import.meta.url));
export const NODE_DIR = resolve(here, "..");

export function cairnBin() {
  const bin = process.env.CAIRN_BIN
    ? resolve(process.env.CAIRN_BIN)
    : resolve(NODE_DIR, "../../build/src/cli/cairn");
  if (!existsSync(bin)) {
    throw new Error(`Cairn binary not found at ${bin} (set CAIRN_BIN or build the project first)`);
  }
  return bin;
}

// A port that was free a moment ago on 127.0.0.1.
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

export function makeDataDir() {
  return mkdtempSync(join(tmpdir(), "cairn-node-test-"));
}

// Waits for a child process to exit (or returns at once if it has). Resolves {code, signal}.
function waitExit(proc, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  }
  return new Promise((resolveExit) => {
    let timer;
    const onExit = (code, signal) => {
      clearTimeout(timer);
      resolveExit({ code, signal });
    };
    proc.once("exit", onExit);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        proc.off("exit", onExit);
        resolveExit(null);
      }, timeoutMs);
    }
  });
}

// Servers still running when the test process exits are killed so none outlive the suite.
const live = new Set();
process.on("exit", () => {
  for (const proc of live) {
    try {
      proc.kill("SIGKILL");
    } catch {
      // gone already
    }
  }
});

class CairnServer {
  constructor({ proc, port, adminPort, dataDir, ownsDataDir, logs, host = "127.0.0.1" }) {
    this.proc = proc;
    this.port = port;
    this.adminPort = adminPort;
    this.dataDir = dataDir;
    this.ownsDataDir = ownsDataDir;
    this.logs = logs;
    this.url = `http://${host}:${port}/`;
    this.adminUrl = `http://${host}:${adminPort}/`;
    this.clients = [];
  }

  get running() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  // A @libsql/client for this server; `namespace` adds an x-namespace header to every request.
  client({ namespace, ...config } = {}) {
    const c = createClient({
      url: this.url,
      ...(namespace !== undefined ? { fetch: namespaceFetch(namespace) } : {}),
      ...config,
    });
    this.clients.push(c);
    return c;
  }

  // POST a raw body (object → JSON, string → as is) to a Hrana path. Returns {status, headers, text, json}.
  async post(path, body, { namespace, headers = {} } = {}) {
    const h = { "content-type": "application/json", ...headers };
    if (namespace !== undefined) h["x-namespace"] = namespace;
    const resp = await fetch(new URL(path, this.url), {
      method: "POST",
      headers: h,
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return readResponse(resp);
  }

  async get(path, { headers = {} } = {}) {
    return readResponse(await fetch(new URL(path, this.url), { headers }));
  }

  async admin(method, path, body) {
    const init = { method };
    if (body !== undefined) {
      init.headers = { "content-type": "application/json" };
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    return readResponse(await fetch(new URL(path, this.adminUrl), init));
  }

  createNamespace(name) {
    return this.admin("POST", `v1/namespaces/${name}/create`, {});
  }

  deleteNamespace(name) {
    return this.admin("DELETE", `v1/namespaces/${name}`);
  }

  closeClients() {
    for (const c of this.clients.splice(0)) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }

  // SIGTERM, then SIGKILL if it has not exited after `graceMs`. Resolves {code, signal, killed}.
  async stop({ graceMs = 15000, keepDataDir = false } = {}) {
    this.closeClients();
    let result = { code: this.proc.exitCode, signal: this.proc.signalCode, killed: false };
    if (this.running) {
      this.proc.kill("SIGTERM");
      const exited = await waitExit(this.proc, graceMs);
      if (exited === null) {
        this.proc.kill("SIGKILL");
        result = { ...(await waitExit(this.proc)), killed: true };
      } else {
        result = { ...exited, killed: false };
      }
    }
    if (this.ownsDataDir && !keepDataDir) rmSync(this.dataDir, { recursive: true, force: true });
    return result;
  }

  // SIGKILL at once (crash simulation). Keeps the data directory.
  async kill() {
    if (this.running) {
      this.proc.kill("SIGKILL");
      await waitExit(this.proc);
    }
    this.closeClients();
  }

  removeDataDir() {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// {status, headers, text, json} of a fetch Response (json undefined when the body is not JSON).
export async function readResponse(resp) {
  const text = await resp.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: resp.status, headers: resp.headers, text, json };
}

// A fetch for createClient that adds `x-namespace` to every request the client makes.
export function namespaceFetch(namespace) {
  return async (request) => {
    const headers = new Headers(request.headers);
    headers.set("x-namespace", namespace);
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
    return fetch(request.url, { method: request.method, headers, body });
  };
}

// Starts `cairn serve` on fresh loopback ports. Options:
//   dataDir    reuse this directory (kept on stop); default a fresh temp dir (removed on stop)
//   args       extra command-line arguments, e.g. ["--txn-timeout-ms", "2000"]
//   timeoutMs  how long to wait for GET /health to answer 200
//   host       the address to listen on (default 127.0.0.1)
//   wrap       a command that execs its arguments, prepended: ["ip", "netns", "exec", NS] runs the
//              server inside a network namespace (the process signalled is still the server's)
//   port, adminPort  listen on these (a restart that clients must find at the same address)
export async function startServer({
  dataDir,
  args = [],
  timeoutMs = 15000,
  host = "127.0.0.1",
  wrap = [],
  port: fixedPort,
  adminPort: fixedAdminPort,
} = {}) {
  const bin = cairnBin();
  const ownsDataDir = dataDir === undefined;
  const dir = dataDir ?? makeDataDir();
  let lastError;
  // A port found free can be taken before the server binds it; retry a few times on early exit.
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = fixedPort ?? (await freePort());
    let adminPort = fixedAdminPort ?? (await freePort());
    while (adminPort === port) adminPort = await freePort();
    const logs = [];
    const proc = spawn(
      wrap.length ? wrap[0] : bin,
      [
        ...(wrap.length ? [...wrap.slice(1), bin] : []),
        "serve",
        "--listen", `${host}:${port}`,
        "--admin-listen", `${host}:${adminPort}`,
        "--data-dir", dir,
        ...args,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const keep = (chunk) => {
      logs.push(chunk.toString());
      if (logs.length > 400) logs.splice(0, logs.length - 400);
    };
    proc.stdout.on("data", keep);
    proc.stderr.on("data", keep);
    proc.on("error", (e) => logs.push(`spawn error: ${e.message}`));
    live.add(proc);
    proc.once("exit", () => live.delete(proc));
    const server = new CairnServer({ proc, port, adminPort, dataDir: dir, ownsDataDir, logs, host });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && server.running) {
      try {
        const resp = await fetch(new URL("health", server.url), { signal: AbortSignal.timeout(1000) });
        await resp.arrayBuffer();
        if (resp.status === 200) return server;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    if (server.running) {
      await server.stop({ graceMs: 2000, keepDataDir: true });
      lastError = new Error(`server did not become healthy within ${timeoutMs} ms; log:\n${logs.join("")}`);
      break;
    }
    lastError = new Error(
      `server exited early (code ${proc.exitCode}, signal ${proc.signalCode}); log:\n${logs.join("")}`,
    );
  }
  if (ownsDataDir) rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

// Asserts that `promise` rejects with a LibsqlError-like error and returns the error.
export async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

// SELECT a single value (first column of first row) with an existing client.
export async function scalar(client, sql, args) {
  const rs = await client.execute(args === undefined ? sql : { sql, args });
  return rs.rows[0][0];
}

// Random bytes without node:crypto's 64 KiB getRandomValues limit.
export function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

// Runs the cairn binary with `args` (and extra environment variables) to completion, at most
// `timeoutMs`. Resolves {code, out, err}.
export function runCairn(args, { env = {}, timeoutMs = 60000 } = {}) {
  return new Promise((resolveRun, reject) => {
    const proc = spawn(cairnBin(), args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.on("error", reject);
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code, out, err });
    });
  });
}

// Starts a real s3rver (the npm test peer) on a free loopback port, storing in `dir`, with a bucket
// "backups". Resolves {proc, port, url(prefix), env}: `url` is what `--backup` takes, `env` the
// credentials the server and `cairn restore` need. Restart it on the same port with `restart()`.
export async function startS3rver(dir, port) {
  port = port ?? (await freePort());
  const script = resolve(NODE_DIR, "node_modules/s3rver/bin/s3rver.js");
  const proc = spawn(
    process.execPath,
    ["--openssl-legacy-provider", script, "--directory", dir, "--address", "127.0.0.1", "--port", String(port),
      "--service-endpoint", "localhost", "--configure-bucket", "backups"],
    { stdio: "ignore" },
  );
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  for (let i = 0; i < 150; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return {
        proc,
        port,
        url: (prefix) => `s3://backups/${prefix}?endpoint=http://127.0.0.1:${port}&path_style=true`,
        env: { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" },
        kill: () => proc.kill("SIGKILL"),
        restart: () => startS3rver(dir, port),
      };
    } catch {
      await sleep(100);
    }
  }
  proc.kill("SIGKILL");
  throw new Error("s3rver did not start");
}

export { sleep };
