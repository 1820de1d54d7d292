-- wrk script of bench/cdshooks/run_wrk.sh: POSTs the order-select body in WRK_BODY_FILE, for WRK_PATIENTS
-- patients in turn (the id "bench-1" replaced by "bench-N"), and prints a RESULT line at the end.
local body_file = os.getenv("WRK_BODY_FILE")
local patients = tonumber(os.getenv("WRK_PATIENTS") or "1")
local bodies = {}
local counter = 0
init = function(args)
  local f = assert(io.open(body_file, "rb"))
  local body = f:read("*a")
  f:close()
  for p = 1, patients do
    bodies[p] = body:gsub('bench%-1"', 'bench-' .. p .. '"')
  end
  counter = math.random(0, patients - 1)
end
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, bodies[(counter % patients) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors_status=%d errors_connect=%d errors_read=%d errors_timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
