-- wrk script: one job per POST /v1/jobs. The key comes from the environment (SPOOL_BENCH_KEY).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SPOOL_BENCH_KEY")
wrk.body = '{"kind": "noop", "args": {"sleep_ms": 0}}'
