-- wrk script: POST the same full questionnaire form to a distinct pre-minted link per request.
-- Environment: BENCH_TOKENS (one token per line), BENCH_BODY (urlencoded form), BENCH_PREFIX ("/q/" or
-- "/bench/minimal/"), BENCH_CSRF (the cookie value matching the form's csrfmiddlewaretoken).
-- Each wrk thread takes every n-th token, so no two requests share a link.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  local f = assert(io.open(os.getenv("BENCH_BODY"), "r"))
  body = f:read("*a")
  f:close()
  prefix = os.getenv("BENCH_PREFIX")
  step = tonumber(os.getenv("BENCH_THREADS"))
  counter = id
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. os.getenv("BENCH_CSRF"),
  }
end

function request()
  local token = tokens[(counter % #tokens) + 1]
  counter = counter + step
  return wrk.format("POST", prefix .. token .. "/", headers, body)
end
