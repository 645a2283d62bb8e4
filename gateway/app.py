"""The application factory: every dependency is built and wired here, once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admission import Limiter
from gateway.alerts import AlertNotifier
from gateway.auth.authenticator import Authenticator
from gateway.background import BackgroundTasks
from gateway.catalogue import ModelCatalogue
from gateway.errors import GatewayError, InvalidRequestError, NotFoundError
from gateway.middleware import RequestContextMiddleware
from gateway.policy.store import PolicyStore
from gateway.proxy import ChatProxy
from gateway.routes import HealthRoutes, ModelRoutes
from gateway.settings import Settings
from gateway.store import open_store, replay_forever
from gateway.upstream.chat import ChatUpstream
from gateway.upstream.client import UpstreamClient, build_http_client


def create_app(
    settings: Settings, *, redis: aioredis.Redis | None = None, http: httpx.AsyncClient | None = None
) -> Starlette:
    """Build the gateway. `redis` and `http` let tests inject clients; otherwise the app owns its own."""
    owns_http = http is None
    http_client = http or build_http_client(settings)
    upstream = UpstreamClient(http_client, settings)
    catalogue = ModelCatalogue(upstream, ttl_s=settings.models_cache_ttl_s)
    authenticator = Authenticator(settings, http=http_client)
    policies = PolicyStore(settings.policy_file)
    store = open_store(settings, redis)
    notifier = AlertNotifier(http_client, settings.budget_alert_webhook_url)
    limiter = Limiter(store.backend, notifier, reservation_ttl_s=settings.reservation_ttl_s)
    background = BackgroundTasks()
    proxy = ChatProxy(settings, authenticator, policies, catalogue, limiter, ChatUpstream(upstream), background)
    models = ModelRoutes(authenticator, catalogue)
    health = HealthRoutes(catalogue, store)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.ensure_future(replay_forever(store, settings.spool_replay_interval_s, notifier.notify))]
        if settings.policy_file:
            tasks.append(asyncio.ensure_future(policies.watch()))
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                policies.install_sighup(asyncio.get_running_loop())
        await catalogue.current()  # warm the catalogue; an unreachable upstream only makes /readyz say so
        try:
            yield
        finally:
            # In-flight settlements and alerts finish before the clients they need are closed.
            await background.drain(settings.shutdown_drain_s)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await authenticator.aclose()
            await store.aclose()
            if owns_http:
                await http_client.aclose()

    routes = [
        Route("/v1/chat/completions", proxy.chat_completions, methods=["POST"]),
        Route("/v1/models", models.list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", models.get_model, methods=["GET"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
    ]
    middleware = [
        Middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, access_log=settings.access_log)
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception},
    )
    app.state.background = background
    app.state.store = store
    return app


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods answer in OpenAI's envelope too."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error: GatewayError
    if status == 404:
        error = NotFoundError(f"Unknown path: {request.method} {request.url.path}", code="unknown_url")
    elif status == 405:
        error = InvalidRequestError(
            f"Method {request.method} is not allowed on {request.url.path}", code="method_not_allowed", status=405
        )
    else:
        error = GatewayError(str(getattr(exc, "detail", "error")), status=status)
    return Response(error.body(), status_code=error.status, media_type="application/json", headers=error.headers)
