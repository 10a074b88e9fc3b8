#!/usr/bin/env bash
# Two release builds side by side: runs interleaved (old, new, old, new ...) against one private Redis,
# flushed before each run, so that both builds see the same machine load on average.
#
#   bench/compare.sh OLD_SPOOL_BINARY NEW_SPOOL_BINARY [RUNS]
#
# Prints, per build and run, bulk enqueue through the Enqueuer (jobs/s), noop throughput of one worker
# at concurrency 10 (jobs/s) and the worker's peak RSS. Each binary runs with its own checkout's Jobs/
# and config/ (the directory two levels above the binary's .build/release/).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

old="$1" new="$2" runs="${3:-4}"
dir="$(mktemp -d)"
port="$(free_port)"
start_redis "$dir/redis" "$port"
trap 'stop_pidfile "$dir/redis/redis.pid"; rm -rf "$dir"' EXIT

for run in $(seq 1 "$runs"); do
  for build in old new; do
    binary="${!build}"
    root="$(cd "$(dirname "$binary")/../.." && pwd)"
    redis-cli -p "$port" FLUSHALL >/dev/null
    out="$(cd "$root" && REDIS_URL="redis://127.0.0.1:$port" "$binary" bench --concurrency 10 --jobs 100000 \
      --enqueue-jobs 200000 --postgres-rows 0 --samples 50 2>/dev/null)"
    enqueue="$(grep -o 'bulk enqueue: [0-9]* jobs, [0-9]* jobs/s' <<<"$out" | grep -o '[0-9]* jobs/s')"
    worker="$(grep -o 'worker concurrency 10: .*' <<<"$out")"
    echo "$build run $run: enqueue $enqueue; $worker"
  done
done
