#!/usr/bin/env bash
# The whole test suite, as CI runs it: services up, format, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== deploy/"
scripts/check-deploy.sh

echo "== tests"
# broker_restart restarts the shared RabbitMQ, so it runs alone, after the
# rest (which it would otherwise break).
status=0
if cargo nextest --version >/dev/null 2>&1; then
  # Doc tests first: nextest's summary must be the last word of the run.
  cargo test --workspace --locked --doc --quiet
  cargo nextest run --workspace --locked --no-fail-fast -E 'not test(/broker_restart/)' || status=$?
  cargo nextest run --workspace --locked -E 'test(/broker_restart/)' --test-threads 1 || status=$?
else
  cargo test --workspace --locked --no-fail-fast -- --skip broker_restart || status=$?
  cargo test -p dq --locked --test broker_restart || status=$?
fi
exit $status
