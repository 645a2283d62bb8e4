"""A near-free OpenRouter stand-in for benchmarks: the same chat answer and the same short SSE stream every time.

    python -m loadtests.canned --port 8091 [--delay-ms 50]

A raw asyncio protocol on uvloop with httptools' C parser, keep-alive, no framework: a call costs a few
microseconds here, so a benchmark measures the proxy in front of it, not the upstream. Serves
`POST /api/v1/chat/completions` (a JSON answer, or a stream when the body asks for `"stream": true`),
`GET /api/v1/models` (one priced model, for the gateway's catalogue), `GET /healthz`, and `POST /control` with
`{"delay_ms": N}` to change the fixed delay before every answer (the first stream chunk) between runs.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

import httptools
import orjson
import uvloop

MODEL = "openai/gpt-4o-mini"
_IDENTITY = {"id": "gen-canned-0001", "provider": "OpenAI", "model": MODEL, "created": 1767000000}
_USAGE = {
    "prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20, "cost": 0.0000057, "is_byok": False,
    "prompt_tokens_details": {"cached_tokens": 0},
    "cost_details": {"upstream_inference_cost": None, "upstream_inference_prompt_cost": 0.0000021,
                     "upstream_inference_completions_cost": 0.0000036},
    "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": 0},
}
CHAT = orjson.dumps({
    **_IDENTITY, "object": "chat.completion",
    "choices": [{"logprobs": None, "finish_reason": "stop", "native_finish_reason": "stop", "index": 0,
                 "message": {"role": "assistant", "content": "Load tests measure the proxy.", "refusal": None,
                             "reasoning": None}}],
    "usage": _USAGE,
})


def _chunk(choices: list[dict[str, object]], **extra: object) -> bytes:
    return b"data: " + orjson.dumps({**_IDENTITY, "object": "chat.completion.chunk", "choices": choices, **extra}) \
        + b"\n\n"


def _delta(content: str, finish: str | None = None) -> dict[str, object]:
    return {"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": finish,
            "native_finish_reason": finish, "logprobs": None}


# Sent as two writes: the first token, then the rest, so time to first token is observable through a proxy.
STREAM_HEAD = b": OPENROUTER PROCESSING\n\n" + _chunk([_delta("Load")])
STREAM_TAIL = (_chunk([_delta(" tests")]) + _chunk([_delta(" measure.")]) + _chunk([_delta("", "stop")])
               + _chunk([], usage=_USAGE) + b"data: [DONE]\n\n")
MODELS = orjson.dumps({"data": [{
    "id": MODEL, "canonical_slug": MODEL, "name": "OpenAI: GPT-4o-mini", "created": 1721260800,
    "context_length": 128000, "architecture": {"input_modalities": ["text"], "output_modalities": ["text"],
                                               "tokenizer": "GPT"},
    "pricing": {"prompt": "0.00000015", "completion": "0.0000006"},
    "top_provider": {"context_length": 128000, "max_completion_tokens": 16384, "is_moderated": True},
    "supported_parameters": ["max_tokens", "temperature", "stream"],
}]})


def _response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


_STREAM_HEADERS = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@dataclass
class Knobs:
    delay_s: float = 0.0


class CannedProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools and answer each from the precomputed bytes."""

    def __init__(self, knobs: Knobs) -> None:
        self._knobs = knobs
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's transport does not subclass it

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        url, body = self._url.partition(b"?")[0], b"".join(self._body)  # the catalogue asks /models?output_…
        self._url, self._body = b"", []
        if url.endswith(b"/chat/completions"):
            stream = b'"stream":true' in body.replace(b" ", b"")
            self._later(self._stream if stream else self._chat)
        elif url.endswith(b"/models"):
            self._write(_response(b"200 OK", b"application/json", MODELS))
        elif url == b"/control":
            self._knobs.delay_s = float(orjson.loads(body or b"{}").get("delay_ms", 0)) / 1000
            self._write(_response(b"200 OK", b"application/json", b'{"ok":true}'))
        else:
            self._write(_response(b"200 OK", b"text/plain", b"ok"))

    def _later(self, answer: object) -> None:
        if self._knobs.delay_s > 0:
            self._loop.call_later(self._knobs.delay_s, answer)  # type: ignore[arg-type]
        else:
            answer()  # type: ignore[operator]

    def _chat(self) -> None:
        self._write(_response(b"200 OK", b"application/json", CHAT))

    def _stream(self) -> None:
        self._write(_STREAM_HEADERS + _chunked(STREAM_HEAD))
        self._loop.call_soon(self._write, _chunked(STREAM_TAIL) + b"0\r\n\r\n")

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)


async def serve(host: str, port: int, delay_ms: float) -> None:
    knobs = Knobs(delay_ms / 1000)
    server = await asyncio.get_running_loop().create_server(lambda: CannedProtocol(knobs), host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port, args.delay_ms))


if __name__ == "__main__":
    main()
