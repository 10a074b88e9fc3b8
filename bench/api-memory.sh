#!/usr/bin/env bash
# The API's memory under big hostile bodies: a 50 MB NDJSON bulk enqueue (valid jobs, bad lines, jobs
# of unknown kinds) and a 64 MiB contact CSV (valid and bad rows), each posted with curl while the
# API's resident memory is sampled from /proc. Prints the peak RSS per request (VmHWM, reset before
# each request when the kernel allows it, and the highest VmRSS sampled every 20 ms); the goal is under
# 200 MB. Only loopback traffic.
#
# Self-contained by default: builds release, starts its own Redis, PostgreSQL and `spool api` on free
# loopback ports, and stops them by PID. Against an API already running, set all three of
#   SPOOL_API_URL=http://127.0.0.1:PORT  SPOOL_API_KEY=<a tenant's admin key>  SPOOL_API_PID=<its pid>
# Usage: bench/api-memory.sh [NDJSON MB, default 50]   (SPOOL_BENCH_CSV_DRY_RUN=false writes the contacts)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$SPOOL_ROOT"
ndjson_mb="${1:-50}"
dry_run="${SPOOL_BENCH_CSV_DRY_RUN:-true}"
dir="$(mktemp -d /tmp/spool-bench-XXXXXX)"
chmod 755 "$dir"
cleanup() {
  [ -n "${sampler_pid:-}" ] && kill "$sampler_pid" 2>/dev/null || true
  stop_pidfile "$dir/api.pid"
  stop_pidfile "$dir/redis/redis.pid"
  stop_pidfile "$dir/postgres/data/postmaster.pid"
  rm -rf "$dir"
}
trap cleanup EXIT

if [ -n "${SPOOL_API_URL:-}" ] || [ -n "${SPOOL_API_KEY:-}" ] || [ -n "${SPOOL_API_PID:-}" ]; then
  : "${SPOOL_API_URL:?set SPOOL_API_URL, SPOOL_API_KEY and SPOOL_API_PID together}" "${SPOOL_API_KEY:?}" "${SPOOL_API_PID:?}"
  case "$SPOOL_API_URL" in
    http://127.0.0.1:*|http://localhost:*|http://\[::1\]:*) ;;
    *) echo "SPOOL_API_URL must be a loopback address, got $SPOOL_API_URL" >&2; exit 1 ;;
  esac
  url="$SPOOL_API_URL"; key="$SPOOL_API_KEY"; bulk_key="$SPOOL_API_KEY"; api_pid="$SPOOL_API_PID"
else
  ensure_packages
  start_bench_api "$dir"
  key="$tenant_key"
  # noop jobs are the operator's to enqueue (a tenant's would be refused item by item).
  bulk_key="$operator_key"
fi
[ -r "/proc/$api_pid/status" ] || { echo "no process $api_pid to measure" >&2; exit 1; }

log "generating a ${ndjson_mb} MB NDJSON body and a 64 MiB CSV under $dir"
python3 - "$dir" "$ndjson_mb" <<'PY'
import sys
folder, megabytes = sys.argv[1], int(sys.argv[2])
# NDJSON: 100,000 valid noop jobs, 200,000 lines that are not objects, then jobs of an unknown kind
# padded to about 230 bytes (refused by the enqueuer, batch by batch) until the size is reached.
target = megabytes * 1_000_000
with open(f"{folder}/bulk.ndjson", "w") as out:
    size = 0
    for n in range(100_000):
        line = '{"kind": "noop", "args": {"sleep_ms": %d}}\n' % (n % 5)
        out.write(line); size += len(line)
    out.write("1\n" * 200_000); size += 400_000
    pad = "x" * 180
    n = 0
    while size < target:
        line = '{"kind": "nope", "args": {"n": %d, "pad": "%s"}}\n' % (n, pad)
        out.write(line); size += len(line); n += 1
# CSV: just under the 64 MiB cap. Unique valid North American numbers, with one bad row in ten
# (a phone of two digits, a made-up time zone, a wrong field count in turn).
limit = (64 << 20) - 1024
with open(f"{folder}/contacts.csv", "w") as out:
    header = "phone,first_name,last_name,timezone,consent,city\n"
    out.write(header); size = len(header)
    n = 0
    while True:
        if n % 10 == 9:
            row = ("12,Bad,Row,,yes,Nowhere\n", "+1415555%04d,Bad,Zone,Mars/Base,yes,Paris\n" % (n % 10_000), "+14155550100,Short\n")[(n // 10) % 3]
        else:
            area, exchange, line = 200 + n // 8_000_000, 200 + (n // 10_000) % 800, n % 10_000
            row = "+1%03d%03d%04d,First%d,Last,America/New_York,yes,City%d\n" % (area, exchange, line, n, n % 100)
        if size + len(row) > limit:
            break
        out.write(row); size += len(row); n += 1
PY
ls -l "$dir/bulk.ndjson" "$dir/contacts.csv" | awk '{ printf "  %s: %.1f MB\n", $NF, $5 / 1e6 }'

status_kb() { awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/status"; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb / 1024 }'; }

# measure NAME CURL-ARGS...: resets the peak (VmHWM) when allowed, samples VmRSS every 20 ms while
# curl posts, then prints the status, the answer's size and head, and the peaks.
measure() {
  local name="$1"; shift
  local reset="no"
  { echo 5 >"/proc/$api_pid/clear_refs"; } 2>/dev/null && reset="yes"
  local before; before="$(status_kb "$api_pid" VmRSS)"
  ( peak=0
    while kill -0 "$api_pid" 2>/dev/null; do
      rss="$(status_kb "$api_pid" VmRSS)"; [ "${rss:-0}" -gt "$peak" ] && peak="$rss" && echo "$peak" >"$dir/sampled"
      sleep 0.02
    done ) &
  sampler_pid=$!
  local start end code
  start="$(date +%s.%N)"
  code="$(curl -s -o "$dir/answer.json" -w '%{http_code}' "$@" || true)"
  end="$(date +%s.%N)"
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
  local hwm after sampled
  hwm="$(status_kb "$api_pid" VmHWM)"; after="$(status_kb "$api_pid" VmRSS)"; sampled="$(cat "$dir/sampled" 2>/dev/null || echo 0)"
  rm -f "$dir/sampled"
  log "$name"
  echo "  HTTP $code in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s; answer $(wc -c <"$dir/answer.json") bytes: $(head -c 300 "$dir/answer.json")"
  echo "  RSS before $(mb "$before"), after $(mb "$after"); peak sampled $(mb "$sampled"); VmHWM $(mb "$hwm") (reset before the request: $reset)"
}

measure "NDJSON bulk enqueue, $(($(wc -c <"$dir/bulk.ndjson") / 1000000)) MB" \
  -X POST "$url/v1/jobs/bulk" -H "Authorization: Bearer $bulk_key" -H "Content-Type: application/x-ndjson" --data-binary "@$dir/bulk.ndjson"
measure "contact CSV import (dry_run=$dry_run), $(($(wc -c <"$dir/contacts.csv") / 1048576)) MiB" \
  -X POST "$url/v1/contacts/import?dry_run=$dry_run" -H "Authorization: Bearer $key" -H "Content-Type: text/csv" --data-binary "@$dir/contacts.csv"
curl -sf "$url/health/live" >/dev/null && echo "  /health/live still answers"
