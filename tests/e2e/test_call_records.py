"""Call records for research, end to end: the simulator and a gateway on real sockets, a real Redis ledger, the
`openai` SDK, and the admin export (and `gateway calls`) to read the records back."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from openai import BadRequestError, OpenAI

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from gateway.metering.record import FIELD_NAMES
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve

ROOT = Path(__file__).resolve().parents[2]
MODEL = "openai/gpt-4o-mini"
CAP = 60
POLICY = """
tasks:
  notes:
    primary: openai/gpt-4o-mini
    capture: [prompt]
orgs:
  research:
    capture: [output]
  plain: {}
retry:
  max_attempts: 1
"""


class Gateway:
    def __init__(self, server: ServerThread, stream_key: str, redis_url: str) -> None:
        self.url = server.url
        self.stream_key = stream_key
        self.redis_url = redis_url

    def sdk(self, org: str, tag: str, capture: str | None = None) -> OpenAI:
        headers = {"x-gateway-tags": f"run={tag}"}
        if capture is not None:
            headers["x-gateway-capture"] = capture
        token = mint_token(JWT_SECRET, org=org, subject="alice", roles=["user"])
        return OpenAI(base_url=f"{self.url}/v1", api_key=token, default_headers=headers, max_retries=0)

    def export(self, org: str, *, fmt: str = "jsonl", role: str = "admin", **params: str) -> httpx.Response:
        token = mint_token(JWT_SECRET, org=org, subject="boss", roles=[role])
        return httpx.get(f"{self.url}/admin/orgs/{org}/calls/export", params={"format": fmt, **params},
                         headers={"authorization": f"Bearer {token}"}, timeout=30)

    def records(self, org: str, tag: str, count: int) -> list[dict]:
        """The records tagged run=`tag` in the order the calls were made, once all `count` of them are written
        (settlement is in the background; the export lists the newest first)."""
        deadline = time.monotonic() + 10
        while True:
            response = self.export(org, tag=f"run:{tag}")
            assert response.status_code == 200, response.text
            records = [orjson.loads(line) for line in response.text.splitlines()]
            if len(records) >= count or time.monotonic() > deadline:
                assert len(records) == count
                return sorted(records, key=lambda record: record["timestamp"])
            time.sleep(0.05)


@pytest.fixture(scope="module")
def gateway(sim_server: ServerThread, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("records")
    policy = directory / "policy.yaml"
    policy.write_text(POLICY)
    stream_key = f"gw:ledger:records-{uuid.uuid4().hex}"
    settings = gateway_settings(f"{sim_server.url}/api/v1", policy_file=str(policy), redis_url=redis_url,
                                ledger_stream_key=stream_key, ledger_capture_max_chars=CAP,
                                spool_dir=str(directory / "spool"))
    with serve(create_app(settings)) as server:
        yield Gateway(server, stream_key, redis_url)


def _chat_seeds(sim: Sim) -> list[int | None]:
    return [r["body"].get("seed") for r in sim.requests() if r["path"].endswith("/chat/completions")]


def test_a_seeded_n3_sends_three_seeds_and_the_record_lists_each_choice(gateway: Gateway, sim: Sim) -> None:
    tag = uuid.uuid4().hex
    prompt = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Name a colour."}]
    answer = gateway.sdk("plain", tag).chat.completions.create(model=MODEL, messages=prompt, n=3, seed=11)
    assert sorted(_chat_seeds(sim)) == [11, 12, 13]  # three different seeds went upstream
    assert [choice.index for choice in answer.choices] == [0, 1, 2]
    [record] = gateway.records("plain", tag, 1)
    assert [choice["seed"] for choice in record["choices"]] == [11, 12, 13]
    assert [choice["finish_reason"] for choice in record["choices"]] == [c.finish_reason for c in answer.choices]
    assert all("text" not in choice for choice in record["choices"])  # no capture asked for: no text kept
    assert record["endpoint"] == "chat.completions"
    assert record["model_version"] == answer.model
    assert record["system_fingerprint"] == answer.system_fingerprint
    assert record["prompt_sha256"] == hashlib.sha256(b"Answer briefly.\nName a colour.").hexdigest()
    assert record["messages_sha256"] != record["prompt_sha256"] and len(record["messages_sha256"]) == 64
    assert record["prompt"] is None and record["error_message"] is None


def test_a_seeded_n3_stream_captures_each_choices_text_when_the_request_asks(gateway: Gateway, sim: Sim) -> None:
    tag = uuid.uuid4().hex
    stream = gateway.sdk("plain", tag, capture="output").chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Tell a story."}], n=3, seed=100, stream=True)
    texts = ["", "", ""]
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert sorted(_chat_seeds(sim)) == [100, 101, 102]
    [record] = gateway.records("plain", tag, 1)
    assert [choice["seed"] for choice in record["choices"]] == [100, 101, 102]
    for choice, text in zip(record["choices"], texts, strict=True):
        assert text  # the simulator answered something, so the check below can fail
        expected = text if len(text) <= CAP else text[:CAP] + f"…[truncated {len(text) - CAP} chars]"
        assert choice["text"] == expected
        assert choice.get("truncated", False) is (len(text) > CAP)
    assert record["stream"] is True and record["prompt"] is None


def test_unseeded_copies_go_upstream_without_a_seed(gateway: Gateway, sim: Sim) -> None:
    tag = uuid.uuid4().hex
    gateway.sdk("plain", tag).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], n=2)
    assert _chat_seeds(sim) == [None, None]
    [record] = gateway.records("plain", tag, 1)
    assert [choice["seed"] for choice in record["choices"]] == [None, None]


def test_capture_follows_org_task_and_header_with_the_size_cap(gateway: Gateway, sim: Sim) -> None:
    tag = uuid.uuid4().hex
    long_prompt = "Please summarise the following notes carefully: " + "lorem ipsum " * 10
    messages = [{"role": "user", "content": long_prompt}]
    gateway.sdk("plain", tag).chat.completions.create(model=MODEL, messages=messages)
    gateway.sdk("plain", tag).chat.completions.create(model="notes", messages=messages)  # the task captures prompts
    research = gateway.sdk("research", tag).chat.completions.create(model=MODEL, messages=messages)  # org: outputs
    gateway.sdk("plain", tag, capture="prompt,output").chat.completions.create(model=MODEL, messages=messages)
    plain, task, header = gateway.records("plain", tag, 3)
    [org] = gateway.records("research", tag, 1)

    assert plain["prompt"] is None and "text" not in plain["choices"][0]
    truncated_prompt = long_prompt[:CAP] + f"…[truncated {len(long_prompt) - CAP} chars]"
    assert (task["task"], task["prompt"], task["prompt_truncated"]) == ("notes", truncated_prompt, True)
    assert "text" not in task["choices"][0]
    assert org["prompt"] is None
    assert org["choices"][0]["text"].startswith((research.choices[0].message.content or "")[:CAP])
    assert header["prompt"] == truncated_prompt and "text" in header["choices"][0]
    assert task["prompt_sha256"] == hashlib.sha256(long_prompt.encode()).hexdigest()  # whatever was kept


def test_a_failed_call_records_a_sanitised_error_message(gateway: Gateway, sim: Sim) -> None:
    tag = uuid.uuid4().hex
    client = gateway.sdk("plain", tag)
    with pytest.raises(BadRequestError) as raised:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello there"}],
                                       extra_body={"sim": {"error": 400}})
    [record] = gateway.records("plain", tag, 1)
    assert record["status"] == 400
    assert record["error_message"] and record["error_message"] in str(raised.value)
    assert record["choices"] is None


def test_a_bad_capture_header_is_refused(gateway: Gateway, sim: Sim) -> None:
    token = mint_token(JWT_SECRET, org="plain", subject="alice", roles=["user"])
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json={"model": MODEL, "messages": [
        {"role": "user", "content": "x"}]}, headers={"authorization": f"Bearer {token}",
                                                     "x-gateway-capture": "everything"}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "x-gateway-capture"


def test_responses_records_name_their_endpoint_and_hash_the_input_text(gateway: Gateway, sim: Sim) -> None:
    tag = uuid.uuid4().hex
    answer = gateway.sdk("plain", tag, capture="output").responses.create(model=MODEL, input="Say hello.")
    [record] = gateway.records("plain", tag, 1)
    assert record["endpoint"] == "responses"
    assert record["prompt_sha256"] == hashlib.sha256(b"Say hello.").hexdigest()
    assert record["choices"][0]["finish_reason"] == "completed"
    assert answer.output_text.startswith(record["choices"][0]["text"].split("…[truncated")[0])


def test_export_streams_every_field_as_csv_filtered_by_tag_and_only_to_the_orgs_admins(
    gateway: Gateway, sim: Sim
) -> None:
    tag, other = uuid.uuid4().hex, uuid.uuid4().hex
    for run in (tag, tag, other):
        gateway.sdk("plain", run).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    gateway.records("plain", tag, 2)
    response = gateway.export("plain", fmt="csv", tag=f"run={tag}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2 and all(orjson.loads(row["tags"]) == {"run": tag} for row in rows)
    assert tuple(rows[0]) == FIELD_NAMES
    assert gateway.export("plain", tag=f"run:{other}").text.count("\n") == 1
    assert gateway.export("plain", role="user").status_code == 403
    assert gateway.export("research", tag=f"run:{tag}").text == ""  # another org's records are not in its export
    forbidden = httpx.get(f"{gateway.url}/admin/orgs/research/calls/export", timeout=10, headers={
        "authorization": f"Bearer {mint_token(JWT_SECRET, org='plain', subject='boss', roles=['admin'])}"})
    assert forbidden.status_code == 403
    assert gateway.export("plain", fmt="xml").status_code == 400
    bare = [orjson.loads(line) for line in gateway.export("plain", tag="run").text.splitlines()]
    assert {tag, other} <= {record["tags"]["run"] for record in bare}  # a bare tag key matches any of its values


def test_gateway_calls_filters_by_tag_and_exports_every_field(gateway: Gateway, sim: Sim) -> None:
    tag = uuid.uuid4().hex
    for run in (tag, uuid.uuid4().hex):
        gateway.sdk("plain", run).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "y"}],
                                                          seed=7)
    gateway.records("plain", tag, 1)
    env = {**os.environ, "REDIS_URL": gateway.redis_url, "GATEWAY_LEDGER_STREAM_KEY": gateway.stream_key}
    result = subprocess.run([sys.executable, "-m", "gateway", "calls", "--tag", f"run={tag}", "--format", "jsonl"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    record = orjson.loads(line)
    assert set(record) == set(FIELD_NAMES)
    assert record["tags"] == {"run": tag} and record["choices"][0]["seed"] == 7
