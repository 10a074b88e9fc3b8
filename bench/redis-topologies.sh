#!/usr/bin/env bash
# One Redis over TCP, the same over TLS, and a Redis Cluster of three primaries (with their replicas),
# side by side on this machine: the same `spool bench` throughput run (one worker process at the
# given concurrency, noop jobs over 8 queues, which the cluster spreads over its primaries) against each, interleaved, with Redis's own CPU time per job read
# from /proc for every redis-server of the topology (primaries; replicas are counted apart).
#
#   bench/redis-topologies.sh [SPOOL_BINARY] [RUNS] [CONCURRENCY]
#
# On a 2-core machine the worker, the bench and every Redis share the two cores, so jobs/s is bound
# by the machine; the figure that carries over to more cores is Redis's CPU per job (see
# docs/benchmarks.md for how it projects).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$SPOOL_ROOT"

binary="${1:-$SPOOL_ROOT/.build/release/spool}" runs="${2:-2}" concurrency="${3:-50}"
dir="$(mktemp -d /tmp/spool-topologies-XXXXXX)"
plain_port="$(free_port)"; tls_port="$(free_port)"
cluster_ports=(); for _ in 1 2 3 4 5 6; do cluster_ports+=("$(free_port)"); done
start_redis "$dir/plain" "$plain_port"
start_redis_tls "$dir/tls" "$tls_port"
start_redis_cluster "$dir/cluster" "${cluster_ports[@]}"
trap 'stop_pidfile "$dir/plain/redis.pid"; stop_pidfile "$dir/tls/redis.pid"; stop_redis_cluster "$dir/cluster"; rm -rf "$dir"' EXIT

# CPU ticks (user + system) of the redis-servers whose pid files are given.
ticks() {
  local total=0 pidfile
  for pidfile in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$(cat "$pidfile")/stat")))
  done
  echo "$total"
}
hz="$(getconf CLK_TCK)"

primaries() {  # the pid files of the cluster's primaries
  local port
  for port in "${cluster_ports[@]}"; do
    redis-cli -p "$port" role | head -1 | grep -q master && echo "$dir/cluster/$port/redis.pid"
  done
}

run() {
  local name="$1" url="$2"; shift 2
  local pidfiles=("$@") before after out
  before="$(ticks "${pidfiles[@]}")"
  local ca=()
  [[ "$url" == rediss* ]] && ca=(SPOOL_REDIS_TLS_CA="$dir/tls/tls/ca.crt")
  out="$(env REDIS_URL="$url" "${ca[@]}" "$binary" bench --concurrency "$concurrency" --jobs 100000 --queues 8 \
    --enqueue-jobs 200000 --postgres-rows 0 --samples 1 --log-level error 2>&1)" || { echo "$out" >&2; return 1; }
  after="$(ticks "${pidfiles[@]}")"
  local enqueue worker jobs_rate
  enqueue="$(grep -o 'bulk enqueue: [0-9]* jobs, [0-9]* jobs/s' <<<"$out" | grep -o '[0-9]* jobs/s' || true)"
  worker="$(grep -o "worker concurrency $concurrency: .*" <<<"$out" || true)"
  # Redis CPU over the whole run (200,000 enqueued + 100,000 processed, each processed job enqueued first).
  local cpu_ms=$(( (after - before) * 1000 / hz ))
  echo "$name: enqueue $enqueue; $worker; redis CPU ${cpu_ms} ms for 300,000 enqueues and 100,000 runs"
}

for round in $(seq 1 "$runs"); do
  run "plain tcp (round $round)" "redis://127.0.0.1:$plain_port" "$dir/plain/redis.pid"
  run "tls (round $round)" "rediss://127.0.0.1:$tls_port" "$dir/tls/redis.pid"
  mapfile -t cluster_pids < <(primaries)
  run "cluster, 3 primaries (round $round)" "redis+cluster://127.0.0.1:${cluster_ports[0]}" "${cluster_pids[@]}"
done
