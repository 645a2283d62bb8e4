"""The application factory: every dependency is built and wired here, once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Container
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin import AdminRoutes, AdminService
from gateway.admin.calls import CallSource, LedgerCalls, StreamCalls
from gateway.admin.console_routes import ConsoleRoutes
from gateway.admin.key_routes import KeyRoutes
from gateway.admin.overview import AlertLog, NoAlertLog, RedisAlertLog
from gateway.admin.ui_files import ConsoleFiles
from gateway.alerts import AlertNotifier
from gateway.apis.chat import ChatCompletionsApi
from gateway.apis.embeddings import EmbeddingsApi
from gateway.apis.responses import ResponsesApi
from gateway.auth.authenticator import Authenticator
from gateway.background import BackgroundTasks
from gateway.cache.stage import CacheStage
from gateway.cache.store import CacheStore, MemoryCacheStore, RedisCacheStore
from gateway.callers import CallerRoutes
from gateway.callers.account import CallerAccount
from gateway.catalogue import ModelCatalogue, ModelPrice
from gateway.cors import CorsMiddleware, CorsPolicy
from gateway.errors import GatewayError, InvalidRequestError, NotFoundError
from gateway.front import Front
from gateway.housekeeping import housekeeping_forever
from gateway.keys.resolver import ApiKeyResolver
from gateway.keys.service import KeyService
from gateway.keys.store import ApiKeyStore, MemoryApiKeyStore, RedisApiKeyStore
from gateway.limits.limiter import Limiter
from gateway.metering.jsonl_ledger import JsonlLedger
from gateway.metering.ledger import FanoutLedger, Ledger, MemoryLedger
from gateway.metering.redis_ledger import RedisStreamLedger
from gateway.metering.tracing import CallTracer, build_tracer
from gateway.metric_labels import KnownModels
from gateway.metrics import Metrics
from gateway.metrics_endpoint import MetricsEndpoint
from gateway.middleware import Endpoint, RequestContextMiddleware
from gateway.model_discovery import UnknownModelRefresher
from gateway.pipeline import Pipeline
from gateway.policy.store import PolicyStore
from gateway.reconcile import GenerationReconciler
from gateway.redis_client import RedisClient
from gateway.resilience.breaker import BreakerStore
from gateway.resilience.local_breaker import LocalBreakerCache
from gateway.resilience.memory_breaker import MemoryBreakerStore
from gateway.resilience.redis_breaker import RedisBreakerStore
from gateway.routes import HealthRoutes, ModelRoutes
from gateway.settings import Settings
from gateway.settlement import Settler
from gateway.shared_state import SharedState, open_shared_state
from gateway.spool_file import SpoolFile
from gateway.streaming.drain import StreamDrain
from gateway.upstream.account_alarm import AccountAlarm
from gateway.upstream.client import UpstreamClient, build_http_client, build_transport
from gateway.upstream.exchange import UpstreamExchange
from gateway.upstream.plan import Resilience
from gateway.upstream.transport import UpstreamTransport


def build_ledger(settings: Settings, shared: SharedState, metrics: Metrics) -> Ledger:
    sinks = settings.ledger_sinks or (["redis"] if shared.redis is not None else ["memory"])
    ledgers: list[Ledger] = []
    for sink in sinks:
        if sink == "redis" and shared.redis is not None:
            pipelined = shared.shared.pipelined if shared.shared is not None else None
            # One spool file per process, beside the settlement spool and replayed with it.
            spool = SpoolFile.for_process(settings.spool_dir, "ledger")
            ledgers.append(RedisStreamLedger(
                shared.redis, stream_key=settings.ledger_stream_key, maxlen=settings.ledger_maxlen,
                max_age_s=settings.ledger_max_age_s, dedupe_ttl_s=settings.ledger_dedupe_ttl_s,
                on_error=metrics.ledger_error, pipelined=pipelined, spool=spool,
            ))
        elif sink == "jsonl":
            ledgers.append(JsonlLedger(Path(settings.ledger_dir), on_error=metrics.ledger_error))
        elif sink == "memory":
            ledgers.append(MemoryLedger())
        else:
            raise ValueError(f"ledger sink {sink!r} needs REDIS_URL")
    return ledgers[0] if len(ledgers) == 1 else FanoutLedger(ledgers)


def _catalogue_ids(catalogue: ModelCatalogue) -> KnownModels:
    """Model labels on /metrics are limited to what the catalogue lists right now."""

    def known() -> Container[str] | None:
        snapshot = catalogue.snapshot
        return None if snapshot is None else snapshot.models

    return known


@dataclass(frozen=True)
class _Components:
    """Everything `create_app` wires together once, and what its lifespan starts and closes."""

    settings: Settings
    transport: UpstreamTransport
    http_client: httpx.AsyncClient
    owns_http: bool
    metrics: Metrics
    catalogue: ModelCatalogue
    authenticator: Authenticator
    policies: PolicyStore
    shared_state: SharedState
    notifier: AlertNotifier
    limiter: Limiter
    background: BackgroundTasks
    ledger: Ledger
    resilience: Resilience
    reconciler: GenerationReconciler
    tracer: CallTracer | None
    drain: StreamDrain
    model_endpoints: dict[tuple[str, str], Endpoint]
    models: ModelRoutes
    health: HealthRoutes
    keys: KeyService


def _build(
    settings: Settings, redis: RedisClient | None, http: httpx.AsyncClient | None, metrics: Metrics | None
) -> _Components:
    transport = build_transport(settings)
    http_client = http or build_http_client(settings, transport)
    metrics = metrics or Metrics.from_environment(org_label=settings.metrics_org_label)
    upstream = (UpstreamClient.on_client(http, settings) if http is not None
                else UpstreamClient.on_transport(transport, settings))
    catalogue = ModelCatalogue(upstream, ttl_s=settings.models_cache_ttl_s, ceiling=ModelPrice.per_million(
        settings.unpriced_prompt_usd_per_mtok, settings.unpriced_completion_usd_per_mtok))
    metrics.models.use_catalogue(_catalogue_ids(catalogue))
    shared = open_shared_state(settings, redis)
    key_store: ApiKeyStore = RedisApiKeyStore(shared.redis) if shared.redis is not None else MemoryApiKeyStore()
    authenticator = Authenticator(
        settings, http=http_client, api_keys=ApiKeyResolver(key_store, ttl_s=settings.api_key_cache_ttl_s)
    )
    policies = PolicyStore(settings.policy_file)
    notifier = AlertNotifier(http_client, settings.budget_alert_webhook_url, metrics)
    background = BackgroundTasks()
    limiter = Limiter(shared.backend, notifier, metrics, reservation_ttl_s=settings.reservation_ttl_s,
                      background=background)
    ledger = build_ledger(settings, shared, metrics)
    breaker_store: BreakerStore = (
        LocalBreakerCache(RedisBreakerStore(shared.redis)) if shared.redis is not None else MemoryBreakerStore()
    )
    resilience = Resilience(breaker_store)
    reconciler = GenerationReconciler(upstream, timeout_s=settings.reconcile_timeout_s)
    tracer = build_tracer(settings)
    settler = Settler(limiter, ledger, metrics, background, reconciler, tracer)
    refresher = UnknownModelRefresher(catalogue, min_interval_s=settings.models_unknown_refresh_s)
    front = Front(settings, authenticator, policies, catalogue, refresher, limiter, metrics)
    cache_store: CacheStore = RedisCacheStore(shared.redis) if shared.redis is not None else MemoryCacheStore()
    drain = StreamDrain()
    pipeline = Pipeline(front, CacheStage(cache_store, front, settler), resilience, UpstreamExchange(upstream),
                        settler, drain, AccountAlarm(metrics))
    model_endpoints: dict[tuple[str, str], Endpoint] = {
        ("POST", "/v1/chat/completions"): pipeline.endpoint(ChatCompletionsApi(max_n=settings.max_n)),
        ("POST", "/v1/responses"): pipeline.endpoint(ResponsesApi()),
        ("POST", "/v1/embeddings"): pipeline.endpoint(EmbeddingsApi()),
    }
    return _Components(
        settings, transport, http_client, http is None, metrics, catalogue, authenticator, policies, shared, notifier,
        limiter, background, ledger, resilience, reconciler, tracer, drain, model_endpoints,
        ModelRoutes(authenticator, catalogue, policies, refresher, list_all=settings.models_list_all),
        HealthRoutes(catalogue, shared), KeyService(key_store, shared.backend),
    )


def _lifespan(c: _Components) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    settings = c.settings

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.ensure_future(
            housekeeping_forever(settings.spool_replay_interval_s, c.shared_state, c.resilience, c.metrics, c.notifier,
                                 c.limiter, c.ledger)
        )]
        if settings.policy_file:
            tasks.append(asyncio.ensure_future(c.policies.watch()))
            with contextlib.suppress(RuntimeError, ValueError):  # no signals outside the main thread (tests)
                c.policies.install_sighup(asyncio.get_running_loop())
        await c.catalogue.current()  # warm the catalogue; an unreachable upstream only makes /readyz say so
        c.drain.watch_signals(asyncio.get_running_loop(), settings.graceful_timeout_s)
        try:
            yield
        finally:
            # In-flight settlements, ledger writes and alerts finish before the clients they need are closed.
            # Streams ended by the shutdown get half the drain to find their bill in OpenRouter's `/generation`;
            # then reconciliations stop polling and settle with their estimate rather than outlast the drain.
            await c.background.drain(settings.shutdown_drain_s / 2)
            c.reconciler.close()
            await c.background.drain(settings.shutdown_drain_s / 2)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            c.metrics.flush()  # the last calls' figures, summed in memory, reach the files before the process ends
            await c.ledger.aclose()
            if c.tracer is not None:
                # After the drain, so the last settled calls' spans are in the final batch; the flush does
                # blocking HTTP, hence the thread.
                await asyncio.to_thread(c.tracer.shutdown)
            await c.authenticator.aclose()
            await c.shared_state.aclose()
            if c.owns_http:
                await c.http_client.aclose()
            await c.transport.aclose()

    return lifespan


def _routes(c: _Components) -> list[Route]:
    token = c.settings.metrics_token.get_secret_value() if c.settings.metrics_token else None
    metrics_endpoint = MetricsEndpoint(c.metrics, token)
    return [
        *(Route(path, endpoint, methods=[method]) for (method, path), endpoint in c.model_endpoints.items()),
        Route("/v1/models", c.models.list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", c.models.get_model, methods=["GET"]),
        Route("/healthz", c.health.healthz, methods=["GET"]),
        Route("/readyz", c.health.readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint.render, methods=["GET"]),
        *AdminRoutes(c.authenticator, c.shared_state.backend, c.policies).routes(),
        *KeyRoutes(c.authenticator, c.keys).routes(),
        *CallerRoutes(c.authenticator, CallerAccount(c.shared_state.backend, lambda: c.policies.current)).routes(),
        *_console_routes(c),
    ]


def _console_routes(c: _Components) -> list[Route]:
    """The browser console's files and the read-only admin API it adds (overview, calls, export)."""
    sinks = c.settings.ledger_sinks or (["redis"] if c.shared_state.redis is not None else ["memory"])
    source: CallSource = (
        StreamCalls(c.shared_state.redis, c.settings.ledger_stream_key)
        if c.shared_state.redis is not None and sinks[0] == "redis" else LedgerCalls(c.ledger)
    )
    alerts: AlertLog = RedisAlertLog(c.shared_state.redis) if c.shared_state.redis is not None else NoAlertLog()
    service = AdminService(c.shared_state.backend, lambda: c.policies.current)
    return [*ConsoleRoutes(c.authenticator, service, source, alerts).routes(), *ConsoleFiles().routes()]


