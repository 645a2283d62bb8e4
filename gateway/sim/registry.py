"""The catalogue turned into lookup structures and pre-rendered OpenRouter `/models` documents.

Everything here is built once per app; the request path only does dict lookups on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway.sim.catalogue import MODELS, PROVIDERS

OUTPUT_KINDS = ("text", "image", "embeddings", "audio")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One fake provider serving one model, at its own price."""

    slug: str
    name: str
    tag: str
    quantization: str
    cancellable: bool
    dialect: str
    prompt_price: float
    completion_price: float
    image_output_price: float
    latency_s: float
    throughput: float
    uptime: float


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    name: str
    context_length: int
    max_output: int
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    reasoning: str | None
    moderated: bool
    free: bool
    supported_parameters: frozenset[str]
    endpoints: tuple[Endpoint, ...]
    dimensions: int | None = None  # embedding models: the default vector length


def _endpoint(raw: dict[str, Any], pricing: dict[str, str]) -> Endpoint:
    provider = PROVIDERS[raw["provider"]]
    factor = raw["price_factor"]
    return Endpoint(
        slug=raw["provider"], name=provider["name"], tag=raw["tag"], quantization=raw["quantization"],
        cancellable=provider["cancellable"], dialect=provider["dialect"],
        prompt_price=float(pricing["prompt"]) * factor, completion_price=float(pricing["completion"]) * factor,
        image_output_price=float(pricing.get("image_output", pricing["completion"])) * factor,
        latency_s=raw["latency_s"], throughput=raw["throughput"], uptime=raw["uptime"],
    )


def _spec(raw: dict[str, Any]) -> ModelSpec:
    return ModelSpec(
        id=raw["id"], name=raw["name"], context_length=raw["context_length"],
        max_output=raw["max_output"] or raw["context_length"], input_modalities=tuple(raw["input"]),
        output_modalities=tuple(raw["output"]), reasoning=raw["reasoning"], moderated=raw["moderated"],
        free=raw["id"].endswith(":free"), supported_parameters=frozenset(raw["parameters"]),
        endpoints=tuple(_endpoint(e, raw["pricing"]) for e in raw["endpoints"]), dimensions=raw.get("dimensions"),
    )


def _architecture(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "modality": "+".join(raw["input"]) + "->" + "+".join(raw["output"]),
        "input_modalities": raw["input"], "output_modalities": raw["output"],
        "tokenizer": raw["tokenizer"], "instruct_type": raw.get("instruct_type"),
    }


def _model_document(raw: dict[str, Any]) -> dict[str, Any]:
    """The §5.1 Model object: pricing as strings, no `object`/`owned_by` (those are OpenAI's, not OpenRouter's)."""
    document: dict[str, Any] = {
        "id": raw["id"], "canonical_slug": raw["canonical_slug"], "hugging_face_id": "", "name": raw["name"],
        "created": raw["created"], "description": raw["description"], "context_length": raw["context_length"],
        "architecture": _architecture(raw), "pricing": dict(raw["pricing"]),
        "top_provider": {"context_length": raw["context_length"], "max_completion_tokens": raw["max_output"],
                         "is_moderated": raw["moderated"]},
        "per_request_limits": None, "supported_parameters": sorted(raw["parameters"]),
        "default_parameters": {"temperature": None, "top_p": None, "frequency_penalty": None},
        "expiration_date": None, "links": {"details": f"/api/v1/models/{raw['id']}/endpoints"},
    }
    if raw["reasoning"]:
        document["reasoning"] = {
            "supported_efforts": ["high", "medium", "low", "minimal"], "default_effort": "medium",
            "default_enabled": raw["reasoning"] == "mandatory", "mandatory": raw["reasoning"] == "mandatory",
        }
    return document


