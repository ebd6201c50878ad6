#!/usr/bin/env bash
# The loadable extension in the distribution's sqlite3 shell: functions, an index, a search.
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
SQL
)
expected=$'0000803F00000040\n4,3\n3,1'
if [ "$out" != "$expected" ]; then
  echo "unexpected output:"; echo "$out"; exit 1
fi
echo ok
