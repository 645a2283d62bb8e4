"""A tiny but valid PNG, built with zlib and struct, for simulated image output."""

from __future__ import annotations

import base64
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour 8-bit RGB image; every row starts with filter byte 0 as the format requires."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * width
    pixels = zlib.compress(row * height, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def png_data_url(seed_text: str) -> str:
    """An 8x8 image whose colour is derived from the prompt, so different prompts give different images."""
    digest = zlib.crc32(seed_text.encode())
    rgb = ((digest >> 16) & 0xFF, (digest >> 8) & 0xFF, digest & 0xFF)
    return "data:image/png;base64," + base64.b64encode(make_png(8, 8, rgb)).decode()
