"""CORS for browser apps: preflights answered here, before auth, and CORS headers added to every other answer.

Pure ASGI (DESIGN §5). Installed only when `GATEWAY_CORS_ALLOW_ORIGINS` names at least one origin, so a gateway
that never serves browsers keeps answering `OPTIONS` with 405 and adds no headers. It sits outside the request
context middleware, so gateway-made errors (401, 413, 429, 500) carry the headers too: a browser app can only
read an error's body, and so show the user why, when the answer allows its origin.

Two rules the Fetch standard imposes and this module keeps:
- With credentials allowed, `Access-Control-Allow-Origin` must name the origin (`*` is then ignored by browsers),
  so the caller's origin is echoed and `*` in the origin list is refused at startup.
- Any answer that depends on `Origin` says `Vary: Origin`, so a shared cache never serves one origin's
  headers to another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import PermissionDeniedError
from gateway.middleware import send_error

# One DNS label or more: what `*` may stand for in `https://*.example.com` (never a path, port or userinfo).
_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
ALL = "*"


class OriginMatcher:
    """Exact origins (`https://app.example.com`), wildcard subdomains (`https://*.example.com`) or `*`."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.any = False
        self._exact: set[str] = set()
        self._wildcards: list[tuple[str, str]] = []
        for raw in patterns:
            pattern = raw.strip().rstrip("/").lower()
            if pattern == ALL:
                self.any = True
            elif "://*." in pattern:
                scheme, rest = pattern.split("://*.", 1)
                self._wildcards.append((f"{scheme}://", f".{rest}"))
            elif "*" in pattern:
                raise ValueError(f"CORS origin {raw!r}: '*' may only stand for subdomains, as in https://*.example.com")
            elif pattern:
                self._exact.add(pattern)

    def allows(self, origin: str) -> bool:
        origin = origin.lower()
        if self.any or origin in self._exact:
            return True
        for prefix, suffix in self._wildcards:
            if origin.startswith(prefix) and origin.endswith(suffix):
                middle = origin[len(prefix) : len(origin) - len(suffix)]
                if _SUBDOMAIN.match(middle):
                    return True
        return False


@dataclass(frozen=True)
class CorsPolicy:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ("GET", "POST", "OPTIONS")
    allow_headers: tuple[str, ...] = (ALL,)  # `*`: whatever the browser asks for (auth still decides)
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_s: int = 600

    def __post_init__(self) -> None:
        if self.allow_credentials and ALL in (origin.strip() for origin in self.allow_origins):
            raise ValueError("CORS: '*' origins cannot be combined with allowed credentials; list the origins")


class CorsMiddleware:
    def __init__(self, app: ASGIApp, *, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy
        self.origins = OriginMatcher(policy.allow_origins)
        self.methods = {method.upper() for method in policy.allow_methods}
        self.any_header = ALL in policy.allow_headers
        self.headers = {header.lower() for header in policy.allow_headers}
        self._common = self._common_headers()
        self._exposed = ", ".join(policy.expose_headers).encode()

    def _common_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"vary", b"Origin")]
        if self.policy.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    def _allow_origin(self, origin: bytes) -> bytes:
        # `*` only when every origin is allowed and no credentials are: otherwise the origin itself.
        return b"*" if self.origins.any and not self.policy.allow_credentials else origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = request_method = requested_headers = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                request_method = value
            elif name == b"access-control-request-headers":
                requested_headers = value
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and request_method is not None:
            await self._preflight(send, origin, request_method, requested_headers)
            return
        if not self.origins.allows(origin.decode("latin-1")):
            await self.app(scope, receive, send)  # no CORS headers: the browser withholds the answer
            return
        added = [*self._common, (b"access-control-allow-origin", self._allow_origin(origin))]
        if self._exposed:
            added.append((b"access-control-expose-headers", self._exposed))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, send: Send, origin: bytes, method: bytes, requested: bytes | None) -> None:
        """Answer the browser's `OPTIONS` itself: it carries no credentials, so auth must never see it."""
        missing = self._refusal(origin, method, requested)
        if missing is not None:
            # No Access-Control-Allow-Origin: the browser fails the request; the body tells a developer why.
            await send_error(send, PermissionDeniedError(f"CORS preflight refused: {missing}", code="cors_refused"))
            return
        headers = [
            *self._common,
            (b"access-control-allow-origin", self._allow_origin(origin)),
            (b"access-control-allow-methods", ", ".join(sorted(self.methods)).encode()),
            (b"access-control-max-age", str(self.policy.max_age_s).encode()),
            (b"content-length", b"0"),
        ]
        if requested:
            allowed = requested if self.any_header else ", ".join(sorted(self.headers)).encode()
            headers.append((b"access-control-allow-headers", allowed))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _refusal(self, origin: bytes, method: bytes, requested: bytes | None) -> str | None:
        if not self.origins.allows(origin.decode("latin-1")):
            return f"origin {origin.decode('latin-1')} is not allowed"
        if method.decode("latin-1").upper() not in self.methods:
            return f"method {method.decode('latin-1')} is not allowed"
        if requested and not self.any_header:
            names = {name.strip().lower() for name in requested.decode("latin-1").split(",") if name.strip()}
            if extra := sorted(names - self.headers):
                return f"headers {', '.join(extra)} are not allowed"
        return None
