#!/usr/bin/env bash
# Checks deploy/: the Prometheus config, rules and rule unit tests
# (promtool), the systemd units (systemd-analyze), and what no packaged tool
# checks: YAML syntax, the Grafana dashboard, and that every metric and
# label named there is one dq exports (scripts/check-deploy.py).
# Runs every check, then fails naming each one that failed.
# Needs promtool (scripts/services.sh promtool installs it), systemd-analyze
# and python3; PyYAML goes into the test venv (target/test-venv, or
# $DQ_TEST_VENV) like aiosmtpd in scripts/services.sh.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Runs a check quietly (but for its WARN lines); on failure prints its
# output and remembers its name.
check() { # name, command...
  local name=$1; shift
  if "$@" >"$scratch/out" 2>&1; then
    echo "ok   $name"
    grep '^WARN' "$scratch/out" | sed 's/^/     /' || true
  else
    echo "FAIL $name" >&2
    sed 's/^/     /' "$scratch/out" >&2
    failed+=("$name")
  fi
}

require() { # command, why
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "FATAL: $1 is not installed; $2" >&2
  exit 1
}

require promtool "install it with scripts/services.sh promtool (Debian's prometheus package)"
require systemd-analyze "it comes with systemd"
require python3 "the YAML and metric-name checks are Python"

venv="${DQ_TEST_VENV:-$PWD/target/test-venv}"
if ! "$venv/bin/python" -c 'import yaml' >/dev/null 2>&1; then
  echo "PyYAML is missing; installing it into $venv" >&2
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet 'PyYAML==6.0.2'; }; then
    echo "FATAL: cannot install PyYAML into $venv; scripts/check-deploy.py needs it." >&2
    exit 1
  fi
fi

# systemd-analyze verify insists that ExecStart's binary exists, and dq is
# not installed here: it verifies copies whose ExecStart runs /bin/true with
# the same arguments. Nothing else is changed (compared below), so every
# directive, section and value is really verified. Any message counts as a
# failure: unknown keys and bad values are only warnings to systemd.
verify_units() {
  local dir="$scratch/units" unit copy name status=0 out
  mkdir -p "$dir"
  for unit in deploy/systemd/*.service deploy/systemd/*.timer; do
    copy="$dir/$(basename "$unit")"
    sed 's#^ExecStart=/usr/local/bin/dq #ExecStart=/bin/true #' "$unit" >"$copy"
    if grep -q '^ExecStart=' "$unit" && ! grep -q '^ExecStart=/bin/true ' "$copy"; then
      echo "$unit: ExecStart must run /usr/local/bin/dq (where deploy/README.md installs it)"
      status=1
    fi
    if ! diff <(grep -v '^ExecStart=' "$unit") <(grep -v '^ExecStart=' "$copy") >/dev/null; then
      echo "$unit: the copy differs beyond ExecStart"
      status=1
    fi
  done
  for copy in "$dir"/*; do
    name=$(basename "$copy")
    case "$name" in
      dq-worker@.service) # verified as each instance the env files configure
        for env in deploy/systemd/worker-*.env; do
          env=$(basename "$env" .env)
          out=$(cd "$dir" && systemd-analyze verify "./dq-worker@${env#worker-}.service" 2>&1) || status=1
          [ -z "$out" ] || { echo "$out"; status=1; }
        done ;;
      *@.service) echo "$name: a template without instances to verify"; status=1 ;;
      *)
        out=$(cd "$dir" && systemd-analyze verify "./$name" 2>&1) || status=1
        [ -z "$out" ] || { echo "$out"; status=1; } ;;
    esac
  done
  return $status
}

# The long-running services keep systemd's exposure score low (dq-run is a
# oneshot kept as it was).
units_hardened() {
  local name status=0
  for name in dq-worker@dq_database.service dq-beat.service dq-api.service; do
    (cd "$scratch/units" && systemd-analyze security --offline=yes --threshold=20 --no-pager "./$name") \
      || { echo "$name: exposure above 2.0 (systemd-analyze security --threshold=20, on a 0-100 scale)"; status=1; }
  done
  return $status
}

# kubectl is optional: when present it builds the kustomization as
# `kubectl apply -k` would.
kustomize_builds() {
  kubectl kustomize deploy/kubernetes >/dev/null
}

check "promtool check config deploy/prometheus/prometheus.yml" \
  promtool check config deploy/prometheus/prometheus.yml
check "promtool check rules deploy/prometheus/rules" \
  promtool check rules deploy/prometheus/rules/*.yml
check "promtool test rules deploy/prometheus/tests" \
  promtool test rules deploy/prometheus/tests/*.test.yml
check "systemd-analyze verify deploy/systemd" verify_units
check "systemd-analyze security deploy/systemd" units_hardened
check "YAML, dashboard, metric names and cross-references (scripts/check-deploy.py)" \
  "$venv/bin/python" scripts/check-deploy.py
if command -v kubectl >/dev/null 2>&1; then
  check "kubectl kustomize deploy/kubernetes" kustomize_builds
else
  echo "skip kubectl kustomize deploy/kubernetes (kubectl not installed)"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "FATAL: deploy/ checks failed:" >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "deploy/: all checks passed"
