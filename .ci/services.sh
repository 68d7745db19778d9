# Sourced by `make test SERVICES=1`: installs and starts the services the
# tests need, from Debian's packages, and exports where to reach them.
# Needs root (CI runs as root). Safe to source again: it reuses what runs.
set -e
need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing ${need[*]} from Debian's packages…"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi

# PostgreSQL: the first cluster found, started, with a superuser for tests
# (pytest-django creates and drops its own test database).
cluster=$(pg_lsclusters --no-header | head -1)
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  pg_createcluster "$version" main >/dev/null
  cluster=$(pg_lsclusters --no-header | head -1)
fi
set -- $cluster
pg_version=$1; pg_name=$2; pg_port=$3
pg_ctlcluster "$pg_version" "$pg_name" start 2>/dev/null || true
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p "$pg_port" && break; sleep 1; done
su postgres -c "psql -q -p $pg_port -tc \"SELECT 1 FROM pg_roles WHERE rolname='liaison'\"" | grep -q 1 \
  || su postgres -c "psql -q -p $pg_port -c \"CREATE ROLE liaison LOGIN SUPERUSER PASSWORD 'liaison'\""
# LIAISON_DB_NAME lets several checkouts on one machine test side by side.
db_name=${LIAISON_DB_NAME:-liaison}
su postgres -c "psql -q -p $pg_port -tc \"SELECT 1 FROM pg_database WHERE datname='$db_name'\"" | grep -q 1 \
  || su postgres -c "createdb -p $pg_port -O liaison $db_name"
export DATABASE_URL="postgres://liaison:liaison@127.0.0.1:$pg_port/$db_name"

# Redis on its own port, so as not to meet a system instance.
redis_port=6390
if ! redis-cli -p $redis_port ping >/dev/null 2>&1; then
  redis-server --port $redis_port --save "" --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 20); do redis-cli -p $redis_port ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
# The application under test stays eager; end-to-end tests start a real
# worker against this broker.
export TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export CHROMIUM_PATH=/usr/bin/chromium
export REQUIRE_SERVICES=1
echo "Services: PostgreSQL $pg_version on port $pg_port, Redis on port $redis_port, Chromium $(/usr/bin/chromium --version 2>/dev/null | head -1)"
set +e
