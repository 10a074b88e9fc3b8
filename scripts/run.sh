#!/usr/bin/env bash
# Sets everything up and runs Spool on local defaults: installs missing Debian packages, starts a private
# Redis when REDIS_URL is unset, builds, then runs every role in one process (`spool dev`) with a demo.
#   scripts/run.sh            demo, then keep serving until Ctrl-C
#   scripts/run.sh --exit     demo, then stop
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$SPOOL_ROOT"

ensure_packages
log "building (release)"
mkdir -p "$SPOOL_STATE"
swift build -c release --product spool >"$SPOOL_STATE/build.log" 2>&1 || { tail -40 "$SPOOL_STATE/build.log"; echo "build failed" >&2; exit 1; }

if [ -z "${REDIS_URL:-}" ]; then
  port=16379
  dir="$SPOOL_STATE/redis"
  if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
    log "reusing the private Redis on 127.0.0.1:$port"
  else
    redis-cli -p "$port" ping >/dev/null 2>&1 && port="$(free_port)"
    log "starting a private Redis on 127.0.0.1:$port (data in .spool/redis)"
    start_redis "$dir" "$port"
    trap 'stop_pidfile "$dir/redis.pid"' EXIT
  fi
  export REDIS_URL="redis://127.0.0.1:$port/0"
fi

if [ -z "${DATABASE_URL:-}" ]; then
  pgdir="$SPOOL_STATE/postgres"
  if ! postgres_can_use "$pgdir"; then
    pgdir="/var/tmp/spool-$(printf '%s' "$SPOOL_ROOT" | sha1sum | cut -c1-8)/postgres"
    log "the postgres user cannot reach $SPOOL_STATE; keeping PostgreSQL's data in $pgdir"
  fi
  if [ -f "$pgdir/data/postmaster.pid" ] && kill -0 "$(head -n 1 "$pgdir/data/postmaster.pid")" 2>/dev/null; then
    pgport="$(sed -n 4p "$pgdir/data/postmaster.pid")"
    log "reusing the private PostgreSQL on 127.0.0.1:$pgport"
  else
    pgport=15432
    "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$pgport" >/dev/null 2>&1 && pgport="$(free_port)"
    log "starting a private PostgreSQL 15 on 127.0.0.1:$pgport (data in $pgdir)"
    start_postgres "$pgdir" "$pgport"
    trap 'stop_pidfile "$pgdir/data/postmaster.pid"; stop_pidfile "${dir:-/nonexistent}/redis.pid"' EXIT
  fi
  export DATABASE_URL="postgres://spool@127.0.0.1:$pgport/spool"
fi
log "applying migrations"
.build/release/spool migrate

args=(dev --demo)
[ "${1:-}" = "--exit" ] && args+=(--exit-after-demo)
log "running: spool ${args[*]}   (REDIS_URL=$REDIS_URL)"
.build/release/spool "${args[@]}"
