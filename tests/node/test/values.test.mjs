// Every Hrana value type round-trips through @libsql/client's execute() with arguments, and the
// result metadata (columns, decltypes, rowsAffected, lastInsertRowid) is what the client expects.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, startServer } from "./server.mjs";

let server;
let client; // intMode "number" (the default)
let big; // intMode "bigint"

before(async () => {
  server = await startServer();
  client = server.client();
  big = server.client({ intMode: "bigint" });
});

after(async () => {
  await server?.stop();
});

// SELECT ?, typeof(?1) → [value, sqlite type name]
async function roundTrip(c, value) {
  const rs = await c.execute({ sql: "SELECT ?1 AS v, typeof(?1) AS t", args: [value] });
  assert.equal(rs.rows.length, 1);
  return [rs.rows[0][0], rs.rows[0][1]];
}

function bytesOf(value) {
  assert.ok(value instanceof ArrayBuffer, `expected an ArrayBuffer, got ${Object.prototype.toString.call(value)}`);
  return new Uint8Array(value);
}

describe("integers", () => {
  test("64-bit extremes round-trip exactly with intMode bigint", async () => {
    for (const v of [9223372036854775807n, -9223372036854775808n, 0n, 1n, -1n, 9007199254740993n, -9007199254740993n]) {
      const [got, type] = await roundTrip(big, v);
      assert.equal(type, "integer");
      assert.equal(typeof got, "bigint");
      assert.equal(got, v);
    }
  });

  test("64-bit extremes survive storage in an INTEGER column", async () => {
    await big.execute("CREATE TABLE ints (id INTEGER PRIMARY KEY, v INTEGER)");
    const values = [9223372036854775807n, -9223372036854775808n, 4294967296n, -2n];
    for (const v of values) await big.execute({ sql: "INSERT INTO ints (v) VALUES (?)", args: [v] });
    const rs = await big.execute("SELECT v FROM ints ORDER BY id");
    assert.deepEqual(rs.rows.map((r) => r.v), values);
    // Integer literals produced by SQLite itself, not by binding.
    const lit = await big.execute("SELECT 9223372036854775807, -9223372036854775807 - 1");
    assert.equal(lit.rows[0][0], 9223372036854775807n);
    assert.equal(lit.rows[0][1], -9223372036854775808n);
  });

  test("safe integers come back as numbers in the default intMode", async () => {
    const rs = await client.execute({ sql: "SELECT ?1 + 1, typeof(?1 + 1)", args: [41n] });
    assert.equal(rs.rows[0][0], 42);
    assert.equal(typeof rs.rows[0][0], "number");
    assert.equal(rs.rows[0][1], "integer");
    const max = await client.execute("SELECT 9007199254740991, -9007199254740991");
    assert.equal(max.rows[0][0], Number.MAX_SAFE_INTEGER);
    assert.equal(max.rows[0][1], -Number.MAX_SAFE_INTEGER);
  });

  test("intMode string returns exact decimal strings", async () => {
    const s = server.client({ intMode: "string" });
    const rs = await s.execute("SELECT 9223372036854775807, -9223372036854775807 - 1, 2.5");
    assert.equal(rs.rows[0][0], "9223372036854775807");
    assert.equal(rs.rows[0][1], "-9223372036854775808");
    assert.equal(rs.rows[0][2], 2.5);
  });
});

