"""OpenRouter's app attribution (`HTTP-Referer`, `X-Title`): the gateway's own, or the calling app's.

By default every upstream call carries the gateway's attribution (`GATEWAY_APP_REFERER`, `GATEWAY_APP_TITLE`),
built once into the upstream client's headers. Apps that want OpenRouter's rankings and activity under their own
name set `GATEWAY_PASS_CLIENT_ATTRIBUTION=true`; then the client's own `HTTP-Referer` and `X-Title` (or
`X-OpenRouter-Title`) replace the gateway's on that call, each independently. Only these two values pass: the
gateway still never forwards other client headers. A value with control characters or over 256 characters is
ignored (the gateway's own is sent), so a client cannot inject header lines or bloat every upstream request.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_LENGTH = 256
REFERER = "http-referer"
TITLES = ("x-title", "x-openrouter-title")  # OpenRouter reads either; both are sent, as the client does


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_LENGTH or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return None
    return value


class Attribution:
    def __init__(self, *, referer: str, title: str, pass_client: bool) -> None:
        self._referer = referer
        self._title = title
        self._pass_client = pass_client

    @property
    def defaults(self) -> dict[str, str]:
        """The gateway's own attribution headers (what the upstream client builds in once)."""
        return {REFERER: self._referer, **dict.fromkeys(TITLES, self._title)}

    def for_request(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        """This call's attribution headers when the client's own replace the gateway's, else None (the prebuilt
        headers apply). `headers` are the client's request headers (lower-case names, as Starlette's)."""
        if not self._pass_client:
            return None
        referer = _clean(headers.get(REFERER))
        title = next((clean for name in TITLES if (clean := _clean(headers.get(name))) is not None), None)
        if referer is None and title is None:
            return None
        return {REFERER: referer or self._referer, **dict.fromkeys(TITLES, title or self._title)}
