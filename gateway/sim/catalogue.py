"""The simulated model catalogue: data only, shaped like OpenRouter's listing (prices are USD per token).

Each model names its fake provider endpoints; `price_factor` scales the model's base (cheapest) price for
that endpoint, so routing by price and `max_price` filters have something real to choose between.
"""

from __future__ import annotations

from typing import Any

# slug -> display name, whether the provider stops billing when a stream is aborted (OPENROUTER.md §3.2),
# and the dialect of its native finish reasons.
PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": {"name": "OpenAI", "cancellable": True, "dialect": "openai"},
    "azure": {"name": "Azure", "cancellable": True, "dialect": "openai"},
    "anthropic": {"name": "Anthropic", "cancellable": True, "dialect": "anthropic"},
    "amazon-bedrock": {"name": "Amazon Bedrock", "cancellable": False, "dialect": "anthropic"},
    "google-vertex": {"name": "Google", "cancellable": False, "dialect": "google"},
    "google-ai-studio": {"name": "Google AI Studio", "cancellable": False, "dialect": "google"},
    "deepinfra": {"name": "DeepInfra", "cancellable": True, "dialect": "openai"},
    "together": {"name": "Together", "cancellable": True, "dialect": "openai"},
    "groq": {"name": "Groq", "cancellable": False, "dialect": "openai"},
    "novita": {"name": "Novita", "cancellable": True, "dialect": "openai"},
    "deepseek": {"name": "DeepSeek", "cancellable": True, "dialect": "openai"},
    "mistral": {"name": "Mistral", "cancellable": False, "dialect": "openai"},
    "xai": {"name": "xAI", "cancellable": True, "dialect": "openai"},
    "chutes": {"name": "Chutes", "cancellable": True, "dialect": "openai"},
    "alibaba": {"name": "Alibaba", "cancellable": False, "dialect": "openai"},
}

_TEXT_PARAMS = [
    "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "presence_penalty", "response_format",
    "seed", "stop", "structured_outputs", "temperature", "tool_choice", "tools", "top_logprobs", "top_p",
]
_OPEN_PARAMS = [
    "frequency_penalty", "max_tokens", "min_p", "presence_penalty", "repetition_penalty", "response_format",
    "seed", "stop", "temperature", "tool_choice", "tools", "top_k", "top_p",
]
_REASONING_PARAMS = ["include_reasoning", "reasoning"]
_EMBEDDING_PARAMS = ["dimensions", "encoding_format"]


def _endpoint(
    provider: str, quantization: str = "unknown", price_factor: float = 1.0, latency_s: float = 0.6,
    throughput: float = 80.0, uptime: float = 99.8, tag: str | None = None,
) -> dict[str, Any]:
    return {
        "provider": provider, "tag": tag or provider, "quantization": quantization, "price_factor": price_factor,
        "latency_s": latency_s, "throughput": throughput, "uptime": uptime,
    }


