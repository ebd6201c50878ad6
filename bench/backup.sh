#!/usr/bin/env bash
# Cairn's backup targets in one command: what capturing and uploading every commit costs, how far
# the store lags behind commits (RPO), and how fast a database comes back (restore).
# See bench/README.md ("backup.sh") for what every number means.
#
#   bench/backup.sh [-d SECONDS] [-r REPEAT] [-c CONNECTIONS] [-t THREADS] [--only SECTIONS]
#
#   --only SECTIONS  comma-separated subset of capture,rpo,restore (default: all three)
#
# Targets, all measured in the same run:
#   capture  insert throughput (wrk, bench/wrk/hrana.lua `insert`) of the default server (transaction
#            log on, continuous upload to a file:// store) >= 90% of the same with
#            `--txlog false --backup off`; REPEAT alternating off/on runs, medians
#   rpo      at a paced RATE writes/s for DURATION s (bench/pace.mjs), p99 commit-to-store lag
#            (admin API GET /v1/backup) <= 1 s, for a file:// store and for s3rver; a run whose
#            achieved rate is below 95% of RATE, or with errors, is INVALID
#   restore  `cairn restore` of a SIZE_MB MiB database from a local store >= 200 MB/s (10^6 bytes);
#            restore of the latest state after TXNS single-row transactions (all replayed from the
#            generation's first snapshot) <= 10 s; medians of REPEAT restores
#
# Environment (flags win):
#   CAIRN_BIN       server binary (default build/src/cli/cairn; copied once at start, so that a
#                   relink during the run does not change it)
#   DURATION        seconds per capture run and per paced RPO run (default 20)
#   REPEAT          capture runs per mode, restores per database (default 3; medians reported)
#   CONNECTIONS     wrk connections (default 32), THREADS wrk threads (default 2)
#   WARMUP          seconds of unmeasured inserts before each capture run (default 2)
#   RATE            paced writes per second for the RPO runs (default 1000)
#   WORKERS         concurrent requests of the paced load (default 16)
#   PACE_CLIENT     HTTP client of the paced load: fetch (default, Node's global fetch) or http
#                   (node:http, about a third of fetch's CPU per request; see bench/pace.mjs)
#   SIZE_MB         size of the restore-speed database in MiB (default 256)
#   TXNS            transactions before the second restore (default 100000)
#   TXN_TIME_LIMIT  seconds allowed to commit them (default 300)
#   DRAIN_TIMEOUT   seconds to wait for the uploader to catch up after a paced run (default 30)
#   RESTORE_TIMEOUT seconds allowed for one restore (default 300)
#   S3RVER          s3rver's bin script (default tests/node/node_modules/s3rver/bin/s3rver.js)
#   RESULTS         JSON summary (default bench/results/backup-latest.json)
#   STRICT=1        exit 1 when a target FAILs (default: only invalid runs make the exit non-zero)
#   KEEP_TMP=1      keep the temporary directory (data directories, stores, logs)
#
# Installs nothing: it checks for curl, wrk, node (20+), s3rver and the Cairn binary (with its
# `restore` subcommand when the restore section runs) and stops with a clear message when one is
# missing. Talks only to 127.0.0.1; every wait is bounded; everything it starts is stopped on exit.
#
# Exit status: 0 done (targets may still FAIL), 1 a target FAILed with STRICT=1, 2 a run was
# invalid (errors, rate not reached, upload not caught up, restore failed), 3 setup problem.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"

DURATION="${DURATION:-20}"
REPEAT="${REPEAT:-3}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
WARMUP="${WARMUP:-2}"
RATE="${RATE:-1000}"
WORKERS="${WORKERS:-16}"
PACE_CLIENT="${PACE_CLIENT:-fetch}"
SIZE_MB="${SIZE_MB:-256}"
TXNS="${TXNS:-100000}"
TXN_TIME_LIMIT="${TXN_TIME_LIMIT:-300}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-30}"
RESTORE_TIMEOUT="${RESTORE_TIMEOUT:-300}"
S3RVER="${S3RVER:-$ROOT/tests/node/node_modules/s3rver/bin/s3rver.js}"
RESULTS="${RESULTS:-$BENCH/results/backup-latest.json}"
STRICT="${STRICT:-0}"
KEEP_TMP="${KEEP_TMP:-0}"
ONLY="capture,rpo,restore"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
need_arg() { [ $# -ge 2 ] || { echo "bench: $1 needs a value" >&2; exit 3; }; }

while [ $# -gt 0 ]; do
  case "$1" in
    -d|--duration) need_arg "$@"; DURATION="$2"; shift 2 ;;
    -r|--repeat) need_arg "$@"; REPEAT="$2"; shift 2 ;;
    -c|--connections) need_arg "$@"; CONNECTIONS="$2"; shift 2 ;;
    -t|--threads) need_arg "$@"; THREADS="$2"; shift 2 ;;
    --only) need_arg "$@"; ONLY="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; usage >&2; exit 3 ;;
  esac
done

die() { echo "bench: $*" >&2; exit 3; }
log() { echo "bench: $*" >&2; }

for v in DURATION REPEAT CONNECTIONS THREADS WARMUP RATE WORKERS SIZE_MB TXNS TXN_TIME_LIMIT DRAIN_TIMEOUT RESTORE_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
[ "$DURATION" -ge 1 ] || die "DURATION must be at least 1"
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"
[ "$THREADS" -ge 1 ] || die "THREADS must be at least 1"
[ "$CONNECTIONS" -ge "$THREADS" ] || die "CONNECTIONS must be at least THREADS"
[ "$RATE" -ge 1 ] || die "RATE must be at least 1"
[ "$WORKERS" -ge 1 ] || die "WORKERS must be at least 1"
[ "$SIZE_MB" -ge 1 ] || die "SIZE_MB must be at least 1"
[ "$TXNS" -ge 1 ] || die "TXNS must be at least 1"
[ "$PACE_CLIENT" = fetch ] || [ "$PACE_CLIENT" = http ] || die "PACE_CLIENT must be fetch or http"

