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
  stop_pidfile "$run_dir/api.pid"
  stop_pidfile "$run_dir/sandbox.pid"
  stop_pidfile "$run_dir/redis/redis.pid"
  stop_pidfile "$run_dir/redis-tls/redis.pid"
  stop_redis_cluster "$run_dir/redis-cluster"
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

# A TLS-only Redis, with a CA and certificates that openssl makes in its folder (rediss:// tests).
tls_port="$(free_port)"
start_redis_tls "$run_dir/redis-tls" "$tls_port"
export SPOOL_TEST_REDIS_TLS_URL="rediss://127.0.0.1:$tls_port" SPOOL_TEST_REDIS_TLS_DIR="$run_dir/redis-tls/tls"
log "test TLS Redis on 127.0.0.1:$tls_port"

# A Redis Cluster: three primaries and three replicas, failing over about 2 s after a primary dies.
cluster_ports=()
for _ in 1 2 3 4 5 6; do cluster_ports+=("$(free_port)"); done
start_redis_cluster "$run_dir/redis-cluster" "${cluster_ports[@]}"
export SPOOL_TEST_REDIS_CLUSTER_URL="redis+cluster://127.0.0.1:${cluster_ports[0]},127.0.0.1:${cluster_ports[1]}"
export SPOOL_TEST_REDIS_CLUSTER_DIR="$run_dir/redis-cluster"
log "test Redis Cluster on 127.0.0.1:${cluster_ports[*]}"

pgport="$(free_port)"
start_postgres "$run_dir/postgres" "$pgport"
export SPOOL_TEST_DATABASE_URL="postgres://spool@127.0.0.1:$pgport/postgres"
log "test PostgreSQL on 127.0.0.1:$pgport"

log "building"
swift build --build-tests >"$SPOOL_STATE/test-build.log" 2>&1 || { tail -60 "$SPOOL_STATE/test-build.log"; echo "build failed" >&2; exit 1; }
export SPOOL_BIN="$SPOOL_ROOT/.build/debug/spool"

log "swift test"
swift test --skip-build --skip "SMSSenderLimitTests|SMSCampaignTests|MessageAPITests|SMSChaosTests|AbuseTests"
# The SMS end-to-end suites wait for delivery receipts, which the sandbox posts to an API server in
# the test process. With 40 other suites on two cores, some of those posts went unanswered for 15 s
# (see README, Tests), so these suites run after the rest, and the chaos test (three worker
# processes, killed and replaced, against the sandbox and the API in this process) on its own.
# The queue's own suites again, on the Redis Cluster: every enqueue, fetch, limit, retry, follow-up
# and admin path, with each command routed to its slot's primary.
log "swift test: the queue on the Redis Cluster"
SPOOL_TEST_REDIS_URL="$SPOOL_TEST_REDIS_CLUSTER_URL" swift test --skip-build --filter SpoolQueueTests
log "swift test: SMS end to end"
swift test --skip-build --filter "SMSCampaignTests|MessageAPITests"
# The abuse suite: a hostile tenant against a running API and worker, while a second tenant's
# campaign must finish in the time its own limit gives it (see docs in README, Security).
log "swift test: a hostile tenant (abuse suite)"
swift test --skip-build --filter AbuseTests
log "swift test: SMS chaos, on its own"
swift test --skip-build --filter SMSChaosTests
# The shared rate limit is judged by what the provider sees in each calendar second, so it runs on
# its own: with 40 other suites on two cores, the delay between the limiter's admission and the
# request's arrival varies by a fraction of a second, which is the machine's doing, not the limiter's.
log "swift test: the shared rate limit, on its own"
swift test --skip-build --filter SMSSenderLimitTests

# The OpenAPI document against the live API: schemathesis generates requests from the document and
# checks every answer against it (status codes, schemas, content types, Allow headers, auth).
# positive_data_acceptance is left out: a request can fit the schema and still be refused for
# reasons no JSON Schema can state (a run_at in the past, args that fail the kind's own schema, a
# tenant named by a tenant's key), and those refusals are the point.
venv="$SPOOL_STATE/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5" >"$SPOOL_STATE/schemathesis-install.log" 2>&1 \
    || { tail -20 "$SPOOL_STATE/schemathesis-install.log"; exit 1; }
fi
psql "$SPOOL_TEST_DATABASE_URL" -qc "CREATE DATABASE api_contract" >/dev/null
export DATABASE_URL="postgres://spool@127.0.0.1:$pgport/api_contract" REDIS_URL="$SPOOL_TEST_REDIS_URL" SPOOL_KEY_PREFIX="contract"
"$SPOOL_BIN" migrate >/dev/null
tenant="$("$SPOOL_BIN" tenant create "Contract test" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
tenant_key="$("$SPOOL_BIN" key create --tenant "$tenant" --scope admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
api_port="$(free_port)"
operator_key="contract-operator-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
# Configured as production is (an operator key, a Twilio auth token for receipts, a secret key and a
# Google client for calendars); the refusals of an unconfigured API are the abuse suite's. Google's
# URLs point at a closed loopback port: the consent redirect must not lead anything off this machine.
SPOOL_OPERATOR_KEY="$operator_key" TWILIO_ACCOUNT_SID="AC$(printf '%032d' 7)" TWILIO_AUTH_TOKEN="contract-auth-token" \
  SPOOL_SECRET_KEY="$(python3 -c 'import base64,secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')" \
  SPOOL_GOOGLE_CLIENT_ID="contract-client" SPOOL_GOOGLE_CLIENT_SECRET="contract-client-secret" \
  SPOOL_GOOGLE_AUTH_URL="http://127.0.0.1:9/o/oauth2/v2/auth" SPOOL_GOOGLE_TOKEN_URL="http://127.0.0.1:9/token" \
  SPOOL_GOOGLE_CALENDAR_URL="http://127.0.0.1:9/calendar/v3" \
  "$SPOOL_BIN" api --port "$api_port" >"$run_dir/api.log" 2>&1 &