describe("floats", () => {
  const floats = [
    0.1,
    -0.1,
    1.5,
    3.141592653589793,
    -1e308,
    1e308,
    1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e-7,
    123456789.123456789,
    2 ** 53 + 2,
  ];

  test("JS numbers are bound as REAL and come back bit-exact", async () => {
    for (const v of floats) {
      const [got, type] = await roundTrip(client, v);
      assert.equal(type, "real", `typeof for ${v}`);
      assert.ok(Object.is(got, v), `round-trip of ${v}: got ${got}`);
    }
  });

  test("a JS number with an integral value is still a REAL", async () => {
    const [got, type] = await roundTrip(client, 42);
    assert.equal(type, "real");
    assert.equal(got, 42);
    const rs = await client.execute({ sql: "SELECT ?1 / 5", args: [42] });
    assert.equal(rs.rows[0][0], 8.4); // integer division would give 8
  });

  test("floats survive storage in a REAL column", async () => {
    await client.execute("CREATE TABLE reals (id INTEGER PRIMARY KEY, v REAL)");
    for (const v of floats) await client.execute({ sql: "INSERT INTO reals (v) VALUES (?)", args: [v] });
    const rs = await client.execute("SELECT v FROM reals ORDER BY id");
    assert.equal(rs.rows.length, floats.length);
    rs.rows.forEach((r, i) => assert.ok(Object.is(r.v, floats[i]), `row ${i}: ${r.v} !== ${floats[i]}`));
  });

  // SQLite can produce ±Infinity (NaN becomes NULL). JSON has no literal for it; Cairn writes the
  // JSON number 1e999 / -1e999, which JSON.parse (and so the client) reads as ±Infinity. Writing
  // null instead makes the client reject the whole response as malformed (HRANA_PROTO_ERROR),
  // which kills its stream and any open transaction.
  test("±Infinity from SQLite reaches the client as ±Infinity", async () => {
    const rs = await client.execute("SELECT 1e999, -1e999, 2.5, 9e307 * 10");
    assert.deepEqual(Array.from(rs.rows[0]), [Infinity, -Infinity, 2.5, Infinity]);
    const raw = await server.post("v2/pipeline", {
      requests: [{ type: "execute", stmt: { sql: "SELECT 1e999", args: [], named_args: [] } }, { type: "close" }],
    });
    assert.equal(raw.status, 200, raw.text);
    assert.deepEqual(raw.json.results[0].response.result.rows, [[{ type: "float", value: Infinity }]]);
  });

  test("a statement producing Infinity does not break an open transaction", async () => {
    await client.execute("CREATE TABLE inf_tx (v REAL)");
    const tx = await client.transaction("write");
    await tx.execute("INSERT INTO inf_tx VALUES (1.5)");
    try {
      await tx.execute("SELECT 1e999");
    } catch (e) {
      assert.notEqual(e.code, "HRANA_PROTO_ERROR", `malformed response for Infinity: ${e.message}`);
    }
    await tx.execute("INSERT INTO inf_tx VALUES (2.5)");
    await tx.commit();
    const rs = await client.execute("SELECT v FROM inf_tx ORDER BY v");
    assert.deepEqual(rs.rows.map((r) => r.v), [1.5, 2.5]);
  });

  test("REAL results computed by SQLite are floats", async () => {
    const rs = await client.execute("SELECT 1.0, 0.5 * 3, 1e308 * -1, CAST(1 AS REAL)");
    assert.deepEqual(Array.from(rs.rows[0]), [1, 1.5, -1e308, 1]);
  });
});

describe("booleans, null and dates", () => {
  test("booleans are bound as integers 1 and 0", async () => {
    assert.deepEqual(await roundTrip(big, true), [1n, "integer"]);
    assert.deepEqual(await roundTrip(big, false), [0n, "integer"]);
    assert.deepEqual(await roundTrip(client, true), [1, "integer"]);
  });

  test("null round-trips as null", async () => {
    assert.deepEqual(await roundTrip(client, null), [null, "null"]);
    const rs = await client.execute("SELECT NULL AS n");
    assert.equal(rs.rows[0].n, null);
  });

  test("Date is bound as its epoch milliseconds", async () => {
    const d = new Date("2024-02-29T12:34:56.789Z");
    const [got] = await roundTrip(client, d);
    assert.equal(got, d.getTime());
  });
});

