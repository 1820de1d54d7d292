-- wrk script: GET the path given in WRK_PATH with the session cookie in WRK_COOKIE.
-- With WRK_RANDOM_AS_OF=1 each request asks for another as-of date, so that the server's
-- assessment cache rarely helps (every request parses and evaluates the record).
local path = os.getenv("WRK_PATH")
local cookie = os.getenv("WRK_COOKIE")
local random_as_of = os.getenv("WRK_RANDOM_AS_OF") == "1"
local counter = 0

init = function(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
end

request = function()
  local target = path
  if random_as_of then
    -- Dates from 2025-12-01 over 3 years: far more than the cache holds.
    local day = math.random(0, 1095)
    local t = os.time({year = 2025, month = 12, day = 1, hour = 12}) + day * 86400
    target = path .. "?as_of=" .. os.date("!%Y-%m-%d", t)
  end
  return wrk.format("GET", target, { ["Cookie"] = cookie })
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors_status=%d errors_connect=%d errors_read=%d errors_timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
