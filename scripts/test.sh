#!/usr/bin/env bash
# Sets everything up and runs the tests: installs missing Debian packages, starts Redis on a private
# port, builds, runs `swift test`, and stops every server it (or a test) started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$SPOOL_ROOT"

ensure_packages
# Servers live under /tmp, which every user can reach: as root, PostgreSQL runs as the postgres user,
# and the clone itself may sit in a folder that user cannot enter.
run_dir="$(mktemp -d /tmp/spool-test-XXXXXX)"
chmod 755 "$run_dir"
mkdir -p "$run_dir/tmp"
chmod 1777 "$run_dir/tmp"
# Servers that tests start themselves live under this TMPDIR, so that their pid files can be found.
export TMPDIR="$run_dir/tmp"
mkdir -p "$SPOOL_STATE"

cleanup() {
  stop_pidfile "$run_dir/redis/redis.pid"
  stop_pidfile "$run_dir/postgres/data/postmaster.pid"
  for pidfile in "$TMPDIR"/spool-pg-*/data/postmaster.pid; do stop_pidfile "$pidfile"; done
  for pidfile in "$TMPDIR"/spool-redis-*/redis.pid; do stop_pidfile "$pidfile"; done
  rm -rf "$run_dir"
}
trap cleanup EXIT

port="$(free_port)"
start_redis "$run_dir/redis" "$port"
export SPOOL_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
log "test Redis on 127.0.0.1:$port"

pgport="$(free_port)"
start_postgres "$run_dir/postgres" "$pgport"
export SPOOL_TEST_DATABASE_URL="postgres://spool@127.0.0.1:$pgport/postgres"
log "test PostgreSQL on 127.0.0.1:$pgport"

log "building"
swift build --build-tests >"$SPOOL_STATE/test-build.log" 2>&1 || { tail -60 "$SPOOL_STATE/test-build.log"; echo "build failed" >&2; exit 1; }
export SPOOL_BIN="$SPOOL_ROOT/.build/debug/spool"

log "swift test"
swift test --skip-build
