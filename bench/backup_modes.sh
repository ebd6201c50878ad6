#!/usr/bin/env bash
# Single-row INSERT throughput through `cairn serve` with backups off and on (the default local
# directory store), measured round by round so that the machine's drift hits both alike.
# One command:
#
#   bench/backup_modes.sh [ROUNDS] [SECONDS]      (defaults: 5 rounds of 5 s per mode)
#
# Each round runs bench/run.sh --cairn-only --no-null once per mode (CAIRN_ARGS="--backup off",
# then the default) and reads the insert rate and server CPU per request from its JSON summary.
# Prints every round and the medians. Needs what bench/run.sh needs (wrk; `scripts/setup.sh bench`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-5}"
SECONDS_PER_RUN="${2:-5}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

field() {  # FILE MODE KEY → the number in the summary's cairn.insert object
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["cairn"]["insert"][sys.argv[2]])' "$1" "$2"
}

declare -A RPS CPU
for r in $(seq 1 "$ROUNDS"); do
  for mode in off on; do
    args=""
    [ "$mode" = off ] && args="--backup off"
    CAIRN_ARGS="$args" RESULTS="$OUT/$mode-$r.json" KEEP_TMP=0 \
      "$ROOT/bench/run.sh" --cairn-only --no-null -d "$SECONDS_PER_RUN" -r 1 > "$OUT/$mode-$r.log" 2>&1 ||
      { cat "$OUT/$mode-$r.log" >&2; exit 3; }
    RPS[$mode]+="$(field "$OUT/$mode-$r.json" per_second) "
    CPU[$mode]+="$(field "$OUT/$mode-$r.json" server_cpu_us) "
    printf 'round %d  backups %-3s  %8.0f inserts/s  %6.1f us server CPU per insert\n' "$r" "$mode" \
      "$(field "$OUT/$mode-$r.json" per_second)" "$(field "$OUT/$mode-$r.json" server_cpu_us)"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for mode in off on; do
  printf 'median  backups %-3s  %8.0f inserts/s  %6.1f us server CPU per insert\n' "$mode" \
    "$(echo "${RPS[$mode]}" | median)" "$(echo "${CPU[$mode]}" | median)"
done
