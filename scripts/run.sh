#!/usr/bin/env bash
# Quickstart: install the gateway into .venv and run it on http://127.0.0.1:${PORT:-8080}.
# Without OPENROUTER_API_KEY it runs on the built-in OpenRouter simulator (and says so).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/gateway ]; then
  echo "Installing the gateway into .venv ..." >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e .
fi

if [ -z "${GATEWAY_JWT_SECRET:-}" ]; then
  # A development secret kept in the work tree, so tokens minted here stay valid across restarts.
  [ -f .gateway-dev-secret ] || .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(32))" > .gateway-dev-secret
  GATEWAY_JWT_SECRET="$(cat .gateway-dev-secret)"
  export GATEWAY_JWT_SECRET
fi
export GATEWAY_POLICY_FILE="${GATEWAY_POLICY_FILE:-policies/default.yaml}"
PORT="${PORT:-8080}"
TOKEN="$(.venv/bin/gateway token mint --org demo --sub quickstart --ttl 86400)"

cat <<SNIPPET

Gateway: http://127.0.0.1:${PORT}/v1   (token for org "demo", valid 24 h)

  export GATEWAY_TOKEN=${TOKEN}

  curl http://127.0.0.1:${PORT}/v1/chat/completions \\
    -H "Authorization: Bearer \$GATEWAY_TOKEN" -H "Content-Type: application/json" \\
    -d '{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}]}'

  python3 -c 'import os, openai; c = openai.OpenAI(base_url="http://127.0.0.1:${PORT}/v1", api_key=os.environ["GATEWAY_TOKEN"]); print(c.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}]).choices[0].message.content)'

SNIPPET

if [ -z "${OPENROUTER_API_KEY:-}" ]; then
  echo "OPENROUTER_API_KEY is not set: running on the built-in OpenRouter simulator." >&2
  exec .venv/bin/gateway serve --simulate --host "${HOST:-127.0.0.1}" --port "$PORT"
fi
exec .venv/bin/gateway serve --host "${HOST:-127.0.0.1}" --port "$PORT"
