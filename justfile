# Shortcuts for development; every recipe is a plain command you can run without just.

default: test

# Run the demo (builds a SQLite shop with seeded problems, runs every rule)
demo:
    cargo run -p dq -- demo

# The whole suite, as CI runs it
test:
    scripts/test.sh

fmt:
    cargo fmt --all

lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Start PostgreSQL, Redis and RabbitMQ if they are down
services:
    scripts/services.sh
