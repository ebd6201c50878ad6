-- wrk script for bench/run.sh: one workload per run, chosen by the first argument after `--`.
--
--   wrk ... -s bench/wrk/hrana.lua http://127.0.0.1:PORT -- health
--   wrk ... -s bench/wrk/hrana.lua http://127.0.0.1:PORT -- select ROWS
--   wrk ... -s bench/wrk/hrana.lua http://127.0.0.1:PORT -- insert ROWS
--
-- health: GET /health.
-- select: POST /v2/pipeline, `SELECT id, v FROM bench WHERE id = ?` with a random id in [1, ROWS]
--         generated per request, then `close` (exactly what @libsql/client's execute() sends).
-- insert: POST /v2/pipeline, one autocommit `INSERT INTO bench_insert(k, v) VALUES (?, ?)`, then `close`.
--
-- The client shares the machine's cores with the server, so its cost per request matters: each
-- request is one concatenation — the request's bytes before the id (prepared once per number of
-- digits, since Content-Length depends on it), the id, the bytes after it — instead of a
-- string.format and a wrk.format per request. The bytes sent are exactly what wrk.format built.
-- With AUTH_TOKEN set in the environment, pipelines carry `Authorization: Bearer $AUTH_TOKEN`.
--
-- Every response is checked: non-200 statuses, bodies with a Hrana error result ("type":"error"),
-- and bodies that do not show the expected effect (select: one row; insert: affected_row_count 1)
-- are counted. done() prints one machine-readable line that run.sh parses:
--   WRKRESULT mode=... requests=... duration_us=... rps=... p50_us=... p90_us=... p99_us=...
--             max_us=... mean_us=... non200=... hrana_errors=... unexpected=... socket_errors=...
-- followed, when something failed, by a line `WRKSAMPLE <first bad response, truncated>`.

local threads = {}
local thread_count = 0

-- Runs in the main Lua state, once per wrk thread, before the threads start.
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

-- Per-thread state (globals, so that done() can read them with thread:get).
non200 = 0
hrana_errors = 0
unexpected = 0
sample = nil

mode = "health"  -- global: done() reads it from a thread
local nrows = 100000
local health_request = nil
local headers = { ["Content-Type"] = "application/json" }
local auth_token = os.getenv("AUTH_TOKEN")
if auth_token ~= nil and auth_token ~= "" then
  headers["Authorization"] = "Bearer " .. auth_token
end

local select_fmt = '{"requests":[{"type":"execute","stmt":{"sql":"SELECT id, v FROM bench WHERE id = ?",'
  .. '"args":[{"type":"integer","value":"%d"}]}},{"type":"close"}]}'
local insert_fmt = '{"requests":[{"type":"execute","stmt":{"sql":"INSERT INTO bench_insert(k, v) VALUES (?, ?)",'
  .. '"args":[{"type":"integer","value":"%d"},{"type":"text","value":"benchmark row value"}]}},{"type":"close"}]}'

-- The request for `body_prefix .. id .. body_suffix` splits into prefixes[#id] .. id .. suffix.
local function split_request(body_prefix, body_suffix)
  local prefixes = {}
  for digits = 1, 19 do
    local body = body_prefix .. string.rep("0", digits) .. body_suffix
    local req = wrk.format("POST", "/v2/pipeline", headers, body)
    prefixes[digits] = string.sub(req, 1, #req - digits - #body_suffix)
  end
  return prefixes, body_suffix
end

local select_prefixes, select_suffix, insert_prefixes, insert_suffix

function init(args)
  mode = args[1] or "health"
  nrows = tonumber(args[2] or "100000")
  if mode ~= "health" and mode ~= "select" and mode ~= "insert" then
    error("unknown mode " .. tostring(mode) .. " (want health, select or insert)")
  end
  -- Different seeds per thread so the threads do not walk the same id sequence.
  math.randomseed(os.time() * 131 + (tid or 0) * 7919)
  health_request = wrk.format("GET", "/health")
  local at = string.find(select_fmt, "%d", 1, true)
  select_prefixes, select_suffix = split_request(string.sub(select_fmt, 1, at - 1), string.sub(select_fmt, at + 2))
  at = string.find(insert_fmt, "%d", 1, true)
  insert_prefixes, insert_suffix = split_request(string.sub(insert_fmt, 1, at - 1), string.sub(insert_fmt, at + 2))
  -- The split must reproduce wrk.format's request byte for byte.
  for _, id in ipairs({ 1, 42, 100000, 1234567890123 }) do
    local s = tostring(id)
    assert(select_prefixes[#s] .. s .. select_suffix
      == wrk.format("POST", "/v2/pipeline", headers, string.format(select_fmt, id)))
    assert(insert_prefixes[#s] .. s .. insert_suffix
      == wrk.format("POST", "/v2/pipeline", headers, string.format(insert_fmt, id)))
  end
end

function request()
  if mode == "health" then
    return health_request
  end
  local id = tostring(math.random(1, nrows))
  if mode == "select" then
    return select_prefixes[#id] .. id .. select_suffix
  else
    return insert_prefixes[#id] .. id .. insert_suffix
  end
end

local function remember(what)
  if sample == nil then
    sample = string.sub(what, 1, 300)
  end
end

function response(status, hdrs, body)
  if status ~= 200 then
    non200 = non200 + 1
    remember("status " .. status .. ": " .. tostring(body))
    return
  end
  if mode == "health" then
    return
  end
  body = body or ""
  if string.find(body, '"type":"error"', 1, true) then
    hrana_errors = hrana_errors + 1
    remember(body)
  elseif mode == "select" then
    -- Every id in [1, ROWS] exists: the first result must carry exactly one row.
    if not string.find(body, '"rows":[[{', 1, true) or string.find(body, '}],[{', 1, true) then
      unexpected = unexpected + 1
      remember(body)
    end
  elseif mode == "insert" then
    if not string.find(body, '"affected_row_count":1', 1, true) then
      unexpected = unexpected + 1
      remember(body)
    end
  end
end

-- Runs in the main Lua state after all threads have stopped.
function done(summary, latency, requests)
  local n200, herr, unexp = 0, 0, 0
  local first = nil
  local run_mode = threads[1] and threads[1]:get("mode") or "?"
  for _, t in ipairs(threads) do
    n200 = n200 + (t:get("non200") or 0)
    herr = herr + (t:get("hrana_errors") or 0)
    unexp = unexp + (t:get("unexpected") or 0)
    if first == nil then
      first = t:get("sample")
    end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  local rps = 0
  if secs > 0 then
    rps = summary.requests / secs
  end
  io.write(string.format(
    "WRKRESULT mode=%s requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f "
      .. "non200=%d hrana_errors=%d unexpected=%d socket_errors=%d\n",
    run_mode, summary.requests, summary.duration, rps,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.max, latency.mean,
    n200, herr, unexp, socket_errors))
  if first ~= nil then
    io.write("WRKSAMPLE " .. string.gsub(first, "\n", " ") .. "\n")
  end
end
