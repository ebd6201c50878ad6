// `cairn migrate` against a real server: 20 tenant databases created through the admin API, three
// migrations applied to all, a fourth that fails on two tenants (their data breaks a unique index)
// and leaves exactly those two untouched, the rerun that migrates only them, a changed checksum,
// --dry-run, `migrate status`, --db, and bad migration directories. Every check reads the
// databases with @libsql/client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCairn, startServer } from "./server.mjs";

const TENANTS = Array.from({ length: 20 }, (_, i) => `tenant-${String(i).padStart(2, "0")}`);
const BROKEN = ["tenant-03", "tenant-11"];

const FILES = {
  "0001_users.sql": "-- accounts\nCREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n",
  "0002_posts.sql":
    "CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);\n" +
    "CREATE INDEX posts_user ON posts(user_id);\n",
  "0003_settings.sql":
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT);\nINSERT INTO settings VALUES ('theme', 'light');\n",
};
// Adds a column first, so a failure of the index afterwards must also undo the column.
const FOURTH = {
  "0004_unique_email.sql":
    "ALTER TABLE users ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;\n\n" +
    "CREATE UNIQUE INDEX users_email ON users(email);\n",
};

let server;
let dir;
const clients = new Map();

function db(name) {
  if (!clients.has(name)) clients.set(name, server.client({ namespace: name }));
  return clients.get(name);
}

function sha256(text) {
  return createHash("sha256").update(text).digest("hex");
}

function writeFiles(files) {
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
}

// Runs `cairn migrate ...` without blocking the event loop (the server's output keeps draining).
function migrate(args, { timeoutMs = 60000 } = {}) {
  return runCairn(["migrate", ...args, "--url", server.url, "--admin-url", server.adminUrl], { timeoutMs });
}

async function migrateJson(args) {
  const r = await migrate([...args, "--json"]);
  let json;
  try {
    json = JSON.parse(r.out);
  } catch {
    assert.fail(`not one JSON object on stdout (exit ${r.code}):\n${r.out}\n${r.err}`);
  }
  return { ...r, json };
}

async function version(name) {
  const rs = await db(name).execute("SELECT coalesce(max(version), 0) AS v FROM _cairn_migrations");
  return Number(rs.rows[0].v);
}

async function tables(name) {
  const rs = await db(name).execute(
    "SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name",
  );
  return rs.rows.map((r) => r.name);
}

