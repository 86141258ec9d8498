-- bench/soak.lua — wrk script of bench/soak.sh: counts the replies by
-- status code and, when paths follow wrk's `--`, sends them in rotation
-- (each connection of each thread steps through the list). done() prints
-- one line per status, "status CODE COUNT", and one line of wrk's error
-- counters, "errors connect C read R write W timeout T status S", which
-- soak.sh reads; wrk's own report (and its "Socket errors" line) comes
-- before them.
--
-- wrk runs each thread in its own Lua state: the counts live in a global
-- table per thread, and done() (on the main state) adds them up with
-- thread:get, which copies the table across.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  requests = {}
  for _, path in ipairs(args) do
    requests[#requests + 1] = wrk.format(nil, path)
  end
  if #requests == 0 then
    requests[1] = wrk.format()
  end
  next_request = 0
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, reqs)
  local total = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + n
    end
  end
  local codes = {}
  for code in pairs(total) do
    codes[#codes + 1] = code
  end
  table.sort(codes)
  for _, code in ipairs(codes) do
    io.write(string.format("status %d %d\n", code, total[code]))
  end
  local e = summary.errors
  io.write(string.format("errors connect %d read %d write %d timeout %d status %d\n",
                         e.connect, e.read, e.write, e.timeout, e.status))
end
