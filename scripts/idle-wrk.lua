-- wrk script of scripts/idle-wrk.sh: every request is the next worker's heartbeat, or
-- `GET /healthz`, built once at start so that both routes cost wrk the same per request.
--
--   wrk -t2 -c64 -d20s -s scripts/idle-wrk.lua http://127.0.0.1:PORT -- heartbeat 2 TOKENS_FILE
--   wrk -t2 -c64 -d20s -s scripts/idle-wrk.lua http://127.0.0.1:PORT -- healthz 2
--
-- The second argument is wrk's number of threads (`-t`). Each thread starts at its own token
-- and steps by that number, so the threads' connections together go round every worker, a
-- different one at each request.

local count = 0

function setup(thread)
  thread:set("first", count)
  count = count + 1
end

local requests = {}
local next_request = 1
local step_by = 1

function init(args)
  local route = args[1] or "healthz"
  step_by = tonumber(args[2] or "1")
  if route == "heartbeat" then
    local file = assert(io.open(assert(args[3], "heartbeat needs a tokens file"), "r"))
    for token in file:lines() do
      if token ~= "" then
        requests[#requests + 1] = wrk.format("POST", "/v1/workers/heartbeat",
          { ["Authorization"] = "Bearer " .. token })
      end
    end
    file:close()
    assert(#requests > 0, "no tokens in " .. args[3])
  elseif route == "healthz" then
    requests[1] = wrk.format("GET", "/healthz")
  else
    error("unknown route " .. route .. " (heartbeat or healthz)")
  end
  -- `first`: this thread's number, from `setup`.
  next_request = (first % #requests) + 1
end

function request()
  local r = requests[next_request]
  next_request = next_request + step_by
  if next_request > #requests then
    next_request = ((next_request - 1) % #requests) + 1
  end
  return r
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format("result requests_per_s=%.1f errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests / (summary.duration / 1e6),
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
