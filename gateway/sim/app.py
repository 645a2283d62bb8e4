"""`create_sim_app`: the simulator as a Starlette app with OpenRouter's paths under `/api/v1`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.sim.account import AccountEndpoints
from gateway.sim.chat import ChatEndpoint
from gateway.sim.config import SimConfig
from gateway.sim.control import ControlEndpoints
from gateway.sim.embeddings import EmbeddingsEndpoint
from gateway.sim.endpoint import error_response
from gateway.sim.errors import SimError
from gateway.sim.responses import ResponsesEndpoint
from gateway.sim.state import SimState

API = "/api/v1"


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(SimError(404, "Not Found"), None)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(SimError(405, "Method Not Allowed"), None)


def create_sim_app(config: SimConfig | None = None) -> Starlette:
    state = SimState(config or SimConfig())
    account = AccountEndpoints(state)
    control = ControlEndpoints(state)
    embeddings = EmbeddingsEndpoint(state)
    routes = [
        Route(f"{API}/chat/completions", ChatEndpoint(state).handle, methods=["POST"]),
        Route(f"{API}/responses", ResponsesEndpoint(state).handle, methods=["POST"]),
        Route(f"{API}/embeddings", embeddings.handle, methods=["POST"]),
        Route(f"{API}/embeddings/models", embeddings.models, methods=["GET"]),
        Route(f"{API}/models", account.models, methods=["GET"]),
        Route(f"{API}/models/count", account.models_count, methods=["GET"]),
        Route(f"{API}/models/{{author}}/{{slug:path}}/endpoints", account.endpoints, methods=["GET"]),
        Route(f"{API}/key", account.key, methods=["GET"]),
        Route(f"{API}/auth/key", account.key, methods=["GET"]),
        Route(f"{API}/credits", account.credits, methods=["GET"]),
        Route(f"{API}/generation", account.generation, methods=["GET"]),
        Route("/_sim/config", control.get_config, methods=["GET"]),
        Route("/_sim/config", control.patch_config, methods=["PATCH"]),
        Route("/_sim/faults", control.add_fault, methods=["POST"]),
        Route("/_sim/faults", control.list_faults, methods=["GET"]),
        Route("/_sim/faults", control.clear_faults, methods=["DELETE"]),
        Route("/_sim/models", control.add_model, methods=["POST"]),
        Route("/_sim/stats", control.stats, methods=["GET"]),
        Route("/_sim/requests", control.requests, methods=["GET"]),
        Route("/_sim/reset", control.reset, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _method_not_allowed})
    app.state.sim = state
    return app