def _endpoint_document(raw: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    def price(value: float) -> str:
        return format(value, ".12f").rstrip("0").rstrip(".") or "0"

    latency = endpoint.latency_s
    throughput = endpoint.throughput
    return {
        "name": f"{endpoint.name} | {raw['id']}", "model_id": raw["id"], "model_name": raw["name"],
        "context_length": raw["context_length"],
        "pricing": {"prompt": price(endpoint.prompt_price), "completion": price(endpoint.completion_price)},
        "provider_name": endpoint.name, "tag": endpoint.tag, "quantization": endpoint.quantization,
        "max_completion_tokens": raw["max_output"], "max_prompt_tokens": None,
        "supported_parameters": sorted(raw["parameters"]), "status": 0,
        "uptime_last_30m": endpoint.uptime, "uptime_last_5m": endpoint.uptime, "uptime_last_1d": endpoint.uptime,
        "supports_implicit_caching": endpoint.slug in ("openai", "google-ai-studio", "deepseek"),
        "latency_last_30m": {"p50": latency, "p75": latency * 1.3, "p90": latency * 1.8, "p99": latency * 3},
        "throughput_last_30m": {"p50": throughput, "p75": throughput * 0.85, "p90": throughput * 0.7,
                                "p99": throughput * 0.4},
    }


class Registry:
    """Model specs by id and the pre-rendered public documents about them."""

    def __init__(self) -> None:
        self.models: dict[str, ModelSpec] = {}
        self._documents: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._listing_cache: dict[tuple[str, str], bytes] = {}
        self._endpoints: dict[str, bytes] = {}
        self._added: list[str] = []
        for raw in MODELS:
            self._register(raw)

    def _register(self, raw: dict[str, Any]) -> None:
        spec = self.models[raw["id"]] = _spec(raw)
        self._documents.append((raw, _model_document(raw)))
        data = {"id": raw["id"], "name": raw["name"], "created": raw["created"],
                "description": raw["description"], "architecture": _architecture(raw),
                "endpoints": [_endpoint_document(raw, e) for e in spec.endpoints]}
        self._endpoints[raw["id"]] = orjson.dumps({"data": data})
        self._listing_cache.clear()

    def add_like(self, model_id: str, template: str) -> None:
        """A model OpenRouter "just added": a copy of `template` under a new id, until `remove_added`."""
        raw = next((raw for raw, _ in self._documents if raw["id"] == template), None)
        if raw is None:
            raise ValueError(f"unknown template model {template!r}")
        if model_id in self.models:
            raise ValueError(f"model {model_id!r} exists already")
        self._register({**raw, "id": model_id, "canonical_slug": model_id, "name": f"Added: {model_id}"})
        self._added.append(model_id)

    def remove_added(self) -> None:
        if not self._added:
            return
        added = set(self._added)
        self._documents = [(raw, doc) for raw, doc in self._documents if raw["id"] not in added]
        for model_id in added:
            self.models.pop(model_id, None)
            self._endpoints.pop(model_id, None)
        self._added.clear()
        self._listing_cache.clear()

    def get(self, model_id: str) -> ModelSpec | None:
        return self.models.get(model_id)

    def _select(self, output_modalities: str, supported_parameters: str) -> list[dict[str, Any]]:
        wanted = {m.strip() for m in (output_modalities or "text").split(",") if m.strip()}
        needed = {p.strip() for p in supported_parameters.split(",") if p.strip()}
        chosen = []
        for raw, document in self._documents:
            if "all" not in wanted and not wanted.intersection(raw["output"]):
                continue
            if not needed.issubset(raw["parameters"]):
                continue
            chosen.append(document)
        return chosen

    def listing(self, output_modalities: str, supported_parameters: str) -> bytes:
        key = (output_modalities, supported_parameters)
        cached = self._listing_cache.get(key)
        if cached is None:
            cached = orjson.dumps({"data": self._select(output_modalities, supported_parameters)})
            if len(self._listing_cache) < 256:
                self._listing_cache[key] = cached
        return cached

    def count(self, output_modalities: str) -> int:
        return len(self._select(output_modalities, ""))

    def endpoints(self, model_id: str) -> bytes | None:
        return self._endpoints.get(model_id)
