// StatementKind: what one SQL statement is, read once from its text before SQLite prepares it —
// its first keyword, whether it writes, whether it controls a transaction, whether it assigns a
// PRAGMA, whether it may be libSQL's vector-index DDL. Hrana's decoder classifies each statement
// it decodes; a replica routes requests by it (server/forwarding.h), engine::Session picks the
// connection by it and calls vector/'s rewrites only for what it marks as vector DDL. The server
// reads keywords from SQL text nowhere else.
//
// One lexer, SQLite's lexical rules: whitespace and comments (`--` to the end of the line,
// `/* */`) are skipped; '…', "…", `…` and […] are single tokens (a doubled quote stays inside);
// a word is letters, digits, `_`, `$` and any byte of a multi-byte UTF-8 character. Only the
// first statement of the text is read: it ends at the first `;` outside quotes and comments
// (leading empty statements, `;` alone, are skipped). The lexer reads no further than it needs:
// the first keyword for most statements, a WITH clause up to its statement, CREATE INDEX to its
// end.
//
// A classification is read from the text alone: it never replaces what SQLite says of a prepared
// statement (sqlite3_stmt_readonly), it only decides what must happen before preparing (a
// statement marked `writes` goes to the writer without a trial on a reader; a PRAGMA assignment
// must never be prepared on a reader, whose settings it would change at once).
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <string_view>

namespace cairn::sqlite {

// The first keyword of a statement, for the ones Cairn tells apart.
enum class Keyword : uint8_t {
  kNone,   // no statement: empty, or only whitespace, comments and semicolons
  kOther,  // any other first token
  kAlter,
  kAnalyze,
  kAttach,
  kBegin,
  kCommit,
  kCreate,
  kDelete,
  kDetach,
  kDrop,
  kEnd,
  kExplain,
  kInsert,
  kPragma,
  kReindex,
  kRelease,
  kReplace,
  kRollback,
  kSavepoint,
  kSelect,
  kUpdate,
  kVacuum,
  kValues,
  kWith,
};

enum class Transaction : uint8_t {
  kNone,
  kBegin,  // BEGIN [DEFERRED | IMMEDIATE | EXCLUSIVE] [TRANSACTION]
  // libSQL's BEGIN [TRANSACTION] READONLY [TRANSACTION], alone in the text (stock SQLite would
  // take READONLY for a transaction's name). Followed by another statement it is kBegin: SQLite
  // then refuses the text, as it refuses any two statements given as one.
  kBeginReadonly,
  kSavepoint,
  kCommit,    // COMMIT or END
  kRollback,  // ROLLBACK, ROLLBACK TO a savepoint
  kRelease,
};

// libSQL's vector-index DDL, as far as the text tells (vector/vector.h reads the schema and has
// the last word).
enum class VectorDdl : uint8_t {
  kNone,
  kCreateIndex,  // CREATE INDEX … naming libsql_vector_idx
  kDropIndex,    // DROP INDEX: of a vector index, if the schema says so
  kDropTable,    // DROP TABLE: of a table that may have vector indexes
};

struct StatementKind {
  Keyword keyword = Keyword::kNone;
  // Changes the database: INSERT, REPLACE, UPDATE, DELETE, CREATE, DROP, ALTER, VACUUM, REINDEX,
  // ANALYZE, or a WITH clause followed by one of the first four. (EXPLAIN never writes.)
  bool writes = false;
  Transaction transaction = Transaction::kNone;
  // PRAGMA [schema.]name = value or PRAGMA [schema.]name(value): may change the connection's
  // settings. Not the pragmas that only read with an argument (table_info(t), index_list(t),
  // integrity_check(n), … SQLite's "acts as a query when it has one argument").
  bool pragma_assignment = false;
  VectorDdl vector_ddl = VectorDdl::kNone;

  // BEGIN (not READONLY) or SAVEPOINT: opens a transaction that may write.
  bool opens_write_transaction() const {
    return transaction == Transaction::kBegin || transaction == Transaction::kSavepoint;
  }
  // COMMIT, END, ROLLBACK or RELEASE.
  bool ends_transaction() const {
    return transaction == Transaction::kCommit || transaction == Transaction::kRollback ||
           transaction == Transaction::kRelease;
  }
};

// Classifies the first statement of `sql`.
StatementKind ClassifyStatement(std::string_view sql);

// True when `sql` holds no statement: only whitespace, comments and semicolons.
bool HoldsNoStatement(std::string_view sql);

}  // namespace cairn::sqlite
