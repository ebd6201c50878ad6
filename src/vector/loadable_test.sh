#!/usr/bin/env bash
# The loadable extension in the distribution's sqlite3 shell: functions, an index, a search, a
# row removed by REPLACE (no delete trigger runs) never returned, the table renamed.
set -euo pipefail
ext="$1"
command -v sqlite3 >/dev/null || { echo "no sqlite3 shell: skipped"; exit 77; }
out=$(sqlite3 :memory: <<SQL
.load ${ext%.so}
SELECT hex(vector('[1,2]'));
CREATE TABLE t(v F32_BLOB(2));
INSERT INTO t VALUES (vector('[1,0]')), (vector('[0,1]')), (vector('[1,1]'));
CREATE VIRTUAL TABLE i USING libsql_vector_index(t, v, 'metric=cosine');
INSERT INTO t VALUES (vector('[2,1.9]'));
SELECT group_concat(id, ',') FROM vector_top_k('i', vector('[1,0.9]'), 2);
DELETE FROM t WHERE rowid = 4;
SELECT group_concat(id, ',') FROM vector_top_k('i', vector('[1,0.9]'), 2);
CREATE TABLE d(k TEXT UNIQUE, v F32_BLOB(2));
CREATE VIRTUAL TABLE di USING libsql_vector_index(d, v);
INSERT INTO d VALUES ('a', vector('[1,0]')), ('b', vector('[0,1]'));
INSERT OR REPLACE INTO d VALUES ('a', vector('[0,-1]'));
SELECT group_concat(id, ',') FROM vector_top_k('di', vector('[1,0]'), 2);
ALTER TABLE d RENAME TO e;
INSERT INTO e VALUES ('c', vector('[1,0.1]'));
SELECT group_concat(id, ',') FROM vector_top_k('di', vector('[1,0]'), 2);
SQL
)
expected=$'0000803F00000040\n4,3\n3,1\n2,3\n4,2'
if [ "$out" != "$expected" ]; then
  echo "unexpected output:"; echo "$out"; exit 1
fi
echo ok
