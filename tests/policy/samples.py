"""Policy texts shared by the policy tests."""

from __future__ import annotations

from gateway.policy import Policy, parse_policy

SAMPLE = """
aliases:
  fast: openai/gpt-4o-mini
  smart: openrouter/anthropic/claude-sonnet-4.5
  turbo: openai/gpt-4o:nitro
tasks:
  planner:
    primary: openai/gpt-5
    fallbacks: [smart, openai/gpt-4o, anthropic/claude-sonnet-4.5]
    max_cost_usd: 0.5
    params: {temperature: 0.2, max_tokens: 4000}
    pin: [temperature]
    timeout_s: 120
  draft:
    primary: deepseek/deepseek-chat-v3.1
    fallbacks: [meta-llama/llama-3.3-70b-instruct]
    params: {temperature: 0.8, top_p: 0.9}
  image:
    primary: google/gemini-2.5-flash-image
    params: {modalities: [image, text]}
    pin: [modalities]
orgs:
  acme:
    rpm: 100
    daily_budget_usd: 50
    max_concurrent: null
    allow: ["openai/*", "anthropic/*", "task:*"]
    deny: ["openai/gpt-5*"]
    tasks:
      planner: {primary: anthropic/claude-sonnet-4.5, params: {max_tokens: 1000, temperature: null}, pin: []}
      review: {primary: fast}
  lab:
    allow: ["*"]
    deny: ["task:image", "*:free"]
  notasks:
    allow: ["openai/*"]
  nogpt5:
    allow: ["*"]
    deny: ["openai/gpt-5"]
  openai_only:
    allow: ["openai/*", "task:*"]
defaults:
  rpm: 600
  tpm: 1000
  max_concurrent: 50
  max_completion_tokens: 2048
"""


def sample_policy() -> Policy:
    return parse_policy(SAMPLE, "sample.yaml")
