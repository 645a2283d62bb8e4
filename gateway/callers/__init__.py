"""What any caller (JWT or API key) may ask about itself: `GET /v1/key` and `GET /v1/usage`."""

from gateway.callers.routes import CallerRoutes

__all__ = ["CallerRoutes"]
