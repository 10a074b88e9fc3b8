#!/usr/bin/env bash
# The enqueue API under wrk: single POST /v1/jobs at 50 connections, then /v1/jobs/bulk with 1,000 jobs
# per request. Starts its own Redis and PostgreSQL on free loopback ports and a release `spool api`,
# and stops them all by PID. Usage: bench/api.sh [seconds per run, default 15]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$SPOOL_ROOT"
seconds="${1:-15}"
ensure_packages wrk
dir="$(mktemp -d /tmp/spool-bench-XXXXXX)"
chmod 755 "$dir"
cleanup() {
  stop_pidfile "$dir/api.pid"
  stop_pidfile "$dir/redis/redis.pid"
  stop_pidfile "$dir/postgres/data/postmaster.pid"
  rm -rf "$dir"
}
trap cleanup EXIT

start_bench_api "$dir"
export SPOOL_BENCH_KEY="$operator_key"
# CPU seconds (user + system) a process has used, from /proc: steal-proof, unlike requests per second.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
redis_pid="$(cat "$dir/redis/redis.pid")"
# run_wrk ARGS...: wrk, then the API's and Redis's CPU per request.
run_wrk() {
  local api_before redis_before out requests
  api_before="$(cpu_seconds "$api_pid")"; redis_before="$(cpu_seconds "$redis_pid")"
  out="$(wrk "$@")"
  echo "$out" | grep -E "Requests/sec|Latency |50%|90%|99%|requests in|Non-2xx"
  requests="$(echo "$out" | awk '/requests in/ { print $1 }')"
  awk -v a="$(cpu_seconds "$api_pid")" -v ab="$api_before" -v r="$(cpu_seconds "$redis_pid")" -v rb="$redis_before" -v n="$requests" \
    'BEGIN { printf "CPU per request: API %.0f µs, Redis %.0f µs\n", (a - ab) / n * 1e6, (r - rb) / n * 1e6 }'
}

# Jobs the run left pending in the default queue, across every tenant's lane: what wrk counted as
# accepted must be there.
pending_jobs() {
  echo "jobs pending in Redis: $($spool stats --json | python3 -c 'import json,sys; print(next(q["pending"] for q in json.load(sys.stdin)["queues"] if q["queue"] == "default"))')"
}

log "baseline: GET /health/live (the framework with no work: the ceiling on this machine), 50 connections, ${seconds}s"
run_wrk -t2 -c50 -d"${seconds}s" --latency "$url/health/live"

log "single enqueue: POST /v1/jobs, 50 connections, ${seconds}s"
wrk -t2 -c50 -d5s -s bench/enqueue.lua "$url/v1/jobs" >/dev/null  # warm-up
redis-cli -p "$redis_port" FLUSHDB >/dev/null
# SPOOL_BENCH_PERF=FILE records a CPU profile of the API during the single-enqueue run.
if [ -n "${SPOOL_BENCH_PERF:-}" ]; then perf record -F 999 -g -o "$SPOOL_BENCH_PERF" -p "$(cat "$dir/api.pid")" -- sleep "$seconds" >/dev/null 2>&1 & fi
run_wrk -t2 -c50 -d"${seconds}s" --latency -s bench/enqueue.lua "$url/v1/jobs"
pending_jobs

log "bulk enqueue: POST /v1/jobs/bulk, 1,000 jobs per request, 4 connections, ${seconds}s"
redis-cli -p "$redis_port" FLUSHDB >/dev/null
run_wrk -t2 -c4 -d"${seconds}s" --latency -s bench/bulk.lua "$url/v1/jobs/bulk"
pending_jobs
