"""Global simulator knobs. Defaults are the fast, well-behaved OpenRouter (zero delays, no faults)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

UsageChunkShape = Literal["empty_choices", "empty_delta", "merged"]


class SimConfig(BaseModel):
    """Every knob that shapes the simulator's behaviour when a request does not override it.

    Validated once at start-up and on `PATCH /_sim/config`; the request path reads plain attributes.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    ttft_ms: float = Field(0, ge=0)
    inter_token_ms: float = Field(0, ge=0)
    chunk_tokens: int = Field(1, ge=1)
    processing_comments: int = Field(1, ge=0)
    keepalive_ms: float = Field(0, ge=0)
    usage_chunk: UsageChunkShape = "empty_choices"
    done_after_error: bool = False
    fault_rates: dict[str, float] = Field(default_factory=dict)
    seed: int = 0
    max_concurrency: int = Field(0, ge=0)
    api_keys: list[str] | None = None
    credits_usd: float = 100.0
    generation_delay_ms: float = Field(0, ge=0)
    free_rpm: int = Field(20, ge=0)
    free_rpd: int = Field(50, ge=0)
    credits_need_management_key: bool = False
