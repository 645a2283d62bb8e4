"""`/admin/ui`: the browser console's static files, shipped inside the package (no CDN, no build step).

The page holds an admin's token, so it is locked down: a Content-Security-Policy that allows only this origin's
own scripts and styles (nothing inline, nothing fetched elsewhere), no framing (clickjacking), no MIME sniffing,
no referrer. The files themselves are public; every number on the page comes from the authenticated `/admin/*`
API.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import NotFoundError

UI_DIRECTORY = Path(__file__).with_name("ui")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    # Small files that change with the package: revalidate rather than run a stale console against a new API.
    "cache-control": "no-cache",
}


class ConsoleFiles:
    def __init__(self, directory: Path = UI_DIRECTORY) -> None:
        self._directory = directory.resolve()
        # Read once: a fixed handful of small files, and no path from a request ever reaches the file system.
        self._files = {
            path.relative_to(self._directory).as_posix(): (path.read_bytes(), CONTENT_TYPES[path.suffix])
            for path in sorted(self._directory.rglob("*"))
            if path.is_file() and path.suffix in CONTENT_TYPES
        }

    def routes(self) -> list[Route]:
        return [
            Route("/admin/ui", self._index, methods=["GET", "HEAD"]),
            Route("/admin/ui/", self._index, methods=["GET", "HEAD"]),
            Route("/admin/ui/{name:path}", self._file, methods=["GET", "HEAD"]),
        ]

    def _response(self, name: str) -> Response:
        found = self._files.get(name)
        if found is None:
            raise NotFoundError(f"No console file '{name}'")
        body, content_type = found
        return Response(body, media_type=content_type, headers=SECURITY_HEADERS)

    async def _index(self, request: Request) -> Response:
        return self._response("index.html")

    async def _file(self, request: Request) -> Response:
        return self._response(request.path_params["name"])
