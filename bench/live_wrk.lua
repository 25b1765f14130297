-- wrk script of `python -m bench live` (bench/live_wrk.py writes the request files it reads).
--
-- Each wrk thread reads its own file of pre-built, signed raw HTTP requests ("<length>\n<bytes>"
-- per request) and sends each one once, at BENCH_WRK_RATE requests/s over all threads (absolute
-- schedule per thread through wrk's delay(); 0 = as fast as the connections allow). When its file
-- is exhausted a thread sends GET /healthz every 50 ms per free connection until every webhook it
-- sent is answered, then stops and creates "<requests>.done.<thread>" (wrk 4 runs for its whole
-- -d unless interrupted: bench/live_wrk.py sends SIGINT once every thread is done). done() prints
-- one JSON line, prefixed "BENCH "; "elapsed_us" runs from the first thread's start to the last
-- answer.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local prefix = os.getenv("BENCH_WRK_REQUESTS")
local rate = tonumber(os.getenv("BENCH_WRK_RATE") or "0")
local nthreads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
local connections = tonumber(os.getenv("BENCH_WRK_CONNECTIONS") or "1")
local health = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
local health_body = os.getenv("BENCH_WRK_HEALTH_BODY") or '{"status": "ok"}' -- the gateway's

-- main state: number the threads
local threads = {}
function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

-- thread state
local file, interval, slot
start_ms, end_ms = 0, 0
sent, answered, accepted, duplicate, health_checks = 0, 0, 0, 0, 0
statuses = {}
local exhausted = false
local verified = false -- wrk calls request() once on thread 0 to parse it, before any sending

function init(args)
  file = assert(io.open(prefix .. "." .. index, "rb"))
  local per_thread = rate / nthreads
  interval = per_thread > 0 and 1000 / per_thread or 0
  start_ms = now_ms()
  slot = math.floor(connections / nthreads) -- the first request of each connection goes at once
end

function delay()
  if exhausted then
    return 50
  end
  if interval == 0 then
    return 0
  end
  local due = start_ms + slot * interval
  slot = slot + 1
  local wait = due - now_ms()
  if wait < 1 then
    return 0
  end
  return math.floor(wait)
end

function request()
  if not verified then
    verified = true
    if index == 0 then
      return health
    end
  end
  if not exhausted then
    local length = file:read("*l")
    if length then
      sent = sent + 1
      return file:read(tonumber(length))
    end
    exhausted = true
    file:close()
  end
  return health
end

function response(status, headers, body)
  if body == health_body then
    health_checks = health_checks + 1
  else
    answered = answered + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
    if body:find('"accepted"', 1, true) then
      accepted = accepted + 1
    elseif body:find('"duplicate"', 1, true) then
      duplicate = duplicate + 1
    end
  end
  if exhausted and answered == sent and end_ms == 0 then
    end_ms = now_ms()
    assert(io.open(prefix .. ".done." .. index, "w")):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local totals = { sent = 0, answered = 0, accepted = 0, duplicate = 0, health_checks = 0 }
  local codes = {}
  local first, last = math.huge, 0
  for _, thread in ipairs(threads) do
    first = math.min(first, thread:get("start_ms"))
    last = math.max(last, thread:get("end_ms"))
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    for code, n in pairs(thread:get("statuses")) do
      codes[code] = (codes[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(codes) do
    table.insert(parts, string.format('"%s": %d', code, n))
  end
  local e = summary.errors
  io.write(
    string.format(
      'BENCH {"duration_us": %d, "elapsed_us": %d, "requests": %d, "sent": %d, "answered": %d, "accepted": %d, '
        .. '"duplicate": %d, "health_checks": %d, "statuses": {%s}, "errors": {"connect": %d, '
        .. '"read": %d, "write": %d, "status": %d, "timeout": %d}, "p50_us": %d, "p90_us": %d, '
        .. '"p99_us": %d, "p999_us": %d, "max_us": %d}\n',
      summary.duration,
      (last - first) * 1000,
      summary.requests,
      totals.sent,
      totals.answered,
      totals.accepted,
      totals.duplicate,
      totals.health_checks,
      table.concat(parts, ", "),
      e.connect,
      e.read,
      e.write,
      e.status,
      e.timeout,
      latency:percentile(50),
      latency:percentile(90),
      latency:percentile(99),
      latency:percentile(99.9),
      latency.max
    )
  )
end
