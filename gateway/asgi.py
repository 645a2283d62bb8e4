"""The ASGI entry point uvicorn workers import (`gateway.asgi:app_from_env`): settings and logging from the
environment, then the app from `create_app`."""

from __future__ import annotations

from starlette.applications import Starlette

from gateway.app import create_app
from gateway.gc_tuning import tune_for_serving
from gateway.log import configure_logging
from gateway.settings import Settings


def app_from_env() -> Starlette:
    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    tune_for_serving()
    return app
