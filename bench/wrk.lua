-- wrk script of the Tierdesk benchmark (bench/run.py drives it).
--
--   wrk ... -s bench/wrk.lua URL -- METHOD PATH RUN_ID [FORM_BODY]
--
-- Headers (session cookie, CSRF cookie, Content-Type) come from wrk's -H options.
-- FORM_BODY, for POST targets, may contain __KEY__: each request replaces it with a
-- key unique across threads and runs (the form's idempotency submission_key).
-- At the end one line "BENCHJSON {...}" carries the figures, including the
-- responses counted per status class (wrk itself only counts >= 400 as errors).

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = args[1]
  wrk.path = args[2]
  run_id = args[3]
  form = args[4]
  sent = 0
  s2, s3, s4, s5, sx = 0, 0, 0, 0, 0
  if form == nil then
    -- A GET sends the same bytes every time: let wrk use its static request (a Lua
    -- call per request costs wrk CPU that the server under test would otherwise get).
    request = nil
  end
end

function request()
  sent = sent + 1
  local key = run_id .. "-" .. id .. "-" .. sent
  local body = string.gsub(form, "__KEY__", key)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2 = s2 + 1
  elseif status < 400 and status >= 300 then
    s3 = s3 + 1
  elseif status < 500 and status >= 400 then
    s4 = s4 + 1
  elseif status >= 500 then
    s5 = s5 + 1
  else
    sx = sx + 1
  end
end

function done(summary, latency, requests)
  local c = { s2 = 0, s3 = 0, s4 = 0, s5 = 0, sx = 0 }
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do
      c[k] = c[k] + (t:get(k) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_timeout":%d,"err_status":%d,"p50_us":%d,"p90_us":%d,"p95_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"s2xx":%d,"s3xx":%d,"s4xx":%d,"s5xx":%d,"sother":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout,
    e.status, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, c.s2, c.s3, c.s4, c.s5, c.sx))
end
