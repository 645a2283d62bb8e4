"""Sans-IO streaming: parse OpenRouter's SSE and re-emit it exactly as OpenAI clients expect."""

from gateway.streaming.merge import StreamMerger, sum_usage
from gateway.streaming.normalizer import ChatStreamNormalizer
from gateway.streaming.sse import SSEEvent, SSEParser

__all__ = ["ChatStreamNormalizer", "SSEEvent", "SSEParser", "StreamMerger", "sum_usage"]