describe("text", () => {
  const texts = [
    "hello",
    "😀🎉 emoji with 👩‍👩‍👧 ZWJ sequence",
    "漢字かなカナ한국어中文",
    "e\u0301 combining acute, n\u0303",
    "Ωmega ß ç ø Ä",
    "quotes \" ' \\ backslash / slash",
    "line\nbreak\ttab\rcr",
    "control \u0001\u0007\u001f and \u2028\u2029 separators",
    "x".repeat(100000),
  ];

  test("unicode and special characters round-trip unchanged", async () => {
    for (const v of texts) {
      const [got, type] = await roundTrip(client, v);
      assert.equal(type, "text");
      assert.equal(got, v);
    }
  });

  test("text is not normalized: combining characters keep their length", async () => {
    const rs = await client.execute({ sql: "SELECT ?1, length(?1), length(CAST(?1 AS BLOB))", args: ["e\u0301"] });
    assert.equal(rs.rows[0][0], "e\u0301");
    assert.equal(rs.rows[0][1], 2); // two code points
    assert.equal(rs.rows[0][2], 3); // three UTF-8 bytes
    const emoji = await client.execute({ sql: "SELECT length(?1), length(CAST(?1 AS BLOB))", args: ["😀"] });
    assert.deepEqual(Array.from(emoji.rows[0]), [1, 4]);
  });

  test("text with an embedded NUL character round-trips", async () => {
    const [got, type] = await roundTrip(client, "a\u0000b");
    assert.equal(type, "text");
    assert.equal(got, "a\u0000b");
  });

  test("empty string is text, not null", async () => {
    const [got, type] = await roundTrip(client, "");
    assert.equal(type, "text");
    assert.equal(got, "");
    await client.execute("CREATE TABLE strs (v TEXT)");
    await client.execute({ sql: "INSERT INTO strs VALUES (?)", args: [""] });
    const rs = await client.execute("SELECT v, v IS NULL, typeof(v) FROM strs");
    assert.deepEqual(Array.from(rs.rows[0]), ["", 0, "text"]);
  });

  test("unicode text survives storage and comparison", async () => {
    await client.execute("CREATE TABLE utexts (id INTEGER PRIMARY KEY, v TEXT)");
    for (const v of texts) await client.execute({ sql: "INSERT INTO utexts (v) VALUES (?)", args: [v] });
    const rs = await client.execute("SELECT v FROM utexts ORDER BY id");
    assert.deepEqual(rs.rows.map((r) => r.v), texts);
    const found = await client.execute({ sql: "SELECT count(*) FROM utexts WHERE v = ?", args: [texts[2]] });
    assert.equal(found.rows[0][0], 1);
  });
});

