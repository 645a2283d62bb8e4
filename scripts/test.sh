#!/usr/bin/env bash
# Install everything the tests need into .venv, then lint and run the whole suite (extra args go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[test,load]"

# The tests need a real Redis: REDIS_URL, 127.0.0.1:6379, or a redis-server binary they can start.
if [ -z "${REDIS_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && ! command -v redis-server >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "No Redis found: installing redis-server with apt-get ..." >&2
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  else
    echo "The tests need Redis: set REDIS_URL, run one on 127.0.0.1:6379, or install redis-server." >&2
    exit 1
  fi
fi

.venv/bin/ruff check gateway tests loadtests
.venv/bin/pytest -q -p no:cacheprovider "$@"
