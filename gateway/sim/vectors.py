"""Deterministic embedding vectors: the same model and input always give the same unit-norm vector.

The full-length vector comes from SHAKE-256 of the model id and the input (as signed 16-bit components);
a smaller `dimensions` keeps its prefix and renormalises it, as text-embedding-3's shortened embeddings do.
Components are float32 values, so the `float` list and the `base64` (little-endian float32) encoding decode to
exactly the same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from array import array
from typing import Any

import orjson


def embedding_vector(model_id: str, item: str | list[int], full_dimensions: int, dimensions: int) -> list[float]:
    key = orjson.dumps([model_id, item])
    raw = struct.unpack(f"<{full_dimensions}h", hashlib.shake_256(key).digest(2 * full_dimensions))[:dimensions]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return array("f", (value / norm for value in raw)).tolist()


def encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embedding_items(model_id: str, inputs: list[Any], full_dimensions: int, dimensions: int,
                    encoding_format: str) -> list[dict[str, Any]]:
    data = []
    for index, item in enumerate(inputs):
        vector = embedding_vector(model_id, item, full_dimensions, dimensions)
        encoded: Any = encode_base64(vector) if encoding_format == "base64" else vector
        data.append({"object": "embedding", "embedding": encoded, "index": index})
    return data
