#!/usr/bin/env bash
# Make sure the services the tests talk to are up; start the ones that are
# down; fail loudly, naming the service, when one cannot be started.
# Usage: scripts/services.sh [postgres] [redis] [rabbitmq] [mongo] [secantus] [smtpd] [promtool]   (default: all)
set -uo pipefail

wait_for() { # name, probe command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "FATAL: $name is not reachable after 60 s; the tests need it." >&2
  return 1
}

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return 0; fi
  echo "PostgreSQL is down; starting it" >&2
  local version
  version=$(ls /etc/postgresql 2>/dev/null | head -n1)
  if [ -z "$version" ]; then
    echo "FATAL: PostgreSQL is not installed (no /etc/postgresql); the tests need it." >&2
    return 1
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then return 0; fi
  echo "Redis is down; starting it" >&2
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_for Redis sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'
}

ensure_rabbitmq() {
  if rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; then return 0; fi
  echo "RabbitMQ is down; starting it" >&2
  rabbitmq-server -detached || true
  wait_for RabbitMQ rabbitmq-diagnostics -q check_port_connectivity
}

# MongoDB is not packaged for Debian: the tests talk to nx-27017 (PyPI, MIT,
# SQLite-backed), which speaks the wire protocol, on 127.0.0.1:27017 with
# an in-memory database. It lives in the tests' venv (see ensure_smtpd) and
# runs in the background, logging to target/nx-27017.log. With
# DQ_TEST_MONGO_URL set, the tests use that server and nothing is started.
ensure_mongo() {
  if [ -n "${DQ_TEST_MONGO_URL:-}" ]; then return 0; fi
  local root venv
  root="$(cd "$(dirname "$0")/.." && pwd)"
  venv="${DQ_TEST_VENV:-$root/target/test-venv}"
  if (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null; then return 0; fi
  if [ ! -x "$venv/bin/nx-27017" ]; then
    echo "nx-27017 is missing; installing it into $venv" >&2
    if ! { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } \
      || ! "$venv/bin/pip" install --quiet 'nx-27017==0.8.1'; then
      echo "FATAL: MongoDB wire server (nx-27017) cannot be installed into $venv; the MongoDB tests need it." >&2
      return 1
    fi
  fi
  echo "MongoDB wire server is down; starting nx-27017 on 127.0.0.1:27017" >&2
  mkdir -p "$root/target"
  nohup "$venv/bin/nx-27017" --db memory --host 127.0.0.1 -p 27017 \
    >"$root/target/nx-27017.log" 2>&1 </dev/null &
  if ! wait_for "MongoDB wire server (nx-27017)" bash -c 'exec 3<>/dev/tcp/127.0.0.1/27017'; then
    echo "FATAL: MongoDB wire server (nx-27017) did not start; see $root/target/nx-27017.log" >&2
    return 1
  fi
}

# nx-27017 answers the wire protocol but not every operator faithfully
# (its `$type` reports an absent field as null, `$avg` reads numeric text),
# so the semantic MongoDB tests run on SecantusDB (PyPI, GPL-2.0: run only
# as this separate test process, never linked or shipped), in its own venv,
# on 127.0.0.1:27018 with in-memory storage, logging to
# target/secantusd.log. DQ_TEST_MONGO_URL replaces it too.
ensure_secantus() {
  if [ -n "${DQ_TEST_MONGO_URL:-}" ]; then return 0; fi
  local root venv
  root="$(cd "$(dirname "$0")/.." && pwd)"
  venv="${DQ_TEST_SECANTUS_VENV:-$root/target/secantus-venv}"
  if (exec 3<>/dev/tcp/127.0.0.1/27018) 2>/dev/null; then return 0; fi
  if [ ! -x "$venv/bin/secantusd-py" ]; then
    echo "SecantusDB is missing; installing it into $venv" >&2
    if ! { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } \
      || ! "$venv/bin/pip" install --quiet 'secantusdb==0.7.0b3'; then
      echo "FATAL: MongoDB wire server (SecantusDB) cannot be installed into $venv; the MongoDB tests need it." >&2
      return 1
    fi
  fi
  echo "MongoDB wire server is down; starting SecantusDB on 127.0.0.1:27018" >&2
  mkdir -p "$root/target"
  nohup "$venv/bin/secantusd-py" --host 127.0.0.1 --port 27018 --storage-path :memory: \
    >"$root/target/secantusd.log" 2>&1 </dev/null &
  if ! wait_for "MongoDB wire server (SecantusDB)" bash -c 'exec 3<>/dev/tcp/127.0.0.1/27018'; then
    echo "FATAL: MongoDB wire server (SecantusDB) did not start; see $root/target/secantusd.log" >&2
    return 1
  fi
}

# Not a service but a tool: aiosmtpd, the real SMTP server the alert tests
# start (crates/alerts/tests/common/smtp.rs), in a venv under target/
# (override with DQ_TEST_VENV). A Python package needs no compiling, which
# an SMTP server crate would.
ensure_smtpd() {
  local venv="${DQ_TEST_VENV:-$(cd "$(dirname "$0")/.." && pwd)/target/test-venv}"
  if "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then return 0; fi
  echo "aiosmtpd is missing; installing it into $venv" >&2
  if python3 -m venv "$venv" && "$venv/bin/pip" install --quiet 'aiosmtpd==1.4.6'; then
    return 0
  fi
  echo "FATAL: cannot install aiosmtpd into $venv; the alert tests need it." >&2
  return 1
}

# Not a service but a tool: promtool, which scripts/check-deploy.sh runs on
# deploy/prometheus (config, rules, rule unit tests). Debian's prometheus
# package ships it.
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then return 0; fi
  echo "promtool is missing; installing Debian's prometheus package" >&2
  local install=(apt-get install -y --no-install-recommends prometheus)
  if DEBIAN_FRONTEND=noninteractive "${install[@]}" \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive "${install[@]}"; }; then
    command -v promtool >/dev/null 2>&1 && return 0
  fi
  echo "FATAL: promtool is missing and could not be installed (apt-get install prometheus); scripts/check-deploy.sh needs it." >&2
  return 1
}

services=("$@")
[ ${#services[@]} -gt 0 ] || services=(postgres redis rabbitmq mongo secantus smtpd promtool)
status=0
for service in "${services[@]}"; do
  case "$service" in
    postgres) ensure_postgres || status=1 ;;
    redis) ensure_redis || status=1 ;;
    rabbitmq) ensure_rabbitmq || status=1 ;;
    mongo) ensure_mongo || status=1 ;;
    secantus) ensure_secantus || status=1 ;;
    smtpd) ensure_smtpd || status=1 ;;
    promtool) ensure_promtool || status=1 ;;
    *) echo "FATAL: unknown service $service" >&2; status=1 ;;
  esac
done
exit $status
