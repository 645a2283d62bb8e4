"""An offline, faithful OpenRouter simulator: the upstream every gateway test talks to."""

from gateway.sim.app import create_sim_app
from gateway.sim.config import SimConfig

__all__ = ["SimConfig", "create_sim_app"]
