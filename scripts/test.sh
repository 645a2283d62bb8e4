#!/usr/bin/env bash
# Install everything the tests need into .venv, then lint and run the whole suite (extra args go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[test,load]"

# The tests need a real Redis (REDIS_URL, 127.0.0.1:6379, or a redis-server they start) and the redis-server and
# redis-cli binaries to start a three-node Redis Cluster of their own.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "No Redis found: installing redis-server with apt-get ..." >&2
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  else
    echo "The tests need Redis's redis-server and redis-cli (e.g. apt-get install redis-server)." >&2
    exit 1
  fi
fi

# The benchmark's smoke test drives wrk, a C load generator from the distribution's packages.
if ! command -v wrk >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "No wrk found: installing it with apt-get ..." >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "The benchmark tests need wrk (e.g. apt-get install wrk)." >&2
    exit 1
  fi
fi

.venv/bin/ruff check gateway tests loadtests
.venv/bin/pytest -q -p no:cacheprovider "$@"
