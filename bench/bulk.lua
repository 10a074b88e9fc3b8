-- wrk script: 1,000 jobs per POST /v1/jobs/bulk. Jobs/s is requests/s times 1,000.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SPOOL_BENCH_KEY")
local jobs = {}
for i = 1, 1000 do jobs[i] = '{"kind": "noop", "args": {"sleep_ms": 0}}' end
wrk.body = '{"jobs": [' .. table.concat(jobs, ",") .. ']}'