describe("blobs", () => {
  test("Uint8Array is bound as a blob and comes back as an ArrayBuffer", async () => {
    const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
    const [got, type] = await roundTrip(client, bytes);
    assert.equal(type, "blob");
    assert.deepEqual(bytesOf(got), bytes);
  });

  test("ArrayBuffer is bound as a blob", async () => {
    const bytes = new Uint8Array([222, 173, 190, 239]);
    const [got, type] = await roundTrip(client, bytes.buffer);
    assert.equal(type, "blob");
    assert.deepEqual(bytesOf(got), bytes);
  });

  test("blobs of every length modulo 3 (base64 padding) round-trip", async () => {
    for (let n = 1; n <= 10; n++) {
      const bytes = randomBytes(n);
      const [got, type] = await roundTrip(client, bytes);
      assert.equal(type, "blob");
      assert.deepEqual(bytesOf(got), bytes, `length ${n}`);
    }
  });

  test("empty blob is a zero-length blob, not null", async () => {
    const rs = await client.execute({
      sql: "SELECT ?1, typeof(?1), length(?1), ?1 IS NULL",
      args: [new Uint8Array(0)],
    });
    const [v, type, len, isNull] = Array.from(rs.rows[0]);
    assert.equal(type, "blob");
    assert.equal(len, 0);
    assert.equal(isNull, 0);
    assert.equal(bytesOf(v).byteLength, 0);
    const lit = await client.execute("SELECT x'', zeroblob(0)");
    assert.equal(bytesOf(lit.rows[0][0]).byteLength, 0);
    assert.equal(bytesOf(lit.rows[0][1]).byteLength, 0);
  });

  test("empty blob stored in a table stays a blob", async () => {
    await client.execute("CREATE TABLE eblobs (v BLOB)");
    await client.execute({ sql: "INSERT INTO eblobs VALUES (?)", args: [new ArrayBuffer(0)] });
    const rs = await client.execute("SELECT v, typeof(v) FROM eblobs");
    assert.equal(rs.rows[0][1], "blob");
    assert.equal(bytesOf(rs.rows[0][0]).byteLength, 0);
  });

  test("a 4 MB random blob round-trips byte for byte", async () => {
    const bytes = randomBytes(4 * 1024 * 1024);
    await client.execute("CREATE TABLE bigblobs (id INTEGER PRIMARY KEY, v BLOB)");
    const ins = await client.execute({ sql: "INSERT INTO bigblobs (v) VALUES (?)", args: [bytes] });
    assert.equal(ins.rowsAffected, 1);
    const rs = await client.execute({ sql: "SELECT v, length(v) FROM bigblobs WHERE id = ?", args: [ins.lastInsertRowid] });
    assert.equal(rs.rows[0][1], bytes.length);
    const got = bytesOf(rs.rows[0][0]);
    assert.equal(got.byteLength, bytes.byteLength);
    assert.ok(Buffer.from(got).equals(Buffer.from(bytes)), "4 MB blob differs");
  });

  test("blob produced by SQLite functions", async () => {
    const rs = await client.execute("SELECT x'00ff10', randomblob(16), zeroblob(5)");
    assert.deepEqual(bytesOf(rs.rows[0][0]), new Uint8Array([0, 255, 16]));
    assert.equal(bytesOf(rs.rows[0][1]).byteLength, 16);
    assert.deepEqual(bytesOf(rs.rows[0][2]), new Uint8Array(5));
  });
});

describe("arguments", () => {
  test("positional ? and numbered ?N parameters", async () => {
    const rs = await big.execute({ sql: "SELECT ?, ?, ?", args: [1n, "two", null] });
    assert.deepEqual(Array.from(rs.rows[0]), [1n, "two", null]);
    const num = await big.execute({ sql: "SELECT ?2, ?1, ?2", args: ["a", "b"] });
    assert.deepEqual(Array.from(num.rows[0]), ["b", "a", "b"]);
  });

  test("execute(sql, args) two-argument form", async () => {
    const rs = await big.execute("SELECT ? || ?", ["ab", "cd"]);
    assert.equal(rs.rows[0][0], "abcd");
  });

  for (const prefix of [":", "@", "$"]) {
    test(`named ${prefix}name with unprefixed object keys`, async () => {
      const rs = await big.execute({
        sql: `SELECT ${prefix}a AS a, ${prefix}b AS b, ${prefix}a + 1 AS a1`,
        args: { a: 10n, b: "bee" },
      });
      assert.deepEqual(Array.from(rs.rows[0]), [10n, "bee", 11n]);
    });

    test(`named ${prefix}name with prefixed object keys`, async () => {
      const rs = await big.execute({
        sql: `SELECT ${prefix}a AS a, ${prefix}b AS b`,
        args: { [`${prefix}a`]: 7n, [`${prefix}b`]: new Uint8Array([1, 2]) },
      });
      assert.equal(rs.rows[0][0], 7n);
      assert.deepEqual(bytesOf(rs.rows[0][1]), new Uint8Array([1, 2]));
    });
  }

  test("named arguments of every value type in an INSERT", async () => {
    await big.execute("CREATE TABLE named (i INTEGER, r REAL, t TEXT, b BLOB, n)");
    const ins = await big.execute({
      sql: "INSERT INTO named VALUES (:i, @r, $t, :b, :n)",
      args: { i: -5n, r: 2.5, t: "tée", b: new Uint8Array([9]), n: null },
    });
    assert.equal(ins.rowsAffected, 1);
    const rs = await big.execute("SELECT i, r, t, b, n FROM named");
    const row = rs.rows[0];
    assert.equal(row.i, -5n);
    assert.equal(row.r, 2.5);
    assert.equal(row.t, "tée");
    assert.deepEqual(bytesOf(row.b), new Uint8Array([9]));
    assert.equal(row.n, null);
  });
});

