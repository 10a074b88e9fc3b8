#!/usr/bin/env bash
# The reliable queue through a Redis Cluster primary's failover, without and with WAIT: for each, a
# fresh 6-node cluster (3 primaries, 3 replicas, cluster-node-timeout 2 s), then `spool bench-failover`
# (100,000 jobs over 8 queues, 3 workers, two workers and one primary SIGKILLed mid-run).
#
#   bench/cluster-failover.sh [SPOOL_BINARY] [JOBS]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$SPOOL_ROOT"

binary="${1:-$SPOOL_ROOT/.build/release/spool}" jobs="${2:-100000}"
dir="$(mktemp -d /tmp/spool-failover-XXXXXX)"
trap 'for d in "$dir"/*/; do stop_redis_cluster "$d"; done; rm -rf "$dir"' EXIT

for mode in no-wait wait; do
  ports=(); for _ in 1 2 3 4 5 6; do ports+=("$(free_port)"); done
  start_redis_cluster "$dir/$mode" "${ports[@]}"
  flag=""; [ "$mode" = wait ] && flag="--wait"
  echo "== $mode"
  # The supervisor: a node found dead is started again 6 s later (after its replica took over; the
  # node keeps no data, so it must not come back as a primary), and rejoins as a replica.
  (
    while true; do
      for port in "${ports[@]}"; do
        pid="$(cat "$dir/$mode/$port/redis.pid" 2>/dev/null || true)"
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
          sleep 6
          rm -f "$dir/$mode/$port/redis.pid"
          start_cluster_node "$dir/$mode" "$port"
          echo "supervisor: node $port started again"
        fi
      done
      sleep 0.5
    done
  ) &
  supervisor=$!
  REDIS_URL="redis+cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}" \
    "$binary" bench-failover --jobs "$jobs" --log-level error $flag 2>&1 | grep -v "not configured\|DATABASE_URL is not set"
  kill "$supervisor"; wait "$supervisor" 2>/dev/null || true
  stop_redis_cluster "$dir/$mode"
done
