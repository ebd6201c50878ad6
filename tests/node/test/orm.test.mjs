// A small blog app on Drizzle ORM (drizzle-orm/libsql over @libsql/client): migrations from
// fixtures/drizzle, inserts, selects with where/join/group, relational queries, updates, deletes,
// batches and transactions (including nested ones, which Drizzle runs as SAVEPOINTs).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { LibsqlError } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { and, asc, count, desc, eq, gt, inArray, like, relations, sql } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { NODE_DIR, rejection, startServer } from "./server.mjs";

const migrationsFolder = join(NODE_DIR, "fixtures", "drizzle");

const users = sqliteTable("users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  email: text("email").notNull().unique(),
  createdAt: integer("created_at", { mode: "timestamp" })
    .notNull()
    .default(sql`(unixepoch())`),
});

const posts = sqliteTable("posts", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  authorId: integer("author_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  title: text("title").notNull(),
  body: text("body"),
  published: integer("published", { mode: "boolean" }).notNull().default(false),
  views: integer("views").notNull().default(0),
  meta: text("meta", { mode: "json" }),
});

const usersRelations = relations(users, ({ many }) => ({ posts: many(posts) }));
const postsRelations = relations(posts, ({ one }) => ({
  author: one(users, { fields: [posts.authorId], references: [users.id] }),
}));
const schema = { users, posts, usersRelations, postsRelations };

let server;
let client;
let db;

// Drizzle wraps driver errors (DrizzleQueryError); the LibsqlError is its cause.
function libsqlCause(e) {
  let cur = e;
  while (cur && !(cur instanceof LibsqlError)) cur = cur.cause;
  assert.ok(cur instanceof LibsqlError, `expected a LibsqlError cause, got ${e}`);
  return cur;
}

before(async () => {
  server = await startServer();
  const ns = await server.createNamespace("blog");
  assert.ok(ns.status === 200 || ns.status === 201, ns.text);
  client = server.client({ namespace: "blog" });
  db = drizzle(client, { schema });
});

after(async () => {
  await server?.stop();
});