describe("result metadata", () => {
  test("column names, including aliases with spaces and duplicates", async () => {
    const rs = await client.execute("SELECT 1 AS one, 'x' AS \"two words\", 3 AS one");
    assert.deepEqual(rs.columns, ["one", "two words", "one"]);
    assert.equal(rs.rows[0]["two words"], "x");
    assert.equal(rs.rows[0].length, 3);
  });

  test("columnTypes carry the declared types", async () => {
    await client.execute(
      "CREATE TABLE typed (i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, v VARCHAR(10), d DATETIME, u)",
    );
    const rs = await client.execute("SELECT i, r, t, b, n, v, d, u, i + 1 AS e FROM typed");
    assert.deepEqual(rs.columns, ["i", "r", "t", "b", "n", "v", "d", "u", "e"]);
    assert.deepEqual(rs.columnTypes, ["INTEGER", "REAL", "TEXT", "BLOB", "NUMERIC", "VARCHAR(10)", "DATETIME", "", ""]);
    assert.equal(rs.rows.length, 0, "columns are reported even without rows");
  });

  test("rows are addressable by index and by column name", async () => {
    const rs = await client.execute("SELECT 'a' AS x, 'b' AS y UNION ALL SELECT 'c', 'd'");
    assert.equal(rs.rows.length, 2);
    assert.equal(rs.rows[1][0], "c");
    assert.equal(rs.rows[1].y, "d");
    assert.deepEqual(rs.toJSON().rows, [["a", "b"], ["c", "d"]]);
  });

  test("rowsAffected and lastInsertRowid for INSERT, UPDATE, DELETE and SELECT", async () => {
    await client.execute("CREATE TABLE counts (id INTEGER PRIMARY KEY, v INTEGER)");
    const one = await client.execute("INSERT INTO counts (v) VALUES (1)");
    assert.equal(one.rowsAffected, 1);
    assert.equal(one.lastInsertRowid, 1n);
    const three = await client.execute("INSERT INTO counts (v) VALUES (2), (3), (4)");
    assert.equal(three.rowsAffected, 3);
    assert.equal(three.lastInsertRowid, 4n);
    const explicit = await client.execute({ sql: "INSERT INTO counts (id, v) VALUES (?, 5)", args: [1234567890123n] });
    assert.equal(explicit.lastInsertRowid, 1234567890123n);
    const upd = await client.execute("UPDATE counts SET v = v * 10 WHERE v >= 2");
    assert.equal(upd.rowsAffected, 4);
    const none = await client.execute("UPDATE counts SET v = 0 WHERE v < 0");
    assert.equal(none.rowsAffected, 0);
    const del = await client.execute("DELETE FROM counts WHERE v = 1");
    assert.equal(del.rowsAffected, 1);
    const sel = await client.execute("SELECT * FROM counts");
    assert.equal(sel.rowsAffected, 0);
    assert.equal(sel.rows.length, 4);
  });

  test("lastInsertRowid at the 64-bit maximum rowid", async () => {
    await client.execute("CREATE TABLE maxrow (id INTEGER PRIMARY KEY, v)");
    const rs = await client.execute({ sql: "INSERT INTO maxrow VALUES (?, 'x')", args: [9223372036854775807n] });
    assert.equal(rs.lastInsertRowid, 9223372036854775807n);
  });

  test("RETURNING rows come back with the INSERT", async () => {
    await big.execute("CREATE TABLE ret (id INTEGER PRIMARY KEY, name TEXT)");
    const rs = await big.execute({ sql: "INSERT INTO ret (name) VALUES (?), (?) RETURNING id, name", args: ["a", "b"] });
    assert.deepEqual(rs.columns, ["id", "name"]);
    assert.deepEqual(rs.rows.map((r) => [r.id, r.name]), [[1n, "a"], [2n, "b"]]);
    assert.equal(rs.rowsAffected, 2);
  });
});
