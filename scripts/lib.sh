# Shared by scripts/run.sh and scripts/test.sh: install what is missing, start and stop private servers.
# Every server started here runs on a loopback port under .spool/ and is stopped by its own PID.

SPOOL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPOOL_STATE="$SPOOL_ROOT/.spool"
export PATH="$PATH:/opt/swift/usr/bin"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages Spool builds against or runs; installed only when missing.
SPOOL_PACKAGES=(redis-server redis-tools libhiredis-dev libssl-dev openssl postgresql-15 libpq-dev libcurl4-openssl-dev tzdata curl)
PG_BIN=/usr/lib/postgresql/15/bin

ensure_packages() {
  local missing=()
  for package in "${SPOOL_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v swift >/dev/null || { echo "swift is not on PATH (expected /opt/swift/usr/bin)" >&2; exit 1; }
}

# A free loopback TCP port in 20000-45000.
free_port() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    port = random.randint(20000, 45000)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
}

# start_redis DIR PORT: a private redis-server with its data and pid file in DIR.
start_redis() {
  local dir="$1" port="$2"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server on port $port did not start; see $dir/redis.log" >&2
  return 1
}

# A private CA, a server certificate for 127.0.0.1/localhost and a client certificate, made by openssl
# in $1 (ca.crt, server.crt/key, client.crt/key): the TLS Redis's and its clients'.
make_tls_certs() {
  local dir="$1"
  mkdir -p "$dir"
  [ -f "$dir/client.key" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Spool test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" >/dev/null 2>&1
  local who
  for who in server client; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=spool-$who" -keyout "$dir/$who.key" -out "$dir/$who.csr" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/$who.ext"
    openssl x509 -req -in "$dir/$who.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
      -extfile "$dir/$who.ext" -out "$dir/$who.crt" >/dev/null 2>&1
  done
  chmod 600 "$dir"/*.key
}

# A Redis that speaks TLS only (no plain port), with the certificates of make_tls_certs in $1/tls.
start_redis_tls() {
  local dir="$1" port="$2"
  make_tls_certs "$dir/tls"
  redis-server --port 0 --tls-port "$port" --bind 127.0.0.1 127.0.0.2 --dir "$dir" --save "" --appendonly no \
    --tls-cert-file "$dir/tls/server.crt" --tls-key-file "$dir/tls/server.key" --tls-ca-cert-file "$dir/tls/ca.crt" \
    --tls-auth-clients optional --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 1 100); do
    redis-cli --tls --cacert "$dir/tls/ca.crt" -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "TLS redis-server on port $port did not start; see $dir/redis.log" >&2
  return 1
}

# One node of a cluster in $1/$2 (its nodes.conf there too: started again, it rejoins the cluster).
start_cluster_node() {
  local dir="$1" port="$2"
  mkdir -p "$dir/$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$port" --save "" --appendonly no \
    --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" --cluster-node-timeout 2000 \
    --daemonize yes --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
}

# A Redis Cluster of six nodes, three primaries with a replica each, on the ports given after $1 (its
# folder, one subfolder per node). A primary is failed over about 2 s after it dies.
start_redis_cluster() {
  local dir="$1"; shift
  local port nodes=()
  for port in "$@"; do
    start_cluster_node "$dir" "$port"
    nodes+=("127.0.0.1:$port")
  done
  for port in "$@"; do
    local up=0
    for _ in $(seq 1 100); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && { up=1; break; }
      sleep 0.05
    done
    [ "$up" = 1 ] || { echo "cluster node $port did not start; see $dir/$port/redis.log" >&2; return 1; }
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { echo "redis-cli --cluster create failed; see $dir/create.log" >&2; return 1; }
  for _ in $(seq 1 200); do
    local ok=1
    for port in "$@"; do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  echo "the cluster on ports $* did not reach cluster_state:ok; see $dir/*/redis.log" >&2
  return 1
}

stop_redis_cluster() {
  local dir="$1" pidfile
  for pidfile in "$dir"/*/redis.pid; do
    [ -f "$pidfile" ] && stop_pidfile "$pidfile"
  done
  return 0
}

# as_postgres CMD...: PostgreSQL refuses to run as root; as root, run its tools as the postgres user.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

# postgres_can_use DIR: true when the server's user can write DIR (as root, every parent folder must be
# open to the postgres user too: a clone under /root is not).
postgres_can_use() {
  local dir="$1"
  mkdir -p "$dir" || return 1
  [ "$(id -u)" = 0 ] || return 0
  chown postgres:postgres "$dir" && as_postgres test -w "$dir"
}

# start_postgres DIR PORT: a private PostgreSQL 15 with its data in DIR/data, trust auth for user spool
# on 127.0.0.1 only, and a database named spool.
start_postgres() {
  local dir="$1" port="$2"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" -D "$dir/data" -U spool --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
    -o "-p $port -h 127.0.0.1 -k $dir -c max_connections=200" start >/dev/null \
    || { tail -20 "$dir/postgres.log" >&2; return 1; }
  "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U spool -d postgres -qAt \
    -c "SELECT 1 FROM pg_database WHERE datname = 'spool'" | grep -q 1 \
    || "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U spool spool
}

# stop_pidfile FILE: stop the process whose PID is the file's first line, if it still runs.
stop_pidfile() {
  local file="$1" pid
  [ -f "$file" ] || return 0
  pid="$(head -n 1 "$file")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

# start_bench_api DIR: for the benchmarks. A release build, a private Redis and PostgreSQL under DIR,
# migrations, a tenant with an admin key, and `spool api` with an operator key, all on free loopback
# ports. Sets spool, url, api_port, api_pid, redis_port, tenant, tenant_key and operator_key. The
# caller stops DIR/api.pid, DIR/redis/redis.pid and DIR/postgres/data/postmaster.pid.
start_bench_api() {
  local dir="$1"
  log "building (release)"
  swift build -c release >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log"; exit 1; }
  redis_port="$(free_port)"; start_redis "$dir/redis" "$redis_port"
  local pg_port; pg_port="$(free_port)"; start_postgres "$dir/postgres" "$pg_port"
  export REDIS_URL="redis://127.0.0.1:$redis_port/0" DATABASE_URL="postgres://spool@127.0.0.1:$pg_port/spool" SPOOL_LOG_LEVEL=warning
  spool=.build/release/spool
  $spool migrate >/dev/null
  tenant="$($spool tenant create bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
  tenant_key="$($spool key create --tenant "$tenant" --scope admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
  # The benchmarks enqueue noop, a diagnostic kind only the operator may enqueue.
  operator_key="bench-operator-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  api_port="$(free_port)"
  SPOOL_OPERATOR_KEY="$operator_key" $spool api --port "$api_port" >"$dir/api.log" 2>&1 &
  echo $! >"$dir/api.pid"
  api_pid="$(cat "$dir/api.pid")"
  url="http://127.0.0.1:$api_port"
  for _ in $(seq 1 200); do curl -sf "$url/health/live" >/dev/null && break; sleep 0.05; done
}