MODELS: list[dict[str, Any]] = [
    {
        "id": "openai/gpt-4o", "canonical_slug": "openai/gpt-4o", "name": "OpenAI: GPT-4o", "created": 1715367049,
        "description": "GPT-4o is OpenAI's flagship multimodal model: text and image in, text out.",
        "context_length": 128000, "max_output": 16384, "input": ["text", "image", "file"], "output": ["text"],
        "tokenizer": "GPT",
        "pricing": {"prompt": "0.0000025", "completion": "0.00001", "input_cache_read": "0.00000125"},
        "parameters": [*_TEXT_PARAMS, "web_search_options"], "reasoning": None, "moderated": True,
        "endpoints": [_endpoint("openai", latency_s=0.45, throughput=95),
                      _endpoint("azure", latency_s=0.7, throughput=140)],
    },
    {
        "id": "openai/gpt-4o-mini", "canonical_slug": "openai/gpt-4o-mini", "name": "OpenAI: GPT-4o-mini",
        "created": 1721260800, "description": "GPT-4o mini is a small, cheap multimodal model for fast tasks.",
        "context_length": 128000, "max_output": 16384, "input": ["text", "image", "file"], "output": ["text"],
        "tokenizer": "GPT", "pricing": {"prompt": "0.00000015", "completion": "0.0000006",
                                        "input_cache_read": "0.000000075"},
        "parameters": [*_TEXT_PARAMS, "web_search_options"], "reasoning": None, "moderated": True,
        "endpoints": [_endpoint("openai", latency_s=0.4, throughput=70),
                      _endpoint("azure", latency_s=0.6, throughput=120)],
    },
    {
        "id": "openai/gpt-5", "canonical_slug": "openai/gpt-5-2025-08-07", "name": "OpenAI: GPT-5",
        "created": 1754587413,
        "description": "GPT-5 is OpenAI's reasoning model for coding, agentic and long-context work.",
        "context_length": 400000, "max_output": 128000, "input": ["text", "image", "file"], "output": ["text"],
        "tokenizer": "GPT",
        "pricing": {"prompt": "0.00000125", "completion": "0.00001", "input_cache_read": "0.000000125"},
        "parameters": [*_TEXT_PARAMS, *_REASONING_PARAMS], "reasoning": "mandatory", "moderated": True,
        "endpoints": [_endpoint("openai", latency_s=3.5, throughput=60),
                      _endpoint("azure", latency_s=4.1, throughput=55)],
    },
    {
        "id": "anthropic/claude-sonnet-4.5", "canonical_slug": "anthropic/claude-4.5-sonnet-20250929",
        "name": "Anthropic: Claude Sonnet 4.5", "created": 1759161676,
        "description": "Claude Sonnet 4.5 is Anthropic's strongest model for agents and coding.",
        "context_length": 1000000, "max_output": 64000, "input": ["text", "image", "file"], "output": ["text"],
        "tokenizer": "Claude", "pricing": {"prompt": "0.000003", "completion": "0.000015",
                                           "input_cache_read": "0.0000003", "input_cache_write": "0.00000375"},
        "parameters": [
            "include_reasoning", "max_tokens", "reasoning", "response_format", "stop", "structured_outputs",
            "temperature", "tool_choice", "tools", "top_k", "top_p",
        ],
        "reasoning": "optional", "moderated": False,
        "endpoints": [
            _endpoint("anthropic", latency_s=1.6, throughput=60),
            _endpoint("amazon-bedrock", latency_s=1.9, throughput=55),
            _endpoint("google-vertex", latency_s=2.0, throughput=58),
        ],
    },
    {
        "id": "anthropic/claude-haiku-4.5", "canonical_slug": "anthropic/claude-4.5-haiku-20251001",
        "name": "Anthropic: Claude Haiku 4.5", "created": 1760547638,
        "description": "Claude Haiku 4.5 is Anthropic's fastest model with near-frontier intelligence.",
        "context_length": 200000, "max_output": 64000, "input": ["text", "image"], "output": ["text"],
        "tokenizer": "Claude", "pricing": {"prompt": "0.000001", "completion": "0.000005",
                                           "input_cache_read": "0.0000001", "input_cache_write": "0.00000125"},
        "parameters": [
            "include_reasoning", "max_tokens", "reasoning", "stop", "temperature", "tool_choice", "tools", "top_k",
            "top_p",
        ],
        "reasoning": "optional", "moderated": True,
        "endpoints": [_endpoint("anthropic", latency_s=0.7, throughput=120),
                      _endpoint("amazon-bedrock", latency_s=0.9, throughput=110)],
    },
    {
        "id": "google/gemini-2.5-flash", "canonical_slug": "google/gemini-2.5-flash",
        "name": "Google: Gemini 2.5 Flash",
        "created": 1750172488, "description": "Gemini 2.5 Flash is a fast workhorse model with optional thinking.",
        "context_length": 1048576, "max_output": 65535, "input": ["text", "image", "file", "audio", "video"],
        "output": ["text"], "tokenizer": "Gemini",
        "pricing": {"prompt": "0.0000003", "completion": "0.0000025", "input_cache_read": "0.000000075"},
        "parameters": [*_TEXT_PARAMS, *_REASONING_PARAMS], "reasoning": "optional", "moderated": False,
        "endpoints": [_endpoint("google-ai-studio", latency_s=0.5, throughput=180),
                      _endpoint("google-vertex", latency_s=0.6, throughput=170)],
    },
    {
        "id": "google/gemini-2.5-pro", "canonical_slug": "google/gemini-2.5-pro", "name": "Google: Gemini 2.5 Pro",
        "created": 1750169544, "description": "Gemini 2.5 Pro is Google's state-of-the-art thinking model.",
        "context_length": 1048576, "max_output": 65536, "input": ["text", "image", "file", "audio", "video"],
        "output": ["text"], "tokenizer": "Gemini",
        "pricing": {"prompt": "0.00000125", "completion": "0.00001", "input_cache_read": "0.00000031"},
        "parameters": [*_TEXT_PARAMS, *_REASONING_PARAMS], "reasoning": "mandatory", "moderated": False,
        "endpoints": [_endpoint("google-vertex", latency_s=2.5, throughput=85),
                      _endpoint("google-ai-studio", latency_s=2.4, throughput=90)],
    },
    {
        "id": "google/gemini-2.5-flash-image", "canonical_slug": "google/gemini-2.5-flash-image",
        "name": "Google: Gemini 2.5 Flash Image (Nano Banana)", "created": 1759870431,
        "description": "Image generation and editing model from Google.",
        "context_length": 32768, "max_output": 32768, "input": ["image", "text"], "output": ["image", "text"],
        "tokenizer": "Gemini",
        "pricing": {"prompt": "0.0000003", "completion": "0.0000025", "image": "0.0000003",
                    "image_output": "0.00003", "input_cache_read": "0.00000003"},
        "parameters": ["max_tokens", "response_format", "seed", "stop", "structured_outputs", "temperature", "top_p"],
        "reasoning": None, "moderated": False,
        "endpoints": [_endpoint("google-ai-studio", latency_s=8.5, throughput=150),
                      _endpoint("google-vertex", latency_s=9.0, throughput=140)],
    },
    {
        "id": "deepseek/deepseek-chat-v3.1", "canonical_slug": "deepseek/deepseek-chat-v3.1",
        "name": "DeepSeek: DeepSeek V3.1", "created": 1755779628,
        "description": "DeepSeek-V3.1 is a hybrid reasoning model supporting thinking and non-thinking modes.",
        "context_length": 163840, "max_output": 163840, "input": ["text"], "output": ["text"], "tokenizer": "DeepSeek",
        "instruct_type": "deepseek-v3.1", "pricing": {"prompt": "0.0000002", "completion": "0.0000008"},
        "parameters": [*_OPEN_PARAMS, *_REASONING_PARAMS], "reasoning": "optional", "moderated": False,
        "endpoints": [
            _endpoint("deepinfra", quantization="fp8", latency_s=0.9, throughput=40),
            _endpoint("novita", quantization="fp8", price_factor=1.35, latency_s=1.2, throughput=30),
            _endpoint("deepseek", quantization="fp8", price_factor=1.4, latency_s=1.5, throughput=25),
        ],
    },
    {
        "id": "deepseek/deepseek-r1", "canonical_slug": "deepseek/deepseek-r1", "name": "DeepSeek: R1",
        "created": 1737381095, "description": "DeepSeek R1 is an open reasoning model with visible thinking tokens.",
        "context_length": 163840, "max_output": 163840, "input": ["text"], "output": ["text"], "tokenizer": "DeepSeek",
        "instruct_type": "deepseek-r1", "pricing": {"prompt": "0.0000004", "completion": "0.000002"},
        "parameters": [*_OPEN_PARAMS, *_REASONING_PARAMS], "reasoning": "mandatory", "moderated": False,
        "endpoints": [
            _endpoint("deepinfra", quantization="fp8", latency_s=1.8, throughput=35),
            _endpoint("together", quantization="fp8", price_factor=7.5, latency_s=0.9, throughput=90),
        ],
    },
    {
        "id": "meta-llama/llama-3.3-70b-instruct", "canonical_slug": "meta-llama/llama-3.3-70b-instruct",
        "name": "Meta: Llama 3.3 70B Instruct", "created": 1733506137,
        "description": "Llama 3.3 70B is Meta's multilingual instruction-tuned model.",
        "context_length": 131072, "max_output": 16384, "input": ["text"], "output": ["text"], "tokenizer": "Llama3",
        "instruct_type": "llama3", "pricing": {"prompt": "0.00000013", "completion": "0.00000039"},
        "parameters": _OPEN_PARAMS, "reasoning": None, "moderated": False,
        "endpoints": [
            _endpoint("deepinfra", quantization="fp8", latency_s=0.5, throughput=45),
            _endpoint("groq", quantization="fp16", price_factor=4.5, latency_s=0.2, throughput=320),
            _endpoint("together", quantization="fp8", price_factor=6.8, latency_s=0.4, throughput=110),
        ],
    },
    {
        "id": "meta-llama/llama-3.3-70b-instruct:free", "canonical_slug": "meta-llama/llama-3.3-70b-instruct",
        "name": "Meta: Llama 3.3 70B Instruct (free)", "created": 1733506137,
        "description": "Free variant of Llama 3.3 70B Instruct with platform rate limits.",
        "context_length": 65536, "max_output": 8192, "input": ["text"], "output": ["text"], "tokenizer": "Llama3",
        "instruct_type": "llama3", "pricing": {"prompt": "0", "completion": "0"},
        "parameters": ["max_tokens", "seed", "stop", "temperature", "tool_choice", "tools", "top_p"],
        "reasoning": None, "moderated": False,
        "endpoints": [_endpoint("chutes", quantization="fp8", latency_s=1.2, throughput=30, tag="chutes/free")],
    },
    {
        "id": "mistralai/mistral-small-3.2-24b-instruct",
        "canonical_slug": "mistralai/mistral-small-3.2-24b-instruct-2506",
        "name": "Mistral: Mistral Small 3.2 24B", "created": 1750443016,
        "description": "Mistral Small 3.2 improves instruction following and function calling.",
        "context_length": 131072, "max_output": 131072, "input": ["image", "text"], "output": ["text"],
        "tokenizer": "Mistral", "pricing": {"prompt": "0.00000006", "completion": "0.00000018"},
        "parameters": _OPEN_PARAMS, "reasoning": None, "moderated": False,
        "endpoints": [_endpoint("deepinfra", quantization="bf16", latency_s=0.4, throughput=60),
                      _endpoint("mistral", price_factor=1.7, latency_s=0.3, throughput=130)],
    },
    {
        "id": "qwen/qwen3-235b-a22b", "canonical_slug": "qwen/qwen3-235b-a22b-04-28", "name": "Qwen: Qwen3 235B A22B",
        "created": 1745875757, "description": "Qwen3-235B-A22B is a mixture-of-experts model with a thinking mode.",
        "context_length": 131072, "max_output": 32768, "input": ["text"], "output": ["text"], "tokenizer": "Qwen3",
        "instruct_type": "qwen3", "pricing": {"prompt": "0.00000013", "completion": "0.0000006"},
        "parameters": [*_OPEN_PARAMS, *_REASONING_PARAMS], "reasoning": "optional", "moderated": False,
        "endpoints": [
            _endpoint("deepinfra", quantization="fp8", latency_s=0.8, throughput=35),
            _endpoint("together", quantization="fp8", price_factor=1.6, latency_s=0.6, throughput=60),
            _endpoint("alibaba", price_factor=2.0, latency_s=1.1, throughput=45),
        ],
    },
    {
        "id": "x-ai/grok-4", "canonical_slug": "x-ai/grok-4-07-09", "name": "xAI: Grok 4", "created": 1752087689,
        "description": "Grok 4 is xAI's reasoning model; reasoning is always on and not exposed.",
        "context_length": 256000, "max_output": 256000, "input": ["image", "text", "file"], "output": ["text"],
        "tokenizer": "Grok",
        "pricing": {"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.00000075"},
        "parameters": [*_TEXT_PARAMS, *_REASONING_PARAMS], "reasoning": "mandatory", "moderated": False,
        "endpoints": [_endpoint("xai", latency_s=6.0, throughput=45)],
    },
    {
        "id": "openai/text-embedding-3-small", "canonical_slug": "openai/text-embedding-3-small",
        "name": "OpenAI: Text Embedding 3 Small", "created": 1706140800,
        "description": "Small, efficient embedding model (1536 dimensions).",
        "context_length": 8192, "max_output": None, "input": ["text"], "output": ["embeddings"], "tokenizer": "GPT",
        "pricing": {"prompt": "0.00000002", "completion": "0"}, "parameters": _EMBEDDING_PARAMS, "reasoning": None,
        "moderated": False, "dimensions": 1536, "endpoints": [_endpoint("openai", latency_s=0.2, throughput=0)],
    },
    {
        "id": "openai/text-embedding-3-large", "canonical_slug": "openai/text-embedding-3-large",
        "name": "OpenAI: Text Embedding 3 Large", "created": 1706140800,
        "description": "OpenAI's most capable embedding model (3072 dimensions).",
        "context_length": 8192, "max_output": None, "input": ["text"], "output": ["embeddings"], "tokenizer": "GPT",
        "pricing": {"prompt": "0.00000013", "completion": "0"}, "parameters": _EMBEDDING_PARAMS, "reasoning": None,
        "moderated": False, "dimensions": 3072,
        "endpoints": [_endpoint("openai", latency_s=0.25, throughput=0),
                      _endpoint("azure", latency_s=0.3, throughput=0)],
    },
    {
        "id": "qwen/qwen3-embedding-8b", "canonical_slug": "qwen/qwen3-embedding-8b",
        "name": "Qwen: Qwen3 Embedding 8B", "created": 1749600000,
        "description": "Multilingual text embedding model from the Qwen3 family (4096 dimensions).",
        "context_length": 32000, "max_output": None, "input": ["text"], "output": ["embeddings"],
        "tokenizer": "Qwen3", "pricing": {"prompt": "0.00000001", "completion": "0"},
        "parameters": _EMBEDDING_PARAMS, "reasoning": None, "moderated": False, "dimensions": 4096,
        "endpoints": [_endpoint("deepinfra", quantization="fp8", latency_s=0.3, throughput=0),
                      _endpoint("novita", quantization="fp8", price_factor=1.5, latency_s=0.4, throughput=0)],
    },
    {
        "id": "openrouter/auto", "canonical_slug": "openrouter/auto", "name": "Auto Router", "created": 1699401600,
        "description": "Your prompt is routed to one of a handful of models chosen for quality, speed and cost.",
        "context_length": 2000000, "max_output": None, "input": ["text", "image", "file", "audio"],
        "output": ["text", "image"], "tokenizer": "Router", "pricing": {"prompt": "-1", "completion": "-1"},
        "parameters": [*_TEXT_PARAMS, *_REASONING_PARAMS], "reasoning": None, "moderated": False, "endpoints": [],
    },
]

# Which concrete model `openrouter/auto` picks, by what the request needs. First match wins.
AUTO_ROUTES: list[tuple[str, str]] = [
    ("image_output", "google/gemini-2.5-flash-image"),
    ("tools", "anthropic/claude-sonnet-4.5"),
    ("long", "google/gemini-2.5-pro"),
    ("default", "openai/gpt-4o-mini"),
]

# Words whose presence in a prompt makes the moderated models refuse it (403) - lets tests trigger moderation.
MODERATION_TRIGGERS: tuple[str, ...] = ("forbidden-topic",)
