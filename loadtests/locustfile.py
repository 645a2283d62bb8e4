"""Realistic traffic for the gateway: several orgs, a streaming share, tool calls, n>1, and a share of bad requests.

    GATEWAY_JWT_SECRET=... locust -f loadtests/locustfile.py --host http://127.0.0.1:8080 \\
        --headless -u 50 -r 10 -t 60s

Tokens are minted locally with GATEWAY_JWT_SECRET for orgs LOCUST_ORGS (comma list, default acme,globex,initech).
Bad requests expect their 4xx and count as failures only if the gateway answers anything else.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, between, task

from gateway.auth.tokens import mint_token

SECRET = os.environ.get("GATEWAY_JWT_SECRET", "")
ORGS = [org for org in os.environ.get("LOCUST_ORGS", "acme,globex,initech").split(",") if org]
MODELS = os.environ.get("LOCUST_MODELS", "openai/gpt-4o-mini,anthropic/claude-haiku-4.5,deepseek/deepseek-chat-v3.1")
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


class AppTeam(FastHttpUser):
    """One application of one org, calling the gateway the way an OpenAI SDK would."""

    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        if not SECRET:
            raise RuntimeError("set GATEWAY_JWT_SECRET to the gateway's HS256 secret")
        org = random.choice(ORGS)
        self.headers = {"authorization": f"Bearer {mint_token(SECRET, org=org, subject=f'locust-{id(self)}')}"}
        self.models = MODELS.split(",")

    def _chat(self, name: str, body: dict, expect: int = 200) -> None:
        with self.client.post("/v1/chat/completions", json=body, headers=self.headers, name=name,
                              catch_response=True, stream=bool(body.get("stream"))) as response:
            if body.get("stream") and response.status_code == 200:
                text = response.content or b""
                if b"data: [DONE]" not in text:
                    response.failure("stream ended without [DONE]")
                    return
            if response.status_code == expect:
                response.success()
            else:
                response.failure(f"expected {expect}, got {response.status_code}")

    @task(10)
    def plain(self) -> None:
        self._chat("chat json", {"model": random.choice(self.models), "max_tokens": 64,
                                 "messages": [{"role": "user", "content": "Summarise the quarterly plan"}]})

    @task(6)
    def streamed(self) -> None:
        self._chat("chat stream", {"model": random.choice(self.models), "max_tokens": 64, "stream": True,
                                   "stream_options": {"include_usage": True},
                                   "messages": [{"role": "user", "content": "Write a short poem"}]})

    @task(3)
    def tools(self) -> None:
        self._chat("chat tools", {"model": "openai/gpt-4o", "tools": [WEATHER_TOOL],
                                  "messages": [{"role": "user", "content": "Weather in Paris and London?"}]})

    @task(2)
    def several_choices(self) -> None:
        self._chat("chat n=2", {"model": random.choice(self.models), "n": 2, "max_tokens": 32,
                                "messages": [{"role": "user", "content": "Name a product"}]})

    @task(2)
    def bad_request(self) -> None:
        self._chat("bad request", {"model": random.choice(self.models), "messages": []}, expect=400)

    @task(1)
    def unknown_model(self) -> None:
        self._chat("unknown model", {"model": "nobody/none", "messages": [{"role": "user", "content": "x"}]},
                   expect=404)