describe("drizzle migrations", () => {
  test("migrate() applies the committed migrations", async () => {
    await migrate(db, { migrationsFolder });
    const tables = await client.execute(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    assert.deepEqual(tables.rows.map((r) => r.name), ["__drizzle_migrations", "posts", "users"]);
    const cols = await client.execute("SELECT name FROM pragma_table_info('posts') ORDER BY cid");
    assert.deepEqual(cols.rows.map((r) => r.name), ["id", "author_id", "title", "body", "published", "views", "meta"]);
    const idx = await client.execute("SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    assert.deepEqual(idx.rows.map((r) => r.name), ["posts_author_idx", "users_email_unique"]);
    const applied = await client.execute("SELECT created_at FROM __drizzle_migrations ORDER BY created_at");
    assert.deepEqual(applied.rows.map((r) => Number(r.created_at)), [1735689600000, 1735776000000]);
  });

  test("migrate() again is a no-op", async () => {
    await migrate(db, { migrationsFolder });
    const applied = await client.execute("SELECT count(*) FROM __drizzle_migrations");
    assert.equal(applied.rows[0][0], 2);
  });

  test("the migration's schema is only in its own database", async () => {
    const def = server.client();
    const rs = await def.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'users'");
    assert.equal(rs.rows[0][0], 0);
  });
});

describe("drizzle app", () => {
  test("insert with returning", async () => {
    const inserted = await db
      .insert(users)
      .values([
        { name: "Ada", email: "ada@example.com" },
        { name: "Brian", email: "brian@example.com" },
        { name: "Chloé 🌸", email: "chloe@example.com" },
      ])
      .returning();
    assert.deepEqual(inserted.map((u) => [u.id, u.name]), [[1, "Ada"], [2, "Brian"], [3, "Chloé 🌸"]]);
    assert.ok(inserted[0].createdAt instanceof Date);
    assert.ok(Math.abs(inserted[0].createdAt.getTime() - Date.now()) < 120000, "created_at default is now");

    const [ada, brian] = inserted;
    const newPosts = await db
      .insert(posts)
      .values([
        { authorId: ada.id, title: "Engines", body: "Analytical", published: true, meta: { tags: ["math", "history"] } },
        { authorId: ada.id, title: "Notes", body: null, published: false },
        { authorId: brian.id, title: "C", body: "K&R", published: true, meta: { tags: [] } },
      ])
      .returning({ id: posts.id, title: posts.title });
    assert.deepEqual(newPosts, [
      { id: 1, title: "Engines" },
      { id: 2, title: "Notes" },
      { id: 3, title: "C" },
    ]);
  });

  test("a unique violation surfaces as SQLITE_CONSTRAINT", async () => {
    const e = await rejection(db.insert(users).values({ name: "Ada again", email: "ada@example.com" }));
    assert.ok(libsqlCause(e).code.startsWith("SQLITE_CONSTRAINT"));
    const n = await db.select({ n: count() }).from(users);
    assert.equal(n[0].n, 3);
  });

  test("select with where, like, inArray, order and limit", async () => {
    const ada = await db.select().from(users).where(eq(users.email, "ada@example.com"));
    assert.equal(ada.length, 1);
    assert.equal(ada[0].name, "Ada");

    const c = await db.select({ name: users.name }).from(users).where(like(users.email, "c%"));
    assert.deepEqual(c, [{ name: "Chloé 🌸" }]);

    const some = await db
      .select({ id: users.id })
      .from(users)
      .where(inArray(users.id, [1, 3]))
      .orderBy(desc(users.id))
      .limit(5);
    assert.deepEqual(some, [{ id: 3 }, { id: 1 }]);

    const published = await db
      .select({ title: posts.title, published: posts.published, meta: posts.meta })
      .from(posts)
      .where(and(eq(posts.published, true), gt(posts.id, 0)))
      .orderBy(asc(posts.id));
    assert.deepEqual(published, [
      { title: "Engines", published: true, meta: { tags: ["math", "history"] } },
      { title: "C", published: true, meta: { tags: [] } },
    ]);
  });

  test("inner join, left join with group by and count", async () => {
    const joined = await db
      .select({ title: posts.title, author: users.name })
      .from(posts)
      .innerJoin(users, eq(posts.authorId, users.id))
      .where(eq(posts.published, true))
      .orderBy(posts.id);
    assert.deepEqual(joined, [
      { title: "Engines", author: "Ada" },
      { title: "C", author: "Brian" },
    ]);

    const perAuthor = await db
      .select({ author: users.name, n: count(posts.id) })
      .from(users)
      .leftJoin(posts, eq(posts.authorId, users.id))
      .groupBy(users.id)
      .orderBy(users.id);
    assert.deepEqual(perAuthor, [
      { author: "Ada", n: 2 },
      { author: "Brian", n: 1 },
      { author: "Chloé 🌸", n: 0 },
    ]);
  });

  test("relational query (findMany with nested posts)", async () => {
    const result = await db.query.users.findMany({
      with: { posts: { orderBy: (p, { asc: a }) => [a(p.id)], columns: { title: true, published: true } } },
      orderBy: (u, { asc: a }) => [a(u.id)],
      columns: { name: true },
    });
    assert.deepEqual(result, [
      { name: "Ada", posts: [{ title: "Engines", published: true }, { title: "Notes", published: false }] },
      { name: "Brian", posts: [{ title: "C", published: true }] },
      { name: "Chloé 🌸", posts: [] },
    ]);
    const post = await db.query.posts.findFirst({ where: eq(posts.title, "C"), with: { author: true } });
    assert.equal(post.author.email, "brian@example.com");
  });

  test("update with an SQL expression and returning", async () => {
    const updated = await db
      .update(posts)
      .set({ views: sql`${posts.views} + 10`, body: "updated" })
      .where(eq(posts.authorId, 1))
      .returning({ id: posts.id, views: posts.views, body: posts.body });
    assert.deepEqual(updated.sort((a, b) => a.id - b.id), [
      { id: 1, views: 10, body: "updated" },
      { id: 2, views: 10, body: "updated" },
    ]);
    const res = await db.update(users).set({ name: "Brian K." }).where(eq(users.id, 2));
    assert.equal(res.rowsAffected, 1);
    const [b] = await db.select({ name: users.name }).from(users).where(eq(users.id, 2));
    assert.equal(b.name, "Brian K.");
  });

  test("transaction commits on success", async () => {
    const newId = await db.transaction(async (tx) => {
      const [u] = await tx.insert(users).values({ name: "Dana", email: "dana@example.com" }).returning({ id: users.id });
      await tx.insert(posts).values({ authorId: u.id, title: "First", published: true });
      const inside = await tx.select({ n: count() }).from(posts).where(eq(posts.authorId, u.id));
      assert.equal(inside[0].n, 1);
      return u.id;
    });
    const rows = await db.select({ title: posts.title }).from(posts).where(eq(posts.authorId, newId));
    assert.deepEqual(rows, [{ title: "First" }]);
  });

  test("transaction rolls back when the callback throws or calls rollback()", async () => {
    const before = (await db.select({ n: count() }).from(users))[0].n;
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.insert(users).values({ name: "Eve", email: "eve@example.com" });
        throw new Error("app failure");
      }),
      /app failure/,
    );
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.insert(users).values({ name: "Eve2", email: "eve2@example.com" });
        tx.rollback();
      }),
    );
    const afterCount = (await db.select({ n: count() }).from(users))[0].n;
    assert.equal(afterCount, before);
    const eve = await db.select().from(users).where(like(users.email, "eve%"));
    assert.equal(eve.length, 0);
  });

  test("a failed statement in a transaction rolls the whole transaction back", async () => {
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.insert(users).values({ name: "Fay", email: "fay@example.com" });
        await tx.insert(users).values({ name: "Dup", email: "ada@example.com" }); // unique violation
      }),
    );
    const fay = await db.select().from(users).where(eq(users.email, "fay@example.com"));
    assert.equal(fay.length, 0);
  });

  test("nested transactions (savepoints): inner rollback keeps the outer work", async () => {
    await db.transaction(async (tx) => {
      await tx.insert(users).values({ name: "Gus", email: "gus@example.com" });
      await assert.rejects(
        tx.transaction(async (inner) => {
          await inner.insert(users).values({ name: "Hal", email: "hal@example.com" });
          throw new Error("inner failure");
        }),
        /inner failure/,
      );
      await tx.transaction(async (inner) => {
        await inner.insert(users).values({ name: "Ivy", email: "ivy@example.com" });
      });
    });
    const names = await db
      .select({ name: users.name })
      .from(users)
      .where(inArray(users.email, ["gus@example.com", "hal@example.com", "ivy@example.com"]))
      .orderBy(users.name);
    assert.deepEqual(names.map((r) => r.name), ["Gus", "Ivy"]);
  });

  test("db.batch runs atomically", async () => {
    const [ins, sel] = await db.batch([
      db.insert(users).values({ name: "Jo", email: "jo@example.com" }).returning({ id: users.id }),
      db.select({ n: count() }).from(users).where(eq(users.email, "jo@example.com")),
    ]);
    assert.equal(ins.length, 1);
    assert.equal(sel[0].n, 1);
    await assert.rejects(
      db.batch([
        db.insert(users).values({ name: "Kim", email: "kim@example.com" }),
        db.insert(users).values({ name: "Kim dup", email: "kim@example.com" }),
      ]),
    );
    const kim = await db.select().from(users).where(eq(users.email, "kim@example.com"));
    assert.equal(kim.length, 0);
  });

  test("delete", async () => {
    const deletedPosts = await db.delete(posts).where(eq(posts.authorId, 1)).returning({ id: posts.id });
    assert.deepEqual(deletedPosts.map((p) => p.id).sort(), [1, 2]);
    const res = await db.delete(users).where(eq(users.id, 1));
    assert.equal(res.rowsAffected, 1);
    const remaining = await db.select({ id: users.id }).from(users).where(eq(users.id, 1));
    assert.equal(remaining.length, 0);
    const postsLeft = await db.select({ n: count() }).from(posts);
    assert.equal(postsLeft[0].n, 2); // Brian's and Dana's
  });
});