DO_CAPTURE=0; DO_RPO=0; DO_RESTORE=0
IFS=',' read -r -a sections <<<"$ONLY"
for s in "${sections[@]}"; do
  case "$s" in
    capture) DO_CAPTURE=1 ;;
    rpo) DO_RPO=1 ;;
    restore) DO_RESTORE=1 ;;
    *) die "--only takes capture, rpo and/or restore, comma-separated (got '$ONLY')" ;;
  esac
done

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
CAIRN_BIN="${CAIRN_BIN:-build/src/cli/cairn}"
if [[ "$CAIRN_BIN" != /* ]]; then
  if [ -x "$PWD/$CAIRN_BIN" ]; then CAIRN_BIN="$PWD/$CAIRN_BIN"; else CAIRN_BIN="$ROOT/$CAIRN_BIN"; fi
fi

missing=()
command -v curl >/dev/null || missing+=("curl (Debian: curl)")
command -v timeout >/dev/null || missing+=("timeout (Debian: coreutils)")
command -v node >/dev/null || missing+=("node 20 or later (Debian: nodejs)")
[ -x "$CAIRN_BIN" ] || missing+=("the Cairn binary at $CAIRN_BIN (run 'make build' or set CAIRN_BIN)")
if [ "$DO_CAPTURE" = 1 ] || [ "$DO_RESTORE" = 1 ]; then
  command -v wrk >/dev/null || missing+=("wrk (Debian: wrk; 'scripts/setup.sh bench' installs it)")
fi
if [ "$DO_RPO" = 1 ]; then
  [ -f "$S3RVER" ] || missing+=("s3rver at ${S3RVER#"$ROOT"/} (run 'npm install' in tests/node)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  for m in "${missing[@]}"; do echo "bench: missing: $m" >&2; done
  die "install what is missing, then run again"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node 20 or later is needed for bench/pace.mjs (found $(node --version))"

# ---------------------------------------------------------------------------------------------
# Temporary state and cleanup
# ---------------------------------------------------------------------------------------------
WORK="$(mktemp -d /tmp/cairn-bench-backup.XXXXXX)"
CAIRN_PID=""
S3RVER_PID=""

stop_pid() {  # stop_pid PID: TERM, up to 10 s, then KILL
  local pid="$1"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
stop_cairn() { stop_pid "$CAIRN_PID"; CAIRN_PID=""; }
stop_s3rver() { stop_pid "$S3RVER_PID"; S3RVER_PID=""; }

cleanup() {
  local rc=$?
  stop_cairn
  stop_s3rver
  if [ "$KEEP_TMP" = 1 ]; then
    log "kept temporary files in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One copy of the binary for the whole run: a relink of build/ during the run changes nothing.
BIN="$WORK/cairn"
cp "$CAIRN_BIN" "$BIN" || die "cannot copy $CAIRN_BIN"
"$BIN" serve --help >/dev/null 2>&1 ||
  die "$CAIRN_BIN does not run (being relinked? wait for the build to finish and retry)"
# (A binary without the subcommand answers `restore --help` with its general help, exit 0.)
if [ "$DO_RESTORE" = 1 ] && ! "$BIN" restore --help 2>&1 | grep -q -e '--from'; then
  die "this cairn binary has no 'restore' subcommand; build one that has, or run '--only capture,rpo'"
fi

# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
median() {  # median of the numbers on stdin (mean of the two middle ones for an even count)
  sort -g | awk '{a[NR]=$1} END { if (NR==0) {print "null"; exit}
    if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'
}

field() {  # field KEY < "WRKRESULT k=v k=v ..." → v
  awk -v k="$1" '{ for (i=1;i<=NF;i++) { split($i, kv, "="); if (kv[1]==k) { print substr($i, length(k)+2); exit } } }'
}

# jget FILE KEY... → the values of the (dotted) keys of the JSON object in FILE, one per line;
# "null" for a missing key or a file that is not JSON.
jget() {
  local f="$1"; shift
  node -e '
    let o = null;
    try { o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch (e) {}
    for (const k of process.argv.slice(2)) {
      let v = o;
      for (const p of k.split(".")) v = (v === null || v === undefined) ? undefined : v[p];
      console.log(v === undefined || v === null ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v));
    }' "$f" "$@"
}

json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
json_num() { if [ -z "$1" ] || [ "$1" = null ]; then echo null; else echo "$1"; fi; }
json_list() { printf '[%s]' "$(paste -sd, -)"; }  # the numbers on stdin, one a line → a JSON array
json_or_null() { if [ -s "$1" ] && node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$1" 2>/dev/null; then tr -d '\n' < "$1"; else echo null; fi; }

INVALID=()  # names of invalid measurements, with the reason
invalid() { INVALID+=("$1"); log "INVALID $1: $2"; }
is_invalid() {
  local w
  for w in "${INVALID[@]+"${INVALID[@]}"}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'; }

# CPU accounting, as in run.sh: the server's CPU per request, and how much of the machine went to
# neither server nor client (a disturbance gauge).
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
NPROC="$(nproc)"
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
times_cpu_s() {  # children's user + system seconds from bash's `times` output in a file
  awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
                 print t }' "$1" 2>/dev/null || echo 0
}
DISTURBED_PCT=10
DISTURBED=0

free_load_warning() {
  local load
  load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)"
  if awk -v l="$load" -v n="$NPROC" 'BEGIN { exit !(l > n * 0.25) }'; then
    log "warning: 1-minute load average is $load on $NPROC cores before starting; other work on this machine skews results"
  fi
}

# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------
CAIRN_URL=""
ADMIN_URL=""
CAIRN_LOG=""

# start_cairn NAME [ENV=VALUE...] -- [serve options...]: a fresh server with data in $WORK/NAME/data.
# CAIRN_* and AWS_* variables of the caller's environment are not passed on: only what is given.
start_cairn() {
  local name="$1"; shift
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  mkdir -p "$WORK/$name"
  CAIRN_LOG="$WORK/$name/cairn.log"
  (
    for v in $(compgen -e); do case "$v" in CAIRN_*|AWS_*) unset "$v" ;; esac; done
    exec env ${envs[@]+"${envs[@]}"} "$BIN" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
      --data-dir "$WORK/$name/data" "$@"
  ) > "$CAIRN_LOG" 2>&1 &
  CAIRN_PID=$!
  local port="" admin="" i p
  for i in $(seq 1 150); do  # at most 15 s
    kill -0 "$CAIRN_PID" 2>/dev/null || { tail -20 "$CAIRN_LOG" >&2; die "cairn exited during startup ($name)"; }
    port="$(grep -oE 'Hrana on http://127\.0\.0\.1:[0-9]+' "$CAIRN_LOG" | head -1 | sed 's/.*://')" || true
    admin="$(grep -oE 'admin API on 127\.0\.0\.1:[0-9]+' "$CAIRN_LOG" | head -1 | sed 's/.*://')" || true
    if { [ -z "$port" ] || [ -z "$admin" ]; } && [ "$i" -gt 50 ] && command -v ss >/dev/null; then
      # Fallback when the startup log line has changed: ask each listening port of the process.
      for p in $(ss -Hltnp 2>/dev/null | grep "pid=$CAIRN_PID," | awk '{print $4}' | sed 's/.*://' | sort -un); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$p/v1/backup")" = 200 ]; then
          admin="$p"
        elif [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H 'Content-Type: application/json' \
                  --data-binary '{"requests":[]}' "http://127.0.0.1:$p/v2/pipeline")" = 200 ]; then
          port="$p"
        fi
      done
    fi
    if [ -n "$port" ] && [ -n "$admin" ] &&
       [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/health")" = 200 ]; then
      CAIRN_URL="http://127.0.0.1:$port"
      ADMIN_URL="http://127.0.0.1:$admin"
      return 0
    fi
    sleep 0.1
  done
  tail -20 "$CAIRN_LOG" >&2
  die "cairn ($name) did not answer GET /health within 15 s"
}

S3_PORT=""
start_s3rver() {  # s3rver on a kernel-chosen loopback port, bucket cairn-bench, data in $WORK/s3rver
  mkdir -p "$WORK/s3rver/data"
  # s3rver makes continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
  node --openssl-legacy-provider "$S3RVER" --silent --directory "$WORK/s3rver/data" --address 127.0.0.1 \
    --port 0 --service-endpoint localhost --configure-bucket cairn-bench > "$WORK/s3rver/s3rver.log" 2>&1 &
  S3RVER_PID=$!
  local i
  for i in $(seq 1 150); do  # at most 15 s
    kill -0 "$S3RVER_PID" 2>/dev/null || { cat "$WORK/s3rver/s3rver.log" >&2; die "s3rver exited during startup"; }
    S3_PORT="$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$WORK/s3rver/s3rver.log" | head -1)"
    if [ -n "$S3_PORT" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$S3_PORT/")" != 000 ]; then
      return 0
    fi
    sleep 0.1
  done
  cat "$WORK/s3rver/s3rver.log" >&2
  die "s3rver did not answer within 15 s"
}

# pipeline BODY → response body in $WORK/resp.json; dies on a transport error, non-200 or Hrana error
pipeline() {
  local code
  code="$(curl -sS --max-time 120 -o "$WORK/resp.json" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary "$1" "$CAIRN_URL/v2/pipeline")" ||
    die "request to $CAIRN_URL/v2/pipeline failed"
  if [ "$code" != 200 ] || grep -q '"type":"error"' "$WORK/resp.json"; then
    echo "bench: HTTP $code: $(head -c 1000 "$WORK/resp.json")" >&2
    die "setup request failed"
  fi
}
execute() {  # execute SQL (no quotes or backslashes in it)
  pipeline "{\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"$1\"}},{\"type\":\"close\"}]}"
}
create_insert_table() { execute "CREATE TABLE bench_insert(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)"; }

admin_get() {  # admin_get PATH OUTFILE
  curl -sS --max-time 10 -o "$2" "$ADMIN_URL$1" || die "GET $ADMIN_URL$1 failed"
}
backup_now() {  # POST /v1/namespaces/default/backup → $WORK/backup-now.json; dies unless 200
  local code
  code="$(curl -sS --max-time 300 -o "$WORK/backup-now.json" -w '%{http_code}' -X POST \
    "$ADMIN_URL/v1/namespaces/default/backup")" || die "POST /v1/namespaces/default/backup failed"
  [ "$code" = 200 ] || { cat "$WORK/backup-now.json" >&2; echo >&2; die "POST /v1/namespaces/default/backup: HTTP $code"; }
}
current_txid() { admin_get /v1/namespaces/default "$WORK/ns.json"; jget "$WORK/ns.json" txid; }

# run_wrk SECONDS OUTFILE: the insert workload against CAIRN_URL; prints "rps p50_us p99_us errors
# server_cpu_us other_pct requests" (errors: bad responses + socket errors; -1 if wrk failed)
run_wrk() {
  local secs="$1" out="$2" rc=0 cpu0 cpu1 busy0 busy1
  cpu0="$(cpu_ticks "$CAIRN_PID")"; busy0="$(busy_ticks)"
  # In a subshell so that `times` reports wrk's own CPU time.
  ( rc=0
    timeout --kill-after=5 $((secs + 30)) \
      wrk -t "$THREADS" -c "$CONNECTIONS" -d "${secs}s" --timeout 5s -s "$BENCH/wrk/hrana.lua" \
      "$CAIRN_URL" -- insert 100000 > "$out" 2>&1 || rc=$?
    times > "$out.times"
    exit "$rc" ) || rc=$?
  cpu1="$(cpu_ticks "$CAIRN_PID")"; busy1="$(busy_ticks)"
  local line
  line="$(grep '^WRKRESULT' "$out" || true)"
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    cat "$out" >&2
    echo "0 0 0 -1 0 0 0"
    return 0
  fi
  local errs reqs srv cli_s oth
  errs=$(( $(field non200 <<<"$line") + $(field hrana_errors <<<"$line") + $(field unexpected <<<"$line") + $(field socket_errors <<<"$line") ))
  [ "$errs" -gt 0 ] && { log "  $line"; grep '^WRKSAMPLE' "$out" | head -c 600 >&2 || true; echo >&2; }
  reqs="$(field requests <<<"$line")"
  cli_s="$(times_cpu_s "$out.times")"
  srv="$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0 }')"
  oth="$(awk -v b=$((busy1 - busy0)) -v sv=$((cpu1 - cpu0)) -v c="$cli_s" -v s="$secs" -v hz="$CLK_TCK" -v n="$NPROC" \
    'BEGIN { o = 100 * (b / hz - sv / hz - c) / (s * n); if (o < 0) o = 0; printf "%.0f", o }')"
  echo "$(field rps <<<"$line") $(field p50_us <<<"$line") $(field p99_us <<<"$line") $errs $srv $oth $reqs"
}

# ---------------------------------------------------------------------------------------------
# 1. Capture overhead
# ---------------------------------------------------------------------------------------------
CAP_OFF=(); CAP_ON=()   # per run: "rps p50_us p99_us errors server_cpu_us other_pct"
cap_summary() {  # cap_summary RUN... → "rps p50_ms p99_ms errors runs server_cpu_us other_pct_max" (medians)
  if [ $# -eq 0 ]; then echo "null null null 0 0 null null"; return; fi
  local rps p50 p99 errs srv oth
  rps="$(printf '%s\n' "$@" | awk '{print $1}' | median)"
  p50="$(printf '%s\n' "$@" | awk '{print $2}' | median)"
  p99="$(printf '%s\n' "$@" | awk '{print $3}' | median)"
  errs="$(printf '%s\n' "$@" | awk '{ s += ($4 < 0 ? 1 : $4) } END { print s + 0 }')"
  srv="$(printf '%s\n' "$@" | awk '{print $5}' | median)"
  oth="$(printf '%s\n' "$@" | awk 'NR == 1 || $6 > m { m = $6 } END { print m + 0 }')"
  awk -v r="$rps" -v a="$p50" -v b="$p99" -v e="$errs" -v n="$#" -v s="$srv" -v o="$oth" \
    'BEGIN { printf "%.0f %.3f %.3f %d %d %.1f %.0f\n", r, a / 1000, b / 1000, e, n, s, o }'
}

capture_run() {  # capture_run off|on RUN_NO
  local mode="$1" n="$2" name="capture-$1-$2"
  if [ "$mode" = off ]; then
    start_cairn "$name" -- --txlog false --backup off
  else
    # The default server: transaction log on, continuous upload to DATA_DIR/backups (file://).
    start_cairn "$name" -- --txlog true --backup "file://$WORK/$name/data/backups"
  fi
  create_insert_table
  [ "$WARMUP" -gt 0 ] && run_wrk "$WARMUP" "$WORK/$name/warmup.txt" > /dev/null
  local r
  r="$(run_wrk "$DURATION" "$WORK/$name/wrk.txt")"
  read -r rps p50 p99 errs srv oth reqs <<<"$r"
  if [ "$errs" != 0 ]; then
    invalid capture "$mode run $n: $([ "$errs" = -1 ] && echo "wrk failed" || echo "$errs bad responses or socket errors")"
  fi
  [ "$oth" -gt "$DISTURBED_PCT" ] && { DISTURBED=1; log "  warning: ${oth}% of the CPU went to other processes during this run"; }
  local extra=""
  if [ "$mode" = on ]; then
    admin_get /v1/backup "$WORK/$name/backup.json"
    read -r bl ue hl <<<"$(jget "$WORK/$name/backup.json" backlog_bytes upload_errors healthy | paste -sd' ')"
    extra="; backup: backlog ${bl} bytes, ${ue} upload errors, healthy ${hl}"
  fi
  printf 'bench:   %-3s run %d/%d: %9.0f inserts/s  p50 %7.3f ms  p99 %7.3f ms  errors %s  server CPU %s us/insert; other %s%%%s\n' \
    "$mode" "$n" "$REPEAT" "$rps" "$(awk -v x="$p50" 'BEGIN{print x/1000}')" "$(awk -v x="$p99" 'BEGIN{print x/1000}')" \
    "$errs" "$srv" "$oth" "$extra" >&2
  local line="$rps $p50 $p99 $errs $srv $oth"
  if [ "$mode" = off ]; then CAP_OFF+=("$line"); else CAP_ON+=("$line"); fi
  stop_cairn
}

bench_capture() {
  log "capture overhead: wrk insert, $CONNECTIONS connections, $THREADS threads, ${DURATION} s per run (+${WARMUP} s warm-up), $REPEAT runs per mode, alternating; a fresh server each run"
  local i
  for i in $(seq 1 "$REPEAT"); do
    capture_run off "$i"
    capture_run on "$i"
  done
}

# ---------------------------------------------------------------------------------------------
# 2. RPO: commit-to-store lag at a paced write rate
# ---------------------------------------------------------------------------------------------
rpo_run() {  # rpo_run file|s3rver → $WORK/rpo-KIND/{pace,backup}.json
  local kind="$1" name="rpo-$1"
  if [ "$kind" = file ]; then
    start_cairn "$name" -- --backup "file://$WORK/$name/store"
  else
    start_s3rver
    log "s3rver at 127.0.0.1:$S3_PORT"
    start_cairn "$name" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER -- \
      --backup "s3://cairn-bench/rpo?endpoint=http://127.0.0.1:$S3_PORT&path_style=true"
  fi
  create_insert_table
  local before
  admin_get /v1/backup "$WORK/$name/backup-before.json"
  before="$(jget "$WORK/$name/backup-before.json" lag_transactions)"
  log "rpo ($kind): $RATE writes/s for ${DURATION} s, $WORKERS concurrent requests ($PACE_CLIENT)"
  local rc=0
  timeout --kill-after=5 $((DURATION + 60)) node "$BENCH/pace.mjs" --url "$CAIRN_URL" --rate "$RATE" \
    --duration "$DURATION" --workers "$WORKERS" --client "$PACE_CLIENT" > "$WORK/$name/pace.json" 2> "$WORK/$name/pace.err" || rc=$?
  cat "$WORK/$name/pace.err" >&2
  if [ "$rc" != 0 ] || [ "$(jget "$WORK/$name/pace.json" ok)" = null ]; then
    invalid "rpo_$kind" "pace.mjs failed (exit $rc)"
    echo null > "$WORK/$name/pace.json"
  else
    read -r ok errs not_sent achieved <<<"$(jget "$WORK/$name/pace.json" ok errors not_sent achieved_rate | paste -sd' ')"
    [ "$errs" = 0 ] || invalid "rpo_$kind" "$errs failed writes ($(jget "$WORK/$name/pace.json" first_error | head -c 300))"
    [ "$not_sent" = 0 ] || invalid "rpo_$kind" "$not_sent writes not sent in time"
    if awk -v a="$achieved" -v r="$RATE" 'BEGIN { exit !(a < 0.95 * r) }'; then
      invalid "rpo_$kind" "achieved $achieved writes/s, below 95% of $RATE"
    fi
    # Wait (bounded) until every acknowledged write is in the store, so that the lag percentiles
    # cover all of them: the uploader counts a transaction once its object is uploaded.
    [[ "$before" =~ ^[0-9]+$ ]] || before=0
    local want=$((before + ok)) t0 have="0" backlog="?"
    [ "$want" -gt 100000 ] && want=100000  # the admin API keeps the last 100,000 transactions
    t0="$(now_ns)"
    while :; do
      admin_get /v1/backup "$WORK/$name/backup.json"
      read -r have backlog <<<"$(jget "$WORK/$name/backup.json" lag_transactions backlog_bytes | paste -sd' ')"
      if [ "$have" != null ] && [ "$have" -ge "$want" ] && [ "$backlog" = 0 ]; then break; fi
      if awk -v s="$(secs_since "$t0")" -v m="$DRAIN_TIMEOUT" 'BEGIN { exit !(s > m) }'; then
        invalid "rpo_$kind" "the store had not caught up ${DRAIN_TIMEOUT} s after the load ($have of $want transactions uploaded, backlog $backlog bytes)"
        break
      fi
      sleep 0.2
    done
    log "rpo ($kind): caught up $(secs_since "$t0") s after the load; $(jget "$WORK/$name/backup.json" lag_p50_ms lag_p99_ms lag_max_ms | paste -sd/ ) ms lag p50/p99/max over $have transactions"
  fi
  [ -s "$WORK/$name/backup.json" ] || admin_get /v1/backup "$WORK/$name/backup.json"
  stop_cairn
  [ "$kind" = s3rver ] && stop_s3rver
  return 0
}

bench_rpo() {
  rpo_run file
  rpo_run s3rver
}

# ---------------------------------------------------------------------------------------------
# 3. Restore
# ---------------------------------------------------------------------------------------------
# time_restores NAME STORE_DIR WANT_TXID → REPEAT timed restores of `default`; the wall seconds of
# each appended to $WORK/NAME/restore-seconds, the last --json output in $WORK/NAME/restore.json
time_restores() {
  local name="$1" store="$2" want="$3" out="$WORK/$1/restored.sqlite" i rc t0 secs got
  : > "$WORK/$name/restore-seconds"
  for i in $(seq 1 "$REPEAT"); do
    rm -f "$out" "$out"-* "$out".*
    sync  # the previous output's dirty pages are not flushed inside the next timed restore
    rc=0
    t0="$(now_ns)"
    timeout --kill-after=5 "$RESTORE_TIMEOUT" "$BIN" restore default --from "file://$store" -o "$out" --json \
      > "$WORK/$name/restore.json" 2> "$WORK/$name/restore.err" || rc=$?
    secs="$(secs_since "$t0")"
    got="$(jget "$WORK/$name/restore.json" txid)"
    if [ "$rc" != 0 ] || [ "$got" != "$want" ]; then
      cat "$WORK/$name/restore.json" "$WORK/$name/restore.err" >&2
      invalid "$name" "restore $i/$REPEAT: exit $rc, restored txid $got (want $want)"
      return 0
    fi
    echo "$secs" >> "$WORK/$name/restore-seconds"
    log "  restore $i/$REPEAT: $secs s (restore says $(jget "$WORK/$name/restore.json" seconds) s), txid $got, $(stat -c %s "$out") bytes"
  done
}

SPEED_DB_BYTES=null
bench_restore_speed() {
  local name="restore-speed" store="$WORK/restore-speed/store"
  start_cairn "$name" -- --backup "file://$store"
  execute "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)"
  local rows=$((SIZE_MB * 16)) done=0 n t0  # 16 rows of 64 KiB per MiB
  log "restore speed: building a ${SIZE_MB} MiB database ($rows rows of randomblob(65536), 100 per transaction)"
  t0="$(now_ns)"
  while [ "$done" -lt "$rows" ]; do
    n=$((rows - done)); [ "$n" -gt 100 ] && n=100
    execute "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $n) INSERT INTO t(b) SELECT randomblob(65536) FROM c"
    done=$((done + n))
  done
  log "  built in $(secs_since "$t0") s"
  backup_now
  local gen txid
  read -r gen txid <<<"$(jget "$WORK/backup-now.json" generation txid | paste -sd' ')"
  log "  backed up: generation $gen, txid $txid"
  stop_cairn
  SPEED_DB_BYTES="$(stat -c %s "$WORK/$name/data/databases/default/data.sqlite")"
  log "  database file: $SPEED_DB_BYTES bytes; $REPEAT timed restores from the local store"
  echo "$txid" > "$WORK/$name/txid"
  time_restores "$name" "$store" "$txid"
}

TXN_START=null; TXN_END=null; TXN_SNAPSHOT=null; TXN_COMMIT_S=null
bench_restore_txns() {
  local name="restore-txns" store="$WORK/restore-txns/store"
  start_cairn "$name" -- --backup "file://$store"
  create_insert_table
  TXN_START="$(current_txid)"
  local target=$((TXN_START + TXNS)) t0 txid chunk rate
  log "restore after $TXNS transactions: wrk insert until the log's txid passes $target (at most ${TXN_TIME_LIMIT} s)"
  t0="$(now_ns)"
  txid="$TXN_START"; chunk=3
  while [ "$txid" -lt "$target" ]; do
    if awk -v s="$(secs_since "$t0")" -v m="$TXN_TIME_LIMIT" 'BEGIN { exit !(s > m) }'; then
      invalid restore-txns "only $((txid - TXN_START)) of $TXNS transactions in ${TXN_TIME_LIMIT} s"
      stop_cairn
      return 0
    fi
    read -r _ _ _ errs _ _ _ <<<"$(run_wrk "$chunk" "$WORK/$name/wrk-$(now_ns).txt")"
    if [ "$errs" != 0 ]; then invalid restore-txns "wrk: $errs errors while committing"; stop_cairn; return 0; fi
    txid="$(current_txid)"
    # Size the next chunk to what is left at the rate seen so far (1 to 30 s).
    rate="$(awk -v d=$((txid - TXN_START)) -v s="$(secs_since "$t0")" 'BEGIN { r = 1000; if (s > 0 && d > 0) r = d / s; print r }')"
    chunk="$(awk -v left=$((target - txid)) -v r="$rate" 'BEGIN { c = int(left / r * 1.1) + 1; if (c < 1) c = 1; if (c > 30) c = 30; print c }')"
  done
  TXN_COMMIT_S="$(secs_since "$t0")"
  backup_now
  read -r gen TXN_END <<<"$(jget "$WORK/backup-now.json" generation txid | paste -sd' ')"
  log "  $((TXN_END - TXN_START)) transactions in $TXN_COMMIT_S s; backed up: generation $gen, txid $TXN_END"
  stop_cairn
  # The snapshot a restore of the latest state starts from: the newest one at or before the
  # target in the generation (file names: <txid, 16 hex>-<time>.csnap).
  local f t best=""
  for f in "$store"/default/"$gen"/snapshots/*.csnap; do
    [ -e "$f" ] || continue
    t=$((16#$(basename "$f" | cut -d- -f1)))
    if [ "$t" -le "$TXN_END" ] && { [ -z "$best" ] || [ "$t" -gt "$best" ]; }; then best="$t"; fi
  done
  TXN_SNAPSHOT="${best:-0}"
  log "  newest snapshot at txid $TXN_SNAPSHOT: a restore replays $((TXN_END - TXN_SNAPSHOT)) transactions; $REPEAT timed restores"
  time_restores "$name" "$store" "$TXN_END"
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
MODEL="$(lscpu 2>/dev/null | sed -nE 's/^Model name:[[:space:]]+//p' | head -1)"
DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
GITREV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then GITREV="$GITREV+dirty"; fi
BIN_ID="sha256 $(sha256sum "$BIN" | cut -c1-12), built $(date -u -r "$CAIRN_BIN" +%Y-%m-%dT%H:%M:%SZ)"
log "$DATE, $NPROC cores ($MODEL), commit $GITREV; cairn binary $BIN_ID"
log "sections: $ONLY; DURATION ${DURATION} s, REPEAT $REPEAT, RATE $RATE/s, SIZE_MB $SIZE_MB, TXNS $TXNS"
free_load_warning

[ "$DO_CAPTURE" = 1 ] && bench_capture
[ "$DO_RPO" = 1 ] && bench_rpo
if [ "$DO_RESTORE" = 1 ]; then
  bench_restore_speed
  bench_restore_txns
fi

# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------
verdict() {  # verdict VALUE ge|le TARGET NAME... → PASS / FAIL / INVALID / n/a
  local v="$1" op="$2" t="$3"; shift 3
  local w
  for w in "$@"; do is_invalid "$w" && { echo INVALID; return; }; done
  if [ "$v" = null ] || [ -z "$v" ]; then echo "n/a"; return; fi
  awk -v v="$v" -v t="$t" -v op="$op" 'BEGIN { ok = (op == "ge") ? (v >= t) : (v <= t); print ok ? "PASS" : "FAIL" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b + 0 == 0) print "null"; else printf "%.3f\n", a / b }'; }

# capture
read -r off_rps off_p50 off_p99 off_err off_n off_srv off_oth <<<"$(cap_summary ${CAP_OFF[@]+"${CAP_OFF[@]}"})"
read -r on_rps on_p50 on_p99 on_err on_n on_srv on_oth <<<"$(cap_summary ${CAP_ON[@]+"${CAP_ON[@]}"})"
cap_ratio="$(ratio "$on_rps" "$off_rps")"
v_cap="$(verdict "$cap_ratio" ge 0.90 capture)"
if [ "$DISTURBED" = 1 ] && { [ "$v_cap" = PASS ] || [ "$v_cap" = FAIL ]; }; then v_cap="$v_cap (disturbed)"; fi
cap_runs() { local r; for r in "$@"; do awk '{ printf "%.0f\n", $1 }' <<<"$r"; done; }  # per-run inserts/s

# rpo
rpo_vals() {  # rpo_vals KIND → "achieved errors client_p50 client_p99 late_p99 client_cpu lag_p50 lag_p99 lag_max lag_txns"
  local d="$WORK/rpo-$1"
  if [ ! -s "$d/pace.json" ]; then echo "null null null null null null null null null null"; return; fi
  echo "$(jget "$d/pace.json" achieved_rate errors latency_ms.p50 latency_ms.p99 late_ms.p99 client_cpu_us | paste -sd' ') $(
    jget "$d/backup.json" lag_p50_ms lag_p99_ms lag_max_ms lag_transactions | paste -sd' ')"
}
read -r rf_rate rf_err rf_cp50 rf_cp99 rf_late rf_cpu rf_l50 rf_l99 rf_lmax rf_ln <<<"$(rpo_vals file)"
read -r rs_rate rs_err rs_cp50 rs_cp99 rs_late rs_cpu rs_l50 rs_l99 rs_lmax rs_ln <<<"$(rpo_vals s3rver)"
v_rpo_file="$(verdict "$rf_l99" le 1000 rpo_file)"
v_rpo_s3="$(verdict "$rs_l99" le 1000 rpo_s3rver)"

# restore
restore_median() { if [ -s "$WORK/$1/restore-seconds" ]; then median < "$WORK/$1/restore-seconds"; else echo null; fi; }
restore_runs() { if [ -s "$WORK/$1/restore-seconds" ]; then cat "$WORK/$1/restore-seconds"; fi; }
sp_s="$(restore_median restore-speed)"
sp_mbs="$(awk -v b="$SPEED_DB_BYTES" -v s="$sp_s" 'BEGIN { if (b == "null" || s == "null" || s + 0 == 0) print "null"; else printf "%.1f\n", b / 1e6 / s }')"
v_speed="$(verdict "$sp_mbs" ge 200 restore-speed)"
tx_s="$(restore_median restore-txns)"
tx_replayed=null
[ "$TXN_END" != null ] && [ "$TXN_SNAPSHOT" != null ] && tx_replayed=$((TXN_END - TXN_SNAPSHOT))
tx_committed=null
[ "$TXN_END" != null ] && [ "$TXN_START" != null ] && tx_committed=$((TXN_END - TXN_START))
v_txns="$(verdict "$tx_s" le 10 restore-txns)"
if [ "$tx_replayed" != null ] && [ "$tx_replayed" -lt 100000 ] && [[ "$v_txns" == PASS || "$v_txns" == FAIL ]]; then
  v_txns="$v_txns (only $tx_replayed replayed)"  # a short validation run (TXNS < 100000) is no verdict
fi
if [ "$SPEED_DB_BYTES" != null ] && [ "$SIZE_MB" -lt 256 ] && [[ "$v_speed" == PASS || "$v_speed" == FAIL ]]; then
  v_speed="$v_speed (${SIZE_MB} MiB only)"
fi

nn() { if [ -z "$1" ] || [ "$1" = null ]; then echo "-"; else echo "$1"; fi; }
echo
echo "Cairn backup targets — $DATE — $NPROC cores, $MODEL — commit $GITREV"
echo "cairn binary: $BIN_ID"
if [ "$DO_CAPTURE" = 1 ]; then
  echo
  echo "Capture overhead: wrk single-row INSERT, $CONNECTIONS connections, $THREADS threads, ${DURATION} s per run, median of $REPEAT alternating runs"
  printf '%-44s %10s %8s %8s %6s %4s %10s %6s\n' "server" "inserts/s" "p50 ms" "p99 ms" "errors" "runs" "cpu us/ins" "other"
  printf '%-44s %10s %8s %8s %6s %4s %10s %6s\n' "--txlog false --backup off" "$off_rps" "$off_p50" "$off_p99" "$off_err" "$off_n" "$off_srv" "$off_oth%"
  printf '%-44s %10s %8s %8s %6s %4s %10s %6s\n' "default (txlog + upload to file://)" "$on_rps" "$on_p50" "$on_p99" "$on_err" "$on_n" "$on_srv" "$on_oth%"
fi
if [ "$DO_RPO" = 1 ]; then
  echo
  echo "RPO: paced $RATE single-row INSERTs/s for ${DURATION} s ($WORKERS concurrent, $PACE_CLIENT), commit-to-store lag (ms) from GET /v1/backup"
  rpo_row() { printf '%-8s %9s %6s %10s %10s %9s %9s %9s %9s %9s %9s\n' "$@"; }
  rpo_row "store" "writes/s" "errors" "client p50" "client p99" "late p99" "client us" "lag p50" "lag p99" "lag max" "lag txns"
  rpo_row "file://" "$(nn "$rf_rate")" "$(nn "$rf_err")" "$(nn "$rf_cp50")" "$(nn "$rf_cp99")" "$(nn "$rf_late")" "$(nn "$rf_cpu")" "$(nn "$rf_l50")" "$(nn "$rf_l99")" "$(nn "$rf_lmax")" "$(nn "$rf_ln")"
  rpo_row "s3rver" "$(nn "$rs_rate")" "$(nn "$rs_err")" "$(nn "$rs_cp50")" "$(nn "$rs_cp99")" "$(nn "$rs_late")" "$(nn "$rs_cpu")" "$(nn "$rs_l50")" "$(nn "$rs_l99")" "$(nn "$rs_lmax")" "$(nn "$rs_ln")"
  echo "(client p50/p99: send to response, ms; late p99: how far behind its schedule a write was sent, ms;"
  echo " client us: the load generator's CPU per write, on the same cores as the server)"
fi
if [ "$DO_RESTORE" = 1 ]; then
  echo
  echo "Restore from a local-directory store (cairn restore --json; wall time, median of $REPEAT)"
  printf '%-34s %14s %14s %10s %10s  %s\n' "database" "bytes" "txns replayed" "seconds" "MB/s" "runs (s)"
  printf '%-34s %14s %14s %10s %10s  %s\n' "${SIZE_MB} MiB of 64 KiB blobs" "$(nn "$SPEED_DB_BYTES")" "-" "$(nn "$sp_s")" "$(nn "$sp_mbs")" "$(restore_runs restore-speed | paste -sd' ')"
  printf '%-34s %14s %14s %10s %10s  %s\n' "after $(nn "$tx_committed") single-row txns" "-" "$(nn "$tx_replayed")" "$(nn "$tx_s")" "-" "$(restore_runs restore-txns | paste -sd' ')"
fi
echo
printf '%-48s %9s %9s  %s\n' "target" "value" "target" "result"
[ "$DO_CAPTURE" = 1 ] && printf '%-48s %9s %9s  %s\n' "capture: inserts/s on / off" "$(nn "$cap_ratio")" ">= 0.90" "$v_cap"
[ "$DO_RPO" = 1 ] && printf '%-48s %9s %9s  %s\n' "RPO: p99 commit-to-store lag, file:// (ms)" "$(nn "$rf_l99")" "<= 1000" "$v_rpo_file"
[ "$DO_RPO" = 1 ] && printf '%-48s %9s %9s  %s\n' "RPO: p99 commit-to-store lag, s3rver (ms)" "$(nn "$rs_l99")" "<= 1000" "$v_rpo_s3"
[ "$DO_RESTORE" = 1 ] && printf '%-48s %9s %9s  %s\n' "restore speed (MB/s, 10^6 bytes)" "$(nn "$sp_mbs")" ">= 200" "$v_speed"
[ "$DO_RESTORE" = 1 ] && printf '%-48s %9s %9s  %s\n' "restore after $TXNS transactions (s)" "$(nn "$tx_s")" "<= 10" "$v_txns"
echo
if [ "$DO_RPO" = 1 ]; then
  echo "Lag: per transaction, from its commit to the upload of the object holding it (the uploader"
  echo "counts each object at its oldest commit: an upper bound)."
fi
if [ "$DO_RESTORE" = 1 ]; then
  echo "Restore: wall time of the whole 'cairn restore' process, from a store on the local disk (most"
  echo "likely in the page cache); MB/s = the database file's bytes / 10^6 / wall seconds."
fi
if [ "$DISTURBED" = 1 ]; then
  echo
  echo "WARNING: other processes used more than ${DISTURBED_PCT}% of the CPU during some capture runs; rerun on a quiet machine."
fi
if [ "${#INVALID[@]}" -gt 0 ]; then
  echo
  echo "INVALID: $(printf '%s\n' "${INVALID[@]}" | sort -u | tr '\n' ' ')— see the messages above."
fi

# JSON summary
mkdir -p "$(dirname "$RESULTS")"
invalid_json="[$(for w in "${INVALID[@]+"${INVALID[@]}"}"; do printf '"%s"\n' "$w"; done | sort -u | paste -sd, -)]"
cap_json() {  # cap_json RPS P50 P99 ERR N SRV OTH RUN...
  local a=("$@")
  printf '{"per_second": %s, "p50_ms": %s, "p99_ms": %s, "errors": %s, "runs": %s, "server_cpu_us": %s, "other_cpu_pct_max": %s, "per_second_runs": %s}' \
    "$(json_num "${a[0]}")" "$(json_num "${a[1]}")" "$(json_num "${a[2]}")" "$(json_num "${a[3]}")" "$(json_num "${a[4]}")" \
    "$(json_num "${a[5]}")" "$(json_num "${a[6]}")" "$(cap_runs "${a[@]:7}" | json_list)"
}
rpo_json() {  # rpo_json KIND VERDICT
  local d="$WORK/rpo-$1"
  printf '{"pace": %s, "backup_status": %s, "lag_p99_target_ms": 1000, "result": %s}' \
    "$(json_or_null "$d/pace.json")" "$(json_or_null "$d/backup.json")" "$(json_str "$2")"
}
{
  echo "{"
  echo "  \"date\": $(json_str "$DATE"),"
  echo "  \"commit\": $(json_str "$GITREV"),"
  echo "  \"cairn_binary\": $(json_str "$BIN_ID"),"
  echo "  \"machine\": {\"nproc\": $NPROC, \"cpu\": $(json_str "$MODEL"), \"kernel\": $(json_str "$(uname -r)")},"
  echo "  \"settings\": {\"sections\": $(json_str "$ONLY"), \"duration_s\": $DURATION, \"repeat\": $REPEAT, \"connections\": $CONNECTIONS, \"threads\": $THREADS, \"warmup_s\": $WARMUP, \"rate\": $RATE, \"workers\": $WORKERS, \"size_mb\": $SIZE_MB, \"txns\": $TXNS},"
  if [ "$DO_CAPTURE" = 1 ]; then
    echo "  \"capture\": {"
    echo "    \"off\": $(cap_json "$off_rps" "$off_p50" "$off_p99" "$off_err" "$off_n" "$off_srv" "$off_oth" ${CAP_OFF[@]+"${CAP_OFF[@]}"}),"
    echo "    \"on\": $(cap_json "$on_rps" "$on_p50" "$on_p99" "$on_err" "$on_n" "$on_srv" "$on_oth" ${CAP_ON[@]+"${CAP_ON[@]}"}),"
    echo "    \"ratio\": $(json_num "$cap_ratio"), \"target\": 0.9, \"result\": $(json_str "$v_cap")"
    echo "  },"
  fi
  if [ "$DO_RPO" = 1 ]; then
    echo "  \"rpo\": {"
    echo "    \"file\": $(rpo_json file "$v_rpo_file"),"
    echo "    \"s3rver\": $(rpo_json s3rver "$v_rpo_s3")"
    echo "  },"
  fi
  if [ "$DO_RESTORE" = 1 ]; then
    echo "  \"restore_speed\": {\"size_mb\": $SIZE_MB, \"db_bytes\": $(json_num "$SPEED_DB_BYTES"), \"seconds\": $(json_num "$sp_s"), \"seconds_runs\": $(restore_runs restore-speed | json_list), \"mb_per_s\": $(json_num "$sp_mbs"), \"target_mb_per_s\": 200, \"result\": $(json_str "$v_speed"), \"cairn_restore\": $(json_or_null "$WORK/restore-speed/restore.json")},"
    echo "  \"restore_txns\": {\"committed\": $(json_num "$tx_committed"), \"start_txid\": $(json_num "$TXN_START"), \"restored_txid\": $(json_num "$TXN_END"), \"snapshot_txid\": $(json_num "$TXN_SNAPSHOT"), \"replayed\": $(json_num "$tx_replayed"), \"commit_seconds\": $(json_num "$TXN_COMMIT_S"), \"seconds\": $(json_num "$tx_s"), \"seconds_runs\": $(restore_runs restore-txns | json_list), \"target_s\": 10, \"result\": $(json_str "$v_txns"), \"cairn_restore\": $(json_or_null "$WORK/restore-txns/restore.json")},"
  fi
  echo "  \"disturbed\": $([ "$DISTURBED" = 1 ] && echo true || echo false),"
  echo "  \"invalid\": $invalid_json"
  echo "}"
} > "$RESULTS.tmp"
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$RESULTS.tmp" ||
  { log "internal error: the JSON summary does not parse (kept as $RESULTS.tmp)"; exit 3; }
mv "$RESULTS.tmp" "$RESULTS"
echo
echo "summary written to ${RESULTS#"$ROOT"/}"

if [ "${#INVALID[@]}" -gt 0 ]; then exit 2; fi
if [ "$STRICT" = 1 ]; then
  for v in "$v_cap" "$v_rpo_file" "$v_rpo_s3" "$v_speed" "$v_txns"; do [[ "$v" == FAIL* ]] && exit 1; done
fi
exit 0