async function columns(name, table) {
  const rs = await db(name).execute(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`);
  return rs.rows.map((r) => r.name);
}

function byDatabase(json) {
  return Object.fromEntries(json.databases.map((d) => [d.database, d]));
}

before(async () => {
  server = await startServer();
  for (const name of TENANTS) {
    const r = await server.createNamespace(name);
    assert.equal(r.status, 200, r.text);
  }
  dir = mkdtempSync(join(tmpdir(), "cairn-migrations-"));
  writeFiles(FILES);
  writeFileSync(join(dir, "README.md"), "not a migration\n");
});

after(async () => {
  for (const c of clients.values()) c.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("cairn migrate", () => {
  test("applies three migrations to every database, recording each in _cairn_migrations", async () => {
    const r = await migrateJson(["apply", dir, "--all"]);
    assert.equal(r.code, 0, r.out + r.err);
    const all = [...TENANTS, "default"].sort();
    assert.deepEqual(r.json.databases.map((d) => d.database), all);
    assert.equal(r.json.applied, all.length);
    assert.equal(r.json.failed, 0);
    assert.equal(r.json.latest_version, 3);
    for (const d of r.json.databases) {
      assert.equal(d.status, "applied", JSON.stringify(d));
      assert.equal(d.version, 0);
      assert.equal(d.target_version, 3);
      assert.deepEqual(d.files, Object.keys(FILES));
    }
    for (const name of TENANTS) {
      assert.deepEqual(await tables(name), ["_cairn_migrations", "posts", "posts_user", "settings", "users"]);
      const rs = await db(name).execute(
        "SELECT version, name, checksum, applied_at FROM _cairn_migrations ORDER BY version",
      );
      assert.deepEqual(
        rs.rows.map((row) => [Number(row.version), row.name, row.checksum]),
        Object.entries(FILES).map(([file, sql], i) => [i + 1, file, sha256(sql)]),
        name,
      );
      for (const row of rs.rows) assert.match(row.applied_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const theme = await db(name).execute("SELECT value FROM settings WHERE key = 'theme'");
      assert.equal(theme.rows[0].value, "light");
    }
  });

  test("a rerun finds everything up to date and changes nothing", async () => {
    const r = await migrate(["apply", dir, "--all"]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /21 databases: 0 applied, 21 up to date, 0 failed/);
    for (const name of TENANTS) {
      const rs = await db(name).execute("SELECT count(*) AS n FROM settings");
      assert.equal(Number(rs.rows[0].n), 1, `${name}: the seed ran again`);
    }
  });

  test("a fourth migration that fails on two databases leaves exactly those untouched", async () => {
    for (const name of TENANTS) {
      await db(name).execute("INSERT INTO users(email) VALUES ('a@example.com'), ('b@example.com')");
    }
    for (const name of BROKEN) await db(name).execute("INSERT INTO users(email) VALUES ('a@example.com')");
    writeFiles(FOURTH);

    const r = await migrate(["apply", dir, "--all"]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /21 databases: 19 applied, 0 up to date, 2 failed/);
    const failures = r.out.slice(r.out.indexOf("failed:\n"));
    for (const name of BROKEN) {
      assert.match(
        failures,
        new RegExp(`  ${name}: 0004_unique_email\\.sql, statement 2 \\(line 3\\): (SQLite error: )?UNIQUE constraint failed: users\\.email`),
        r.out,
      );
    }
    assert.equal(failures.trim().split("\n").length, 3, failures);  // the heading and the two

    for (const name of TENANTS) {
      if (BROKEN.includes(name)) {
        assert.equal(await version(name), 3, name);
        assert.deepEqual(await columns(name, "users"), ["id", "email"], `${name}: partial change`);
        assert.ok(!(await tables(name)).includes("users_email"), name);
      } else {
        assert.equal(await version(name), 4, name);
        assert.deepEqual(await columns(name, "users"), ["id", "email", "verified"], name);
        assert.ok((await tables(name)).includes("users_email"), name);
      }
    }
  });

  test("after the data is fixed, a rerun migrates only the two that failed", async () => {
    for (const name of BROKEN) {
      await db(name).execute("DELETE FROM users WHERE id = (SELECT max(id) FROM users)");
    }
    const r = await migrateJson(["apply", dir, "--all"]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(r.json.applied, 2);
    assert.equal(r.json.up_to_date, 19);
    assert.equal(r.json.failed, 0);
    const applied = r.json.databases.filter((d) => d.status === "applied");
    assert.deepEqual(applied.map((d) => d.database), BROKEN);
    for (const d of applied) {
      assert.equal(d.version, 3);
      assert.equal(d.version_name, "0003_settings.sql");
      assert.equal(d.target_version, 4);
      assert.deepEqual(d.files, ["0004_unique_email.sql"]);
    }
    for (const name of TENANTS) assert.equal(await version(name), 4, name);
  });

  test("--dry-run and status report pending files and change nothing", async () => {
    writeFiles({ "0005_tags.sql": "CREATE TABLE tags(id INTEGER PRIMARY KEY, label TEXT);\n" });
    const dry = await migrateJson(["apply", dir, "--all", "--dry-run"]);
    assert.equal(dry.code, 0, dry.out + dry.err);
    assert.equal(dry.json.dry_run, true);
    assert.equal(dry.json.pending, 21);
    for (const d of dry.json.databases) {
      assert.equal(d.status, "pending");
      assert.equal(d.version, 4);
      assert.equal(d.target_version, 5);
      assert.deepEqual(d.files, ["0005_tags.sql"]);
    }
    const text = await migrate(["apply", dir, "--all", "--dry-run"]);
    assert.equal(text.code, 0);
    assert.match(text.out, /tenant-00: would apply 0005_tags\.sql \(version 4 -> 5\)/);
    assert.match(text.out, /dry run: nothing changed/);
    for (const name of TENANTS) {
      assert.equal(await version(name), 4, name);
      assert.ok(!(await tables(name)).includes("tags"), name);
    }

    const st = await migrateJson(["status", dir, "--db", "tenant-05", "--db", "tenant-01"]);
    assert.equal(st.code, 0, st.out + st.err);
    assert.deepEqual(st.json.databases.map((d) => [d.database, d.status, d.version, d.version_name, d.files]), [
      ["tenant-01", "pending", 4, "0004_unique_email.sql", ["0005_tags.sql"]],
      ["tenant-05", "pending", 4, "0004_unique_email.sql", ["0005_tags.sql"]],
    ]);
    const stText = await migrate(["status", dir, "--db", "tenant-05"]);
    assert.equal(stText.code, 0);
    assert.match(stText.out, /tenant-05: version 4 \(0004_unique_email\.sql\), pending: 0005_tags\.sql/);
  });

  test("--db applies to the named database only", async () => {
    const r = await migrateJson(["apply", dir, "--db", "tenant-07"]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.deepEqual(r.json.databases.map((d) => [d.database, d.status]), [["tenant-07", "applied"]]);
    for (const name of TENANTS) {
      const expected = name === "tenant-07" ? 5 : 4;
      assert.equal(await version(name), expected, name);
      assert.equal((await tables(name)).includes("tags"), name === "tenant-07", name);
    }
    const st = await migrateJson(["status", dir, "--all"]);
    assert.equal(st.code, 0);
    assert.equal(st.json.up_to_date, 1);
    assert.equal(st.json.pending, 20);
  });

  test("an applied file whose checksum changed fails every database and changes nothing", async () => {
    const path = join(dir, "0002_posts.sql");
    const original = readFileSync(path, "utf8");
    writeFileSync(path, original + "-- edited after it was applied\n");
    try {
      const r = await migrateJson(["apply", dir, "--all"]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.equal(r.json.failed, 21);
      for (const d of r.json.databases) {
        assert.equal(d.status, "failed");
        assert.equal(d.code, "MIGRATION_HISTORY");
        assert.match(d.error, /0002_posts\.sql changed after it was applied/);
      }
      const text = await migrate(["apply", dir, "--db", "tenant-00"]);
      assert.equal(text.code, 1);
      assert.match(text.out, /tenant-00: .*0002_posts\.sql changed after it was applied/);
      assert.equal(await version("tenant-00"), 4);
      assert.ok(!(await tables("tenant-00")).includes("tags"));
    } finally {
      writeFileSync(path, original);
    }
  });

  test("a database the server does not have fails on its own", async () => {
    const r = await migrateJson(["apply", dir, "--db", "tenant-01", "--db", "no-such-tenant"]);
    assert.equal(r.code, 1);
    const d = byDatabase(r.json);
    assert.equal(d["tenant-01"].status, "applied");
    assert.equal(d["no-such-tenant"].status, "failed");
    assert.equal(d["no-such-tenant"].code, "NAMESPACE_DOESNT_EXIST");
  });

  test("bad migration directories are refused before any database is touched", async () => {
    const bad = mkdtempSync(join(tmpdir(), "cairn-bad-migrations-"));
    try {
      writeFileSync(join(bad, "0001_a.sql"), "CREATE TABLE a(x);");
      writeFileSync(join(bad, "1_b.sql"), "CREATE TABLE b(x);");
      let r = await migrate(["apply", bad, "--all"]);
      assert.equal(r.code, 2);
      assert.match(r.err, /several files share a version.*version 1: 0001_a\.sql 1_b\.sql/);

      rmSync(join(bad, "1_b.sql"));
      writeFileSync(join(bad, "0002-typo.sql"), "CREATE TABLE c(x);");
      r = await migrateJson(["apply", bad, "--all"]);
      assert.equal(r.code, 2);
      assert.match(r.json.error, /not migration file names.*0002-typo\.sql/);

      rmSync(join(bad, "0002-typo.sql"));
      writeFileSync(join(bad, "0002_tx.sql"), "BEGIN;\nCREATE TABLE c(x);\nCOMMIT;");
      r = await migrate(["apply", bad, "--all"]);
      assert.equal(r.code, 2);
      assert.match(r.err, /0002_tx\.sql, line 1: 'BEGIN' is not allowed/);

      r = await migrate(["apply", join(bad, "missing"), "--all"]);
      assert.equal(r.code, 2);
      r = await migrate(["apply", dir]);
      assert.equal(r.code, 2);
      assert.match(r.err, /give either --all or --db NAME/);
      for (const name of TENANTS) assert.ok(!(await tables(name)).includes("a"), name);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
