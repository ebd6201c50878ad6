#!/usr/bin/env bash
# Cairn vs PostgreSQL 15: the whole HTTP comparison in one command (`make bench` runs it after
# building). See docs/benchmarks.md for what every number means.
#
#   bench/run.sh [-d SECONDS] [-c CONNECTIONS] [-t THREADS] [-r REPEAT] [--cairn-only] [--pg-only]
#                [--pg-tcp] [--no-null]
#
# Environment (flags win):
#   CAIRN_BIN    server binary (default build/src/cli/cairn)
#   NULL_BIN     bench/null_server.cc's binary (default build/bench/null_server): an HTTP server
#                that does no work and answers every request with Cairn's own answer to a point
#                select, measured with the same wrk script: the machine's ceiling for any server
#   DURATION     seconds per measured run (default 10)
#   CONNECTIONS  concurrent connections = pgbench clients (default 32)
#   THREADS      wrk threads = pgbench threads (default 2)
#   REPEAT       measured runs per workload; the median is reported (default 3)
#   WARMUP       seconds of unmeasured warm-up before each system's runs (default 2)
#   ROWS         rows in the point-select table (default 100000 = pgbench scale 1)
#   PG_BIN       PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#   PG_SAMPLING  fraction of pgbench transactions logged for percentiles (default 0.1)
#   PG_TRANSPORT unix (default: Unix socket) or tcp (127.0.0.1, like Cairn's clients)
#   RESULTS      JSON summary (default bench/results/latest.json)
#   STRICT=1     exit 1 when a target FAILs (default: only invalid runs make the exit non-zero)
#   KEEP_TMP=1   keep the temporary directories (server data, logs) for inspection
#   CAIRN_ARGS   extra `cairn serve` flags, e.g. "--backup off" (bench/backup_modes.sh uses it)
#   AUTH=1       run Cairn with JWT authentication (cairn keygen / token create; every request
#                carries a read-write token for the benchmarked database)
#
# Installs nothing: it checks for wrk, pgbench and PostgreSQL 15 and stops with a clear message
# when one is missing (`scripts/setup.sh bench` installs them). Talks only to 127.0.0.1 and a
# Unix socket in its own temporary directory; every wait is bounded; everything it starts is
# stopped on exit.
#
# Exit status: 0 done (targets may still FAIL), 1 a target FAILed with STRICT=1, 2 a run was
# invalid (errors in responses), 3 setup problem (tool missing, server did not start, ...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
REPEAT="${REPEAT:-3}"
WARMUP="${WARMUP:-2}"
ROWS="${ROWS:-100000}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_SAMPLING="${PG_SAMPLING:-0.1}"
PG_TRANSPORT="${PG_TRANSPORT:-unix}"
RESULTS="${RESULTS:-$BENCH/results/latest.json}"
STRICT="${STRICT:-0}"
KEEP_TMP="${KEEP_TMP:-0}"
AUTH="${AUTH:-0}"
RUN_CAIRN=1
RUN_PG=1
RUN_NULL=1

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
need_arg() { [ $# -ge 2 ] || { echo "bench: $1 needs a value" >&2; exit 3; }; }

while [ $# -gt 0 ]; do
  case "$1" in
    -d|--duration) need_arg "$@"; DURATION="$2"; shift 2 ;;
    -c|--connections) need_arg "$@"; CONNECTIONS="$2"; shift 2 ;;
    -t|--threads) need_arg "$@"; THREADS="$2"; shift 2 ;;
    -r|--repeat) need_arg "$@"; REPEAT="$2"; shift 2 ;;
    --cairn-only) RUN_PG=0; shift ;;
    --pg-only) RUN_CAIRN=0; shift ;;
    --pg-tcp) PG_TRANSPORT=tcp; shift ;;
    --no-null) RUN_NULL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; usage >&2; exit 3 ;;
  esac
done

die() { echo "bench: $*" >&2; exit 3; }
log() { echo "bench: $*" >&2; }