echo $! >"$run_dir/api.pid"
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$api_port/health/live" >/dev/null && break; sleep 0.05; done
status=0
# Once with a tenant's admin key, once with the operator key, so that operator-only routes (queue
# pauses, run-time limits) are fuzzed too rather than answering 403 to everything.
for who in tenant operator; do
  key="$tenant_key"
  [ "$who" = operator ] && key="$operator_key"
  log "API contract as the $who (schemathesis)"
  "$venv/bin/schemathesis" --config-file config/schemathesis.toml run "http://127.0.0.1:$api_port/v1/openapi.json" --header "Authorization: Bearer $key" \
    --checks all --exclude-checks positive_data_acceptance --max-examples 50 --seed 1 --workers 1 --no-color \
    >"$run_dir/schemathesis-$who.log" 2>&1 || status=$?
  tail -25 "$run_dir/schemathesis-$who.log"
  [ "$status" = 0 ] || break
done
stop_pidfile "$run_dir/api.pid"
[ "$status" = 0 ] || { echo "schemathesis found problems (above); the end of the API log:" >&2; tail -20 "$run_dir/api.log" >&2; exit 1; }

# The dashboard in a real browser: headless Chromium and its driver from Debian, Selenium from PyPI,
# against a `spool dev` (API, worker, scheduler and sandbox in one process) with a tenant and its
# number. Screenshots of every page land in .spool/test-output/dashboard.
log "the dashboard in a browser (headless Chromium)"
ensure_packages chromium chromium-driver
bvenv="$SPOOL_STATE/browser-venv"
if [ ! -x "$bvenv/bin/python" ] || ! "$bvenv/bin/python" -c "import selenium" 2>/dev/null; then
  python3 -m venv "$bvenv"
  "$bvenv/bin/pip" install -q --disable-pip-version-check "selenium==4.51.0" >"$SPOOL_STATE/browser-install.log" 2>&1 \
    || { tail -20 "$SPOOL_STATE/browser-install.log"; exit 1; }
fi
psql "$SPOOL_TEST_DATABASE_URL" -qc "CREATE DATABASE dashboard_browser" >/dev/null
export DATABASE_URL="postgres://spool@127.0.0.1:$pgport/dashboard_browser" REDIS_URL="$SPOOL_TEST_REDIS_URL" SPOOL_KEY_PREFIX="browser"
"$SPOOL_BIN" migrate >/dev/null
tenant="$("$SPOOL_BIN" tenant create "Browser test" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
number="+1415555$(printf '%04d' $((RANDOM % 10000)))"
"$SPOOL_BIN" number add "$number" --tenant "$tenant" >/dev/null
api_port="$(free_port)"
sandbox_port="$(free_port)"
operator_key="browser-operator-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
SPOOL_OPERATOR_KEY="$operator_key" "$SPOOL_BIN" dev --api-port "$api_port" --sandbox-port "$sandbox_port" >"$run_dir/dev.log" 2>&1 &
echo $! >"$run_dir/dev.pid"
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$api_port/health/live" >/dev/null && break; sleep 0.1; done
shots="$SPOOL_STATE/test-output/dashboard"
rm -rf "$shots"
status=0
SPOOL_DASHBOARD="http://127.0.0.1:$api_port" SPOOL_OPERATOR_KEY="$operator_key" SPOOL_SANDBOX="http://127.0.0.1:$sandbox_port" \
  SPOOL_NUMBER="$number" SPOOL_SHOTS="$shots" "$bvenv/bin/python" scripts/browser_test.py || status=$?
stop_pidfile "$run_dir/dev.pid"
[ "$status" = 0 ] || { echo "the browser test failed (screenshots in $shots); the end of spool dev's log:" >&2; tail -30 "$run_dir/dev.log" >&2; exit 1; }

# The providers' official Python SDKs (openai, twilio, Google's API client and auth) against the
# sandbox, unchanged and pointed at it only in the ways each SDK supports: every call Spool's path
# relies on (chat, streaming, transcriptions, messages and their paging, media, signed webhooks, the
# OAuth refresh, calendar sync and watch), and the SDKs' own error classes for its refusals.
log "the providers' SDKs against the sandbox"
svenv="$SPOOL_STATE/sdk-venv"
if [ ! -x "$svenv/bin/python" ] || ! "$svenv/bin/python" -c "import openai, twilio, googleapiclient, google_auth_httplib2" 2>/dev/null; then
  python3 -m venv "$svenv"
  "$svenv/bin/pip" install -q --disable-pip-version-check "openai==3.60.0" "twilio==9.13.0" "requests==2.34.2" \
    "google-api-python-client==2.202.0" "google-auth==2.63.0" "google-auth-httplib2==0.4.4" "httplib2==0.32.1" \
    >"$SPOOL_STATE/sdk-install.log" 2>&1 || { tail -20 "$SPOOL_STATE/sdk-install.log"; exit 1; }
fi
sandbox_port="$(free_port)"
"$SPOOL_BIN" sandbox --port "$sandbox_port" >"$run_dir/sandbox.log" 2>&1 &
echo $! >"$run_dir/sandbox.pid"
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$sandbox_port/_sandbox/health" >/dev/null && break; sleep 0.05; done
status=0
"$svenv/bin/python" scripts/sdk_test.py "http://127.0.0.1:$sandbox_port" || status=$?
stop_pidfile "$run_dir/sandbox.pid"
[ "$status" = 0 ] || { echo "the SDK test failed (above); the end of the sandbox's log:" >&2; tail -20 "$run_dir/sandbox.log" >&2; exit 1; }
