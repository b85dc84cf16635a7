-- wrk script for bench/ingest: POST /api/v2/alerts with batches of distinct alerts.
--
--   wrk -tT -c4 -d20s -s bench/ingest.lua http://127.0.0.1:PORT -- N GROUPS BATCH STARTS PREFIX OFFSET T TIMES
--
-- Alert i (0 <= i < N) has the labels {alertname="BenchAlert<i mod GROUPS>",
-- instance="<PREFIX>-<i>:9100", job="node", severity="warning"}, two annotations, startsAt
-- STARTS (fixed for the whole run, as Prometheus keeps it), endsAt = now + 1h (moves every second,
-- as a Prometheus re-send does) and a generatorURL; bench/common.py's make_alert builds the same
-- alerts. With TIMES = 0 the alerts carry neither startsAt nor endsAt, as amtool, scripts and
-- many non-Prometheus senders post them (the server fills both in). Batch b holds alerts (b*BATCH + k) mod N for k < BATCH: 64 distinct alerts in 64
-- distinct groups, cycling over all N alerts. Several wrk threads start at different offsets.
-- done() prints one JSON line (prefixed "WRK_RESULT ") with throughput and latency percentiles.

local N, GROUPS, BATCH = 100000, 1000, 64
local TIMES = true
local pres = {}
local GENERATOR = '"generatorURL":"http://prometheus:9090/graph?g0.expr=up%3D%3D0&g0.tab=1"}'
local SEP_TAIL = '",' .. GENERATOR
local counter = 0
local cur_sec, cur_ends = -1, ""
local picks = {}
local setup_count = 0

-- Runs in wrk's main Lua state, just before each thread's init(): numbers the threads.
function setup(thread)
  thread:set("bench_thread_index", setup_count)
  setup_count = setup_count + 1
end

function init(args)
  N = tonumber(args[1]) or N
  GROUPS = tonumber(args[2]) or GROUPS
  BATCH = tonumber(args[3]) or BATCH
  local starts = args[4] or "2026-01-01T00:00:00.000Z"
  local prefix = args[5] or "host"
  local offset = tonumber(args[6]) or 0
  TIMES = args[8] ~= "0"
  for i = 0, N - 1 do
    local head = string.format(
      '{"labels":{"alertname":"BenchAlert%04d","instance":"%s-%06d:9100","job":"node","severity":"warning"},' ..
      '"annotations":{"summary":"Bench alert %d","description":"synthetic load for the alerter benchmarks"},',
      i % GROUPS, prefix, i, i)
    -- Without times an alert is complete as it stands; with them, endsAt is appended per request.
    pres[i] = TIMES and (head .. '"startsAt":"' .. starts .. '","endsAt":"') or (head .. GENERATOR)
  end
  -- Spread threads over the cycle so that two threads do not post the same batch together.
  local nthreads = tonumber(args[7]) or 1
  local index = rawget(_G, "bench_thread_index") or 0
  counter = offset + math.floor(index * (N / BATCH) / nthreads)
  wrk.method = "POST"
  wrk.path = "/api/v2/alerts"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local sec = os.time()
  if sec ~= cur_sec then
    cur_sec = sec
    cur_ends = os.date("!%Y-%m-%dT%H:%M:%S.000Z", sec + 3600)
  end
  local base = counter * BATCH
  counter = counter + 1
  for k = 1, BATCH do
    picks[k] = pres[(base + k - 1) % N]
  end
  if not TIMES then
    return wrk.format(nil, nil, nil, "[" .. table.concat(picks, ",") .. "]")
  end
  local sep = cur_ends .. SEP_TAIL .. ","
  local body = "[" .. table.concat(picks, sep) .. cur_ends .. SEP_TAIL .. "]"
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