for v in DURATION CONNECTIONS THREADS REPEAT WARMUP ROWS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
[ "$DURATION" -ge 1 ] || die "DURATION must be at least 1"
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"
[ "$THREADS" -ge 1 ] || die "THREADS must be at least 1"
[ "$CONNECTIONS" -ge "$THREADS" ] || die "CONNECTIONS must be at least THREADS"
[ "$ROWS" -ge 1 ] || die "ROWS must be at least 1"
[ "$PG_TRANSPORT" = unix ] || [ "$PG_TRANSPORT" = tcp ] || die "PG_TRANSPORT must be unix or tcp"

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
CAIRN_BIN="${CAIRN_BIN:-build/src/cli/cairn}"
if [[ "$CAIRN_BIN" != /* ]]; then
  if [ -x "$PWD/$CAIRN_BIN" ]; then CAIRN_BIN="$PWD/$CAIRN_BIN"; else CAIRN_BIN="$ROOT/$CAIRN_BIN"; fi
fi
NULL_BIN="${NULL_BIN:-build/bench/null_server}"
if [[ "$NULL_BIN" != /* ]]; then
  if [ -x "$PWD/$NULL_BIN" ]; then NULL_BIN="$PWD/$NULL_BIN"; else NULL_BIN="$ROOT/$NULL_BIN"; fi
fi
[ "$RUN_CAIRN" = 1 ] || RUN_NULL=0  # it answers with what Cairn answered

missing=()
command -v curl >/dev/null || missing+=("curl (Debian: curl)")
command -v timeout >/dev/null || missing+=("timeout (Debian: coreutils)")
if [ "$RUN_CAIRN" = 1 ]; then
  [ -x "$CAIRN_BIN" ] || missing+=("the Cairn binary at $CAIRN_BIN (run 'make build' or set CAIRN_BIN)")
  [ "$RUN_NULL" = 0 ] || [ -x "$NULL_BIN" ] ||
    missing+=("the null server at $NULL_BIN (run 'make build', set NULL_BIN, or pass --no-null)")
  command -v wrk >/dev/null || missing+=("wrk (Debian: wrk)")
fi
if [ "$RUN_PG" = 1 ]; then
  for b in initdb pg_ctl postgres psql pgbench; do
    [ -x "$PG_BIN/$b" ] || missing+=("$PG_BIN/$b (Debian: postgresql-15)")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  for m in "${missing[@]}"; do echo "bench: missing: $m" >&2; done
  die "install what is missing with 'scripts/setup.sh bench' (as root or with sudo)"
fi
if [ "$RUN_PG" = 1 ]; then
  pg_major="$("$PG_BIN/postgres" --version | awk '{print $3}' | cut -d. -f1)"
  [ "$pg_major" = 15 ] || die "expected PostgreSQL 15 in $PG_BIN, found: $("$PG_BIN/postgres" --version)"
fi

# ---------------------------------------------------------------------------------------------
# Temporary state and cleanup
# ---------------------------------------------------------------------------------------------
WORK="$(mktemp -d /tmp/cairn-bench.XXXXXX)"
PGROOT=""
CAIRN_PID=""
NULL_PID=""
PG_STARTED=0
PG_USER=""

as_pg() {  # runs a command as the PostgreSQL owner (PostgreSQL refuses to run as root)
  if [ -n "$PG_USER" ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

stop_cairn() {
  if [ -n "$CAIRN_PID" ] && kill -0 "$CAIRN_PID" 2>/dev/null; then
    kill -TERM "$CAIRN_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$CAIRN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CAIRN_PID" 2>/dev/null || true
    wait "$CAIRN_PID" 2>/dev/null || true
  fi
  CAIRN_PID=""
}

stop_pg() {
  if [ "$PG_STARTED" = 1 ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGROOT/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    PG_STARTED=0
  fi
}

stop_null() {
  if [ -n "$NULL_PID" ] && kill -0 "$NULL_PID" 2>/dev/null; then
    kill -KILL "$NULL_PID" 2>/dev/null || true
    wait "$NULL_PID" 2>/dev/null || true
  fi
  NULL_PID=""
}

cleanup() {
  local rc=$?
  stop_cairn
  stop_null
  stop_pg
  if [ "$KEEP_TMP" = 1 ]; then
    log "kept temporary files in $WORK ${PGROOT:+and $PGROOT}"
  else
    rm -rf "$WORK"
    [ -n "$PGROOT" ] && rm -rf "$PGROOT"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/runs"

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

# record NAME RPS P50_US P99_US ERRORS SERVER_CPU_US CLIENT_CPU_US OTHER_PCT: one measured run
record() { echo "$2 $3 $4 $5 $6 $7 $8" >> "$WORK/runs/$1"; }

# summarize NAME → "rps p50_ms p99_ms errors runs server_cpu_us client_cpu_us other_pct"
# (the median of each metric over the runs, independently; errors summed; other_pct the largest)
summarize() {
  local f="$WORK/runs/$1"
  if [ ! -s "$f" ]; then echo "null null null null 0 null null null"; return; fi
  local rps p50 p99 errs n srv cli oth
  rps="$(awk '{print $1}' "$f" | median)"
  p50="$(awk '{print $2}' "$f" | median)"
  p99="$(awk '{print $3}' "$f" | median)"
  errs="$(awk '{s+=$4} END {print s+0}' "$f")"
  srv="$(awk '{print $5}' "$f" | median)"
  cli="$(awk '{print $6}' "$f" | median)"
  oth="$(awk 'NR == 1 || $7 > m { m = $7 } END { print m + 0 }' "$f")"
  n="$(wc -l < "$f")"
  awk -v r="$rps" -v a="$p50" -v b="$p99" -v e="$errs" -v n="$n" -v s="$srv" -v c="$cli" -v o="$oth" \
    'BEGIN { printf "%.0f %.3f %.3f %d %d %.1f %.1f %.0f\n", r, a/1000, b/1000, e, n, s, c, o }'
}

INVALID=()  # names of workloads with errors

# CPU accounting, so that the numbers can be read per request and not only per second: the
# client (wrk, pgbench) runs on the same cores as the server and takes its share.
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
cpu_ticks() {  # user + system clock ticks used so far by process $1 (all its threads)
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
busy_ticks() {  # clock ticks all cores spent not idle so far (/proc/stat)
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
times_cpu_s() {  # the children's user + system seconds from a file holding bash's `times` output
  awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
                 print t }' "$1" 2>/dev/null || echo 0
}
# other_pct BUSY_TICKS SERVER_TICKS CLIENT_SECONDS SECONDS → % of the machine's capacity used by
# neither the server nor the client during a run (other processes, interrupts): a disturbance gauge.
other_pct() {
  awk -v b="$1" -v sv="$2" -v c="$3" -v s="$4" -v hz="$CLK_TCK" -v n="$(nproc)" \
    'BEGIN { o = 100 * (b / hz - sv / hz - c) / (s * n); if (o < 0) o = 0; printf "%.0f\n", o }'
}
DISTURBED_PCT=10  # a run with more "other" CPU than this is flagged

per_request_us() {  # per_request_us TICKS_OR_SECONDS UNIT(ticks|s) REQUESTS → microseconds per request
  awk -v x="$1" -v u="$2" -v hz="$CLK_TCK" -v n="$3" \
    'BEGIN { if (n <= 0) { print 0; exit } s = (u == "ticks") ? x / hz : x; printf "%.1f\n", s * 1e6 / n }'
}

free_load_warning() {
  local load
  load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)"
  if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n * 0.25) }'; then
    log "warning: 1-minute load average is $load on $(nproc) cores before starting; other work on this machine skews results"
  fi
}

# ---------------------------------------------------------------------------------------------
# Cairn
# ---------------------------------------------------------------------------------------------
CAIRN_URL=""

start_cairn() {
  mkdir -p "$WORK/cairn-data"
  local auth_args=()
  if [ "$AUTH" = 1 ]; then
    "$CAIRN_BIN" keygen --private-key "$WORK/jwt.pem" --public-key "$WORK/jwt.pub.pem" >/dev/null ||
      die "cairn keygen failed"
    AUTH_TOKEN="$("$CAIRN_BIN" token create --key "$WORK/jwt.pem" --db default)" || die "cairn token create failed"
    export AUTH_TOKEN  # read by bench/wrk/hrana.lua
    auth_args=(--auth-jwt-key-file "$WORK/jwt.pub.pem")
  fi
  # Port 0: the kernel picks free loopback ports; the server logs the ones it got.
  "$CAIRN_BIN" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --data-dir "$WORK/cairn-data" \
    "${auth_args[@]}" ${CAIRN_ARGS:-} > "$WORK/cairn.log" 2>&1 &
  CAIRN_PID=$!
  local port=""
  local i
  for i in $(seq 1 150); do  # at most 15 s
    kill -0 "$CAIRN_PID" 2>/dev/null || { cat "$WORK/cairn.log" >&2; die "cairn exited during startup"; }
    port="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$WORK/cairn.log" | head -1 | sed 's/.*://')" || true
    if [ -z "$port" ] && [ "$i" -gt 50 ] && command -v ss >/dev/null; then
      # Fallback when the startup log line has changed: the listening port of the process that
      # answers an empty Hrana pipeline (the admin port does not).
      for p in $(ss -Hltnp 2>/dev/null | grep "pid=$CAIRN_PID," | awk '{print $4}' | sed 's/.*://' | sort -un); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H 'Content-Type: application/json' \
                --data-binary '{"requests":[]}' "http://127.0.0.1:$p/v2/pipeline")" = 200 ]; then
          port="$p"; break
        fi
      done
    fi
    if [ -n "$port" ] &&
       [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/health")" = 200 ]; then
      CAIRN_URL="http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  cat "$WORK/cairn.log" >&2
  die "cairn did not answer GET /health within 15 s"
}

# The null server (bench/null_server.cc): the same wrk runs against a server that does no work.

# pipeline BODY → response body (fails on non-200)
pipeline() {
  local out code
  out="$(curl -sS --max-time 120 -o "$WORK/resp.json" -w '%{http_code}' \
    -H 'Content-Type: application/json' ${AUTH_TOKEN:+-H "Authorization: Bearer $AUTH_TOKEN"} \
    --data-binary "$1" "$CAIRN_URL/v2/pipeline")" ||
    die "request to $CAIRN_URL/v2/pipeline failed"
  code="$out"
  if [ "$code" != 200 ]; then
    echo "bench: HTTP $code: $(head -c 1000 "$WORK/resp.json")" >&2
    die "seeding request failed"
  fi
  cat "$WORK/resp.json"
}

seed_cairn() {
  # One request: schema plus ROWS rows generated by a recursive CTE in a single INSERT (one
  # transaction), then a count to check.
  local sql="DROP TABLE IF EXISTS bench; DROP TABLE IF EXISTS bench_insert;"
  sql+=" CREATE TABLE bench(id INTEGER PRIMARY KEY, v TEXT);"
  sql+=" CREATE TABLE bench_insert(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);"
  sql+=" WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $ROWS)"
  sql+=" INSERT INTO bench(id, v) SELECT x, printf('bench-row-payload-%07d', x) FROM n;"
  local body="{\"requests\":[{\"type\":\"sequence\",\"sql\":\"$sql\"},"
  body+="{\"type\":\"execute\",\"stmt\":{\"sql\":\"SELECT count(*) FROM bench\"}},{\"type\":\"close\"}]}"
  local resp
  resp="$(pipeline "$body")"
  if grep -q '"type":"error"' <<<"$resp"; then
    echo "bench: $resp" | head -c 2000 >&2; echo >&2
    die "seeding returned a Hrana error"
  fi
  grep -q "\"value\":\"$ROWS\"" <<<"$resp" || { echo "bench: $resp" | head -c 2000 >&2; die "seeding: count(*) is not $ROWS"; }
}

# run_wrk NAME MODE SECONDS MEASURED(0|1) [SERVER_PID URL SYSTEM]: against Cairn unless told
run_wrk() {
  local name="$1" mode="$2" secs="$3" measured="$4"
  local pid="${5:-$CAIRN_PID}" url="${6:-$CAIRN_URL}" system="${7:-cairn}"
  local out="$WORK/wrk-$system-$name-$(date +%s%N).txt"
  local rc=0 cpu0 cpu1 busy0 busy1
  cpu0="$(cpu_ticks "$pid")"; busy0="$(busy_ticks)"
  # In a subshell so that `times` reports wrk's own CPU time.
  ( rc=0
    timeout --kill-after=5 $((secs + 30)) \
      wrk -t "$THREADS" -c "$CONNECTIONS" -d "${secs}s" --timeout 5s -s "$BENCH/wrk/hrana.lua" \
      "$url" -- "$mode" "$ROWS" > "$out" 2>&1 || rc=$?
    times > "$out.times"
    exit "$rc" ) || rc=$?
  cpu1="$(cpu_ticks "$pid")"; busy1="$(busy_ticks)"
  local line
  line="$(grep '^WRKRESULT' "$out" || true)"
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    cat "$out" >&2
    log "wrk $mode failed (exit $rc)"
    INVALID+=("${system}_$name")
    [ "$measured" = 1 ] && record "${system}_$name" 0 0 0 1 0 0 0
    return 0
  fi
  local rps p50 p99 errs
  rps="$(field rps <<<"$line")"; p50="$(field p50_us <<<"$line")"; p99="$(field p99_us <<<"$line")"
  errs=$(( $(field non200 <<<"$line") + $(field hrana_errors <<<"$line") + $(field unexpected <<<"$line") + $(field socket_errors <<<"$line") ))
  if [ "$errs" -gt 0 ]; then
    log "wrk $mode: $errs bad responses or socket errors — run marked invalid"
    log "  $line"
    grep '^WRKSAMPLE' "$out" | head -c 600 >&2 || true
    echo >&2
    INVALID+=("${system}_$name")
  fi
  if [ "$measured" = 1 ]; then
    local reqs srv cli cli_s idle oth
    reqs="$(field requests <<<"$line")"
    cli_s="$(times_cpu_s "$out.times")"
    srv="$(per_request_us $((cpu1 - cpu0)) ticks "$reqs")"  # the server process, all threads
    cli="$(per_request_us "$cli_s" s "$reqs")"              # wrk
    idle="$(awk -v b=$((busy1 - busy0)) -v hz="$CLK_TCK" -v s="$secs" -v n="$(nproc)" \
      'BEGIN { i = 100 - 100 * b / hz / (s * n); if (i < 0) i = 0; printf "%.0f", i }')"
    oth="$(other_pct $((busy1 - busy0)) $((cpu1 - cpu0)) "$cli_s" "$secs")"
    record "${system}_$name" "$rps" "$p50" "$p99" "$errs" "$srv" "$cli" "$oth"
    printf 'bench:   %-18s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  errors %d  CPU us/request: server %s, wrk %s; idle %s%%, other %s%%\n' \
      "$system $mode" "$rps" "$(awk -v x="$p50" 'BEGIN{print x/1000}')" "$(awk -v x="$p99" 'BEGIN{print x/1000}')" "$errs" \
      "$srv" "$cli" "$idle" "$oth" >&2
    if [ "$oth" -gt "$DISTURBED_PCT" ]; then log "  warning: ${oth}% of the CPU went to other processes during this run"; fi
  fi
}


# ---------------------------------------------------------------------------------------------
# PostgreSQL 15
# ---------------------------------------------------------------------------------------------
PGSOCK=""
PGHOST_ARGS=()  # how clients reach the server: -h SOCKETDIR, or -h 127.0.0.1 -p PORT

free_tcp_port() {  # a loopback port nothing listens on (bounded number of tries)
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! ss -Hltn 2>/dev/null | awk '{print $4}' | grep -q ":$p\$"; then echo "$p"; return 0; fi
  done
  return 1
}

start_pg() {
  PGROOT="$(mktemp -d /tmp/cairn-bench-pg.XXXXXX)"
  if [ "$(id -u)" = 0 ]; then
    if id postgres >/dev/null 2>&1; then
      PG_USER=postgres
    else
      id cairnbench >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin cairnbench ||
        die "cannot create a user to run PostgreSQL as"
      PG_USER=cairnbench
    fi
    chown "$PG_USER" "$PGROOT"
  fi
  chmod 700 "$PGROOT"
  PGSOCK="$PGROOT/sock"
  as_pg mkdir -p "$PGSOCK"
  log "initdb in $PGROOT (as ${PG_USER:-$(id -un)})"
  as_pg "$PG_BIN/initdb" -D "$PGROOT/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    > "$WORK/initdb.log" 2>&1 || as_pg "$PG_BIN/initdb" -D "$PGROOT/data" -U postgres --auth=trust -E UTF8 --locale=C \
    > "$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
  local maxconn=$((CONNECTIONS + 20))
  [ "$maxconn" -lt 100 ] && maxconn=100
  # No TCP listener: clients use the Unix socket in our directory. fsync, synchronous_commit,
  # shared_buffers and everything else stay at PostgreSQL's defaults.
  local listen="''" port=5432
  PGHOST_ARGS=(-h "$PGSOCK")
  if [ "$PG_TRANSPORT" = tcp ]; then
    command -v ss >/dev/null || die "--pg-tcp needs ss (Debian: iproute2) to find a free port"
    port="$(free_tcp_port)" || die "no free loopback port found for PostgreSQL"
    listen=127.0.0.1
    PGHOST_ARGS=(-h 127.0.0.1 -p "$port")
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/postgres.log" -w -t 60 \
    -o "-c listen_addresses=$listen -p $port -k $PGSOCK -c max_connections=$maxconn" start > "$WORK/pg_ctl.log" 2>&1 ||
    { cat "$WORK/pg_ctl.log" "$PGROOT/postgres.log" >&2 2>/dev/null; die "PostgreSQL did not start"; }
  PG_STARTED=1
}

pg_cpu_ticks() {  # CPU ticks used so far by the PostgreSQL instance: the postmaster, the children it
                  # has reaped (cutime/cstime: exited backends) and its live children
  local pm
  pm="$(head -1 "$PGROOT/data/postmaster.pid" 2>/dev/null)" || { echo 0; return; }
  {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$pm/stat" 2>/dev/null
    for c in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
      awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$c/stat" 2>/dev/null
    done
  } | awk '{ s += $1 } END { print s + 0 }'
}
pg_children() {
  local pm
  pm="$(head -1 "$PGROOT/data/postmaster.pid" 2>/dev/null)" || { echo 0; return; }
  wc -w < "/proc/$pm/task/$pm/children" 2>/dev/null || echo 0
}

psql_q() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "${PGHOST_ARGS[@]}" -U postgres -d postgres -At "$@"; }

# run_pgbench NAME SECONDS MEASURED(0|1) [pgbench options...]
run_pgbench() {
  local name="$1" secs="$2" measured="$3"; shift 3
  local dir="$WORK/pglog-$name-$(date +%s%N)"
  mkdir -p "$dir"
  [ -n "$PG_USER" ] && chown "$PG_USER" "$dir"
  local out="$dir/out.txt" rc=0 busy0 busy1 pg0 pg1 kids
  kids="$(pg_children)"
  busy0="$(busy_ticks)"; pg0="$(pg_cpu_ticks)"
  # In a subshell so that `times` reports pgbench's own CPU time.
  ( rc=0
    cd "$dir" && timeout --kill-after=5 $((secs + 60)) \
      "$PG_BIN/pgbench" "${PGHOST_ARGS[@]}" -U postgres -c "$CONNECTIONS" -j "$THREADS" -T "$secs" -M prepared \
      -l --sampling-rate="$PG_SAMPLING" --log-prefix="$dir/tx" "$@" postgres > "$out" 2>&1 || rc=$?
    times > "$dir/times"
    exit "$rc" ) || rc=$?
  # Let the backends of this run exit and be reaped, so that their CPU time is counted.
  for _ in $(seq 1 50); do [ "$(pg_children)" -le "$kids" ] && break; sleep 0.1; done
  busy1="$(busy_ticks)"; pg1="$(pg_cpu_ticks)"
  local tps failed cli_s
  tps="$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$out" | tail -1)"
  failed="$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$out" | tail -1)"
  [ -n "$failed" ] || failed=0
  if [ "$rc" != 0 ] || [ -z "$tps" ] || [ "$failed" != 0 ] || grep -qi 'aborted' "$out"; then
    cat "$out" >&2
    log "pgbench $name: exit $rc, failed transactions $failed — run marked invalid"
    INVALID+=("pg_$name")
    [ "$measured" = 1 ] && record "pg_$name" "${tps:-0}" 0 0 1 0 0 0
    return 0
  fi
  # Per-transaction log: "client tx_no latency_us script_no epoch_s epoch_us" (sampled).
  local lat="$dir/lat.txt" n p50 p99
  cat "$dir"/tx.* 2>/dev/null | awk '{print $3}' | sort -n > "$lat"
  n="$(wc -l < "$lat")"
  if [ "$n" -gt 0 ]; then
    p50="$(awk -v n="$n" 'NR == int((n - 1) * 0.50) + 1 { print; exit }' "$lat")"
    p99="$(awk -v n="$n" 'NR == int((n - 1) * 0.99) + 1 { print; exit }' "$lat")"
  else
    p50=0; p99=0
  fi
  if [ "$measured" = 1 ]; then
    # PostgreSQL's CPU: all processes of the instance (one backend per client, plus the WAL
    # writer, checkpointer, ...). The window also holds pgbench's connection setup and exit.
    local txs srv cli oth
    txs="$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$out" | tail -1)"
    cli_s="$(times_cpu_s "$dir/times")"
    cli="$(per_request_us "$cli_s" s "${txs:-0}")"
    srv="$(per_request_us $((pg1 - pg0)) ticks "${txs:-0}")"
    oth="$(other_pct $((busy1 - busy0)) $((pg1 - pg0)) "$cli_s" "$secs")"
    record "pg_$name" "$tps" "$p50" "$p99" 0 "$srv" "$cli" "$oth"
    printf 'bench:   %-12s %9.0f tx/s   p50 %7.3f ms  p99 %7.3f ms  CPU us/tx: server %s, pgbench %s; other %s%% (%d latencies sampled)\n' \
      "$name" "$tps" "$(awk -v x="$p50" 'BEGIN{print x/1000}')" "$(awk -v x="$p99" 'BEGIN{print x/1000}')" \
      "$srv" "$cli" "$oth" "$n" >&2
    if [ "$oth" -gt "$DISTURBED_PCT" ]; then log "  warning: ${oth}% of the CPU went to other processes during this run"; fi
  fi
  rm -f "$dir"/tx.* "$lat"
}


# ---------------------------------------------------------------------------------------------
# The phases. Every system is set up first and stays up (idle while another is measured); then the
# measured runs go round by round — in each round Cairn's reads, the null server's select and
# PostgreSQL's select, within seconds of each other — so that a machine whose speed drifts (this
# one's did, by 2x within half an hour, mostly for PostgreSQL) weighs on all of them alike. The
# writes come last, round by round too, so that what they leave behind does not weigh on reads.
# ---------------------------------------------------------------------------------------------
NULL_URL=""

cairn_setup() {
  log "starting cairn ($CAIRN_BIN)"
  start_cairn
  log "cairn at $CAIRN_URL; seeding $ROWS rows"
  local t0 t1
  t0="$(date +%s%N)"
  seed_cairn
  t1="$(date +%s%N)"
  log "seeded in $(( (t1 - t0) / 1000000 )) ms"
  # Cairn's answer to one point select, byte for byte: what the null server will send.
  pipeline '{"requests":[{"type":"execute","stmt":{"sql":"SELECT id, v FROM bench WHERE id = ?","args":[{"type":"integer","value":"1"}]}},{"type":"close"}]}' \
    > "$WORK/select-answer.json"
  if [ "$WARMUP" -gt 0 ]; then
    log "cairn warm-up ${WARMUP} s"
    run_wrk select select "$WARMUP" 0
  fi
}

cairn_teardown() {
  local cnt
  cnt="$(pipeline '{"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM bench_insert"}},{"type":"close"}]}' |
    grep -oE '"value":"[0-9]+"' | head -1 | grep -oE '[0-9]+')" || cnt="?"
  log "cairn: bench_insert holds $cnt rows after the insert runs"
  stop_cairn
}

null_setup() {
  log "starting the null server ($NULL_BIN), answering with Cairn's select answer ($(wc -c < "$WORK/select-answer.json") bytes)"
  local port i
  port="$(( 20000 + RANDOM % 20000 ))"
  "$NULL_BIN" --port "$port" --body "$WORK/select-answer.json" > "$WORK/null.log" 2>&1 &
  NULL_PID=$!
  for i in $(seq 1 50); do  # at most 5 s
    kill -0 "$NULL_PID" 2>/dev/null || { cat "$WORK/null.log" >&2; log "the null server did not start: skipped"; NULL_PID=""; RUN_NULL=0; return 0; }
    grep -q '^listening' "$WORK/null.log" && break
    sleep 0.1
  done
  NULL_URL="http://127.0.0.1:$port"
  [ "$WARMUP" -gt 0 ] && run_wrk select select "$WARMUP" 0 "$NULL_PID" "$NULL_URL" null
  return 0
}

pg_setup() {
  start_pg
  log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') at ${PGHOST_ARGS[*]} ($PG_TRANSPORT); pgbench -i -s 1"
  "$PG_BIN/pgbench" "${PGHOST_ARGS[@]}" -U postgres -i -s 1 -q postgres > "$WORK/pgbench-init.log" 2>&1 ||
    { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
  psql_q -c "DROP TABLE IF EXISTS bench_insert" \
         -c "CREATE TABLE bench_insert(id bigserial PRIMARY KEY, k integer, v text)" ||
    die "creating bench_insert failed"
  local rows
  rows="$(psql_q -c "SELECT count(*) FROM pgbench_accounts")"
  log "pgbench_accounts holds $rows rows"
  # The same statement shape as Cairn's insert: one row, one transaction, k random, v constant.
  cat > "$WORK/insert.sql" <<'SQL'
\set k random(1, 100000)
INSERT INTO bench_insert(k, v) VALUES (:k, 'benchmark row value');
SQL
  chmod 644 "$WORK/insert.sql"
  if [ "$WARMUP" -gt 0 ]; then
    log "postgres warm-up ${WARMUP} s"
    run_pgbench select "$WARMUP" 0 -S
  fi
}

pg_teardown() {
  log "postgres: bench_insert holds $(psql_q -c 'SELECT count(*) FROM bench_insert') rows after the insert runs"
  stop_pg
}

run_rounds() {
  local i
  for i in $(seq 1 "$REPEAT"); do
    log "reads, round $i/$REPEAT (${DURATION} s each, $CONNECTIONS connections/clients, $THREADS client threads)"
    if [ "$RUN_CAIRN" = 1 ]; then
      run_wrk health health "$DURATION" 1
      run_wrk select select "$DURATION" 1
    fi
    [ "$RUN_NULL" = 1 ] && run_wrk select select "$DURATION" 1 "$NULL_PID" "$NULL_URL" null
    [ "$RUN_PG" = 1 ] && run_pgbench select "$DURATION" 1 -S
  done
  [ "$RUN_NULL" = 1 ] && stop_null
  for i in $(seq 1 "$REPEAT"); do
    log "writes, round $i/$REPEAT"
    [ "$RUN_CAIRN" = 1 ] && run_wrk insert insert "$DURATION" 1
    if [ "$RUN_PG" = 1 ]; then
      run_pgbench insert "$DURATION" 1 -n -f "$WORK/insert.sql"
      PGOPTIONS="-c synchronous_commit=off" run_pgbench insert_async "$DURATION" 1 -n -f "$WORK/insert.sql"
    fi
  done
  return 0
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
MODEL="$(lscpu 2>/dev/null | sed -nE 's/^Model name:[[:space:]]+//p' | head -1)"
NPROC="$(nproc)"
DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
GITREV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then GITREV="$GITREV+dirty"; fi
# The commit says what the tree is; the binary may have been built from something else.
BIN_ID="not run"
if [ "$RUN_CAIRN" = 1 ]; then
  BIN_ID="sha256 $(sha256sum "$CAIRN_BIN" | cut -c1-12), built $(date -u -r "$CAIRN_BIN" +%Y-%m-%dT%H:%M:%SZ)"
fi
log "$DATE, $NPROC cores ($MODEL), commit $GITREV; cairn binary $BIN_ID"
log "each measured run: ${DURATION} s, $CONNECTIONS connections/clients, $THREADS client threads; $REPEAT runs, median reported"
free_load_warning
if [ "$DURATION" -lt 5 ]; then
  log "warning: runs shorter than 5 s are dominated by start-up (pgbench connects its $CONNECTIONS clients inside the run); for a smoke test only"
fi

[ "$RUN_CAIRN" = 1 ] && cairn_setup
[ "$RUN_NULL" = 1 ] && null_setup
[ "$RUN_PG" = 1 ] && pg_setup
run_rounds
[ "$RUN_CAIRN" = 1 ] && cairn_teardown
[ "$RUN_PG" = 1 ] && pg_teardown

# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------
read -r h_rps h_p50 h_p99 h_err h_n h_srv h_cli h_oth <<<"$(summarize cairn_health)"
read -r s_rps s_p50 s_p99 s_err s_n s_srv s_cli s_oth <<<"$(summarize cairn_select)"
read -r i_rps i_p50 i_p99 i_err i_n i_srv i_cli i_oth <<<"$(summarize cairn_insert)"
read -r n_rps n_p50 n_p99 n_err n_n n_srv n_cli n_oth <<<"$(summarize null_select)"
read -r ps_rps ps_p50 ps_p99 ps_err ps_n ps_srv ps_cli ps_oth <<<"$(summarize pg_select)"
read -r pi_rps pi_p50 pi_p99 pi_err pi_n pi_srv pi_cli pi_oth <<<"$(summarize pg_insert)"
read -r pa_rps pa_p50 pa_p99 pa_err pa_n pa_srv pa_cli pa_oth <<<"$(summarize pg_insert_async)"

ratio() {  # ratio A B → A/B with 3 decimals (the verdict compares this, not a rounder value), or null
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b + 0 == 0) print "null"; else printf "%.3f\n", a / b }'
}
verdict() {  # verdict RATIO TARGET WORKLOADS... → PASS / FAIL / INVALID / n/a
  local r="$1" t="$2"; shift 2
  local w
  for w in "$@"; do
    for bad in "${INVALID[@]+"${INVALID[@]}"}"; do [ "$bad" = "$w" ] && { echo INVALID; return; }; done
  done
  if [ "$r" = null ]; then echo "n/a"; return; fi
  awk -v r="$r" -v t="$t" 'BEGIN { print (r >= t) ? "PASS" : "FAIL" }'
}

r_sel="$(ratio "$s_rps" "$ps_rps")"
r_ceiling="$(ratio "$s_rps" "$h_rps")"
r_ins="$(ratio "$i_rps" "$pi_rps")"
r_null_pg="$(ratio "$n_rps" "$ps_rps")"
# The select ratio round by round (Cairn's and PostgreSQL's runs of one round are seconds apart).
round_ratios=""
if [ -s "$WORK/runs/cairn_select" ] && [ -s "$WORK/runs/pg_select" ]; then
  round_ratios="$(paste -d' ' <(awk '{print $1}' "$WORK/runs/cairn_select") <(awk '{print $1}' "$WORK/runs/pg_select") |
    awk '$2 > 0 { printf "%.3f\n", $1 / $2 }')"
fi
r_sel_rounds="$(if [ -n "$round_ratios" ]; then median <<<"$round_ratios"; else echo null; fi)"
r_sel_null="$(ratio "$s_rps" "$n_rps")"
r_ins_async="$(ratio "$i_rps" "$pa_rps")"
v_sel="$(verdict "$r_sel" 2.0 cairn_select pg_select)"
v_ceiling="$(verdict "$r_ceiling" 0.60 cairn_select cairn_health)"
disturbed=0
for o in "$h_oth" "$s_oth" "$i_oth" "$n_oth" "$ps_oth" "$pi_oth" "$pa_oth"; do
  if [ "$o" != null ] && [ "$o" -gt "$DISTURBED_PCT" ]; then disturbed=1; fi
done
if [ "$disturbed" = 1 ]; then  # a verdict from a disturbed run is not one
  [ "$v_sel" = PASS ] || [ "$v_sel" = FAIL ] && v_sel="$v_sel (disturbed)"
  [ "$v_ceiling" = PASS ] || [ "$v_ceiling" = FAIL ] && v_ceiling="$v_ceiling (disturbed)"
fi

row() {  # row LABEL RPS P50 P99 ERRORS RUNS SERVER_CPU_US CLIENT_CPU_US OTHER_PCT
  if [ "$2" = null ]; then printf '%-42s %10s\n' "$1" "not run"; return; fi
  printf '%-42s %10s %8s %8s %6s %4s %8s %8s %6s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9%"
}

echo
echo "Cairn vs PostgreSQL 15 — $DATE — $NPROC cores, $MODEL — commit $GITREV"
echo "cairn binary: $BIN_ID"
echo "${CONNECTIONS} connections/clients, ${THREADS} client threads, ${DURATION} s per run, median of ${REPEAT} runs"
echo
printf '%-42s %10s %8s %8s %6s %4s %8s %8s %6s\n' "" "" "" "" "" "" "server" "client" "other"
printf '%-42s %10s %8s %8s %6s %4s %8s %8s %6s\n' "workload" "per sec" "p50 ms" "p99 ms" "errors" "runs" "cpu us" "cpu us" "cpu"
row "cairn GET /health"                          "$h_rps" "$h_p50" "$h_p99" "$h_err" "$h_n" "$h_srv" "$h_cli" "$h_oth"
row "cairn point select (POST /v2/pipeline)"     "$s_rps" "$s_p50" "$s_p99" "$s_err" "$s_n" "$s_srv" "$s_cli" "$s_oth"
row "cairn single-row INSERT, autocommit"        "$i_rps" "$i_p50" "$i_p99" "$i_err" "$i_n" "$i_srv" "$i_cli" "$i_oth"
row "null server (no work), select answer"       "$n_rps" "$n_p50" "$n_p99" "$n_err" "$n_n" "$n_srv" "$n_cli" "$n_oth"
row "pg15  pgbench -S -M prepared"               "$ps_rps" "$ps_p50" "$ps_p99" "$ps_err" "$ps_n" "$ps_srv" "$ps_cli" "$ps_oth"
row "pg15  INSERT, synchronous_commit=on (dflt)" "$pi_rps" "$pi_p50" "$pi_p99" "$pi_err" "$pi_n" "$pi_srv" "$pi_cli" "$pi_oth"
row "pg15  INSERT, synchronous_commit=off"       "$pa_rps" "$pa_p50" "$pa_p99" "$pa_err" "$pa_n" "$pa_srv" "$pa_cli" "$pa_oth"
echo
printf '%-52s %7s %8s  %s\n' "ratio" "value" "target" "result"
printf '%-52s %7s %8s  %s\n' "cairn select / pg select (tx/s)" "$r_sel" ">= 2.0" "$v_sel"
printf '%-52s %7s %8s  %s\n' "cairn select / cairn GET /health" "$r_ceiling" ">= 0.6" "$v_ceiling"
printf '%-52s %7s %8s  %s\n' "  the same, round by round (median)" "$r_sel_rounds" "-" "rounds: $(echo $round_ratios)"
printf '%-52s %7s %8s  %s\n' "null server (no work) / pg select" "$r_null_pg" "-" "report only"
printf '%-52s %7s %8s  %s\n' "cairn select / null server" "$r_sel_null" "-" "report only"
printf '%-52s %7s %8s  %s\n' "cairn insert / pg insert (pg fsyncs each commit)" "$r_ins" "-" "report only"
printf '%-52s %7s %8s  %s\n' "cairn insert / pg insert (synchronous_commit=off)" "$r_ins_async" "-" "report only"
echo
echo "Durability is not equal: Cairn runs SQLite in WAL mode with synchronous=NORMAL, which does not"
echo "fsync on commit (a power loss can lose the last commits, never corrupt). PostgreSQL's default"
echo "fsyncs the WAL on every commit; synchronous_commit=off is the comparable setting."
if [ "$PG_TRANSPORT" = tcp ]; then pg_via="TCP on 127.0.0.1"; else pg_via="a Unix socket"; fi
echo "PostgreSQL's clients use $pg_via; Cairn's use TCP on 127.0.0.1. CPU columns: CPU time per"
echo "request/transaction of the server (Cairn's process; all of PostgreSQL's processes) and of the"
echo "client (wrk, pgbench), all on the same $NPROC cores; 'other': the largest share of the machine"
echo "used by anything else during a run (above ${DISTURBED_PCT}% the numbers are disturbed)."
if [ "$disturbed" = 1 ]; then
  echo
  echo "WARNING: other processes used more than ${DISTURBED_PCT}% of the CPU during some runs; rerun on a quiet machine."
fi
if [ "${#INVALID[@]}" -gt 0 ]; then
  echo
  echo "INVALID: errors in $(printf '%s\n' "${INVALID[@]}" | sort -u | tr '\n' ' ')— see the messages above."
fi

# JSON summary
json_num() { if [ "$1" = null ] || [ -z "$1" ]; then echo null; else echo "$1"; fi; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
wl() {  # wl RPS P50 P99 ERR N SERVER_CPU_US CLIENT_CPU_US OTHER_PCT
  printf '{"per_second": %s, "p50_ms": %s, "p99_ms": %s, "errors": %s, "runs": %s, "server_cpu_us": %s, "client_cpu_us": %s, "other_cpu_pct_max": %s}' \
    "$(json_num "$1")" "$(json_num "$2")" "$(json_num "$3")" "$(json_num "$4")" "$(json_num "$5")" \
    "$(json_num "$6")" "$(json_num "$7")" "$(json_num "$8")"
}
mkdir -p "$(dirname "$RESULTS")"
invalid_json="[$(for w in "${INVALID[@]+"${INVALID[@]}"}"; do printf '"%s"\n' "$w"; done | sort -u | paste -sd, -)]"
{
  echo "{"
  echo "  \"date\": $(json_str "$DATE"),"
  echo "  \"commit\": $(json_str "$GITREV"),"
  echo "  \"cairn_binary\": $(json_str "$BIN_ID"),"
  echo "  \"machine\": {\"nproc\": $NPROC, \"cpu\": $(json_str "$MODEL"), \"kernel\": $(json_str "$(uname -r)")},"
  echo "  \"settings\": {\"duration_s\": $DURATION, \"connections\": $CONNECTIONS, \"threads\": $THREADS, \"repeat\": $REPEAT, \"warmup_s\": $WARMUP, \"rows\": $ROWS, \"pg_latency_sampling\": $PG_SAMPLING, \"pg_transport\": \"$PG_TRANSPORT\"},"
  echo "  \"cairn\": {"
  echo "    \"health\": $(wl "$h_rps" "$h_p50" "$h_p99" "$h_err" "$h_n" "$h_srv" "$h_cli" "$h_oth"),"
  echo "    \"select\": $(wl "$s_rps" "$s_p50" "$s_p99" "$s_err" "$s_n" "$s_srv" "$s_cli" "$s_oth"),"
  echo "    \"insert\": $(wl "$i_rps" "$i_p50" "$i_p99" "$i_err" "$i_n" "$i_srv" "$i_cli" "$i_oth")"
  echo "  },"
  echo "  \"null_server\": {"
  echo "    \"select\": $(wl "$n_rps" "$n_p50" "$n_p99" "$n_err" "$n_n" "$n_srv" "$n_cli" "$n_oth")"
  echo "  },"
  echo "  \"postgres\": {"
  echo "    \"select\": $(wl "$ps_rps" "$ps_p50" "$ps_p99" "$ps_err" "$ps_n" "$ps_srv" "$ps_cli" "$ps_oth"),"
  echo "    \"insert\": $(wl "$pi_rps" "$pi_p50" "$pi_p99" "$pi_err" "$pi_n" "$pi_srv" "$pi_cli" "$pi_oth"),"
  echo "    \"insert_synchronous_commit_off\": $(wl "$pa_rps" "$pa_p50" "$pa_p99" "$pa_err" "$pa_n" "$pa_srv" "$pa_cli" "$pa_oth")"
  echo "  },"
  echo "  \"ratios\": {"
  echo "    \"cairn_select_over_pg_select\": {\"value\": $r_sel, \"target\": 2.0, \"result\": $(json_str "$v_sel")},"
  echo "    \"cairn_select_over_cairn_health\": {\"value\": $r_ceiling, \"target\": 0.6, \"result\": $(json_str "$v_ceiling")},"
  echo "    \"cairn_select_over_pg_select_by_round\": {\"median\": $r_sel_rounds, \"rounds\": [$(echo $round_ratios | tr ' ' ',')]},"
  echo "    \"null_server_over_pg_select\": {\"value\": $r_null_pg},"
  echo "    \"cairn_select_over_null_server\": {\"value\": $r_sel_null},"
  echo "    \"cairn_insert_over_pg_insert\": {\"value\": $r_ins},"
  echo "    \"cairn_insert_over_pg_insert_synchronous_commit_off\": {\"value\": $r_ins_async}"
  echo "  },"
  echo "  \"disturbed\": $([ "$disturbed" = 1 ] && echo true || echo false),"
  echo "  \"invalid\": $invalid_json"
  echo "}"
} > "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
echo "summary written to ${RESULTS#"$ROOT"/}"

if [ "${#INVALID[@]}" -gt 0 ]; then exit 2; fi
if [ "$STRICT" = 1 ] && { [[ "$v_sel" == FAIL* ]] || [[ "$v_ceiling" == FAIL* ]]; }; then exit 1; fi
exit 0