def create_app(
    settings: Settings,
    *,
    redis: RedisClient | None = None,
    http: httpx.AsyncClient | None = None,
    metrics: Metrics | None = None,
) -> Starlette:
    """Build the gateway. `redis`, `http` and `metrics` let tests inject their own; otherwise the app owns them."""
    c = _build(settings, redis, http, metrics)
    middleware = [
        Middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, access_log=settings.access_log,
                   direct_routes=c.model_endpoints)
    ]
    if settings.cors_allow_origins:  # outermost: preflights never reach auth, and every error carries CORS headers
        middleware.insert(0, Middleware(CorsMiddleware, policy=cors_policy(settings)))
    app = Starlette(
        routes=_routes(c),
        middleware=middleware,
        lifespan=_lifespan(c),
        exception_handlers={HTTPException: _http_exception},
    )
    app.state.background = c.background
    app.state.shared_state = c.shared_state
    app.state.ledger = c.ledger
    app.state.metrics = c.metrics
    return app


def cors_policy(settings: Settings) -> CorsPolicy:
    return CorsPolicy(
        allow_origins=tuple(settings.cors_allow_origins), allow_methods=tuple(settings.cors_allow_methods),
        allow_headers=tuple(settings.cors_allow_headers), expose_headers=tuple(settings.cors_expose_headers),
        allow_credentials=settings.cors_allow_credentials, max_age_s=settings.cors_max_age_s,
    )


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
