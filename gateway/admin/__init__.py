"""The admin surface: per-org budgets, rate limits and spend, as CLI commands and as `/admin/*` HTTP routes."""

from gateway.admin.cli import add_admin_commands
from gateway.admin.routes import AdminRoutes
from gateway.admin.service import AdminService

__all__ = ["AdminRoutes", "AdminService", "add_admin_commands"]
