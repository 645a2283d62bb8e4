// One call's full ledger record: every field, grouped the way a person reads a call.
import { api } from "../api.js";
import { append, count, h, time, usd } from "../format.js";

const GROUPS = [
  ["Call", ["request_id", "timestamp", "subject", "task", "status", "error_type", "stream", "cancelled", "cache"]],
  ["Routing", ["model_requested", "model_routed", "model_served", "provider", "generation_id", "retries",
    "fallbacks"]],
  ["Usage and cost", ["prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens", "cost_usd",
    "cost_source", "latency_ms", "ttft_ms"]],
  ["Request", ["temperature", "top_p", "max_tokens", "seed", "n", "stop", "prompt_sha256"]],
];

function value(name, raw) {
  if (raw === null || raw === undefined || raw === "") return h("span", { class: "muted" }, "—");
  if (name === "timestamp") return time(raw);
  if (name === "cost_usd") return h("span", { title: `${raw} USD` }, usd(raw));
  if (name.endsWith("_ms")) return `${count(Math.round(raw))} ms`;
  if (typeof raw === "number") return count(raw);
  if (typeof raw === "boolean") return raw ? "yes" : "no";
  if (Array.isArray(raw)) return raw.join(", ");
  return h("span", { class: name.includes("id") || name.includes("sha") ? "mono" : null }, String(raw));
}

export async function render(main, context, requestId) {
  const record = await api.call(context.org, requestId);
  const known = new Set(GROUPS.flatMap(([, names]) => names));
  const others = Object.keys(record).filter((name) => !known.has(name) && !["org", "tags", "prompt"].includes(name));
  const groups = others.length ? [...GROUPS, ["Other", others]] : GROUPS;
  const tags = Object.entries(record.tags || {});
  append(main,
    h("p", {}, h("a", { href: "#/calls" }, "← Back to calls")),
    h("h1", { tabindex: "-1" }, "Call ", h("span", { class: "mono" }, record.request_id)),
    h("div", { class: "record" }, groups.map(([title, names]) => h("section", { class: "panel" },
      h("h2", {}, title),
      h("dl", {}, names.flatMap((name) => [h("dt", {}, name), h("dd", { "data-field": name }, value(name, record[name]))])),
    ))),
    h("section", { class: "panel" }, h("h2", {}, "Tags"),
      tags.length ? h("ul", { class: "tag-list" }, tags.map(([key, tag]) => h("li", {}, h("span", { class: "tag" }, `${key}:${tag}`))))
        : h("p", { class: "muted" }, "No tags.")),
    record.prompt ? h("section", { class: "panel" }, h("h2", {}, "Prompt (captured)"), h("pre", {}, record.prompt)) : null,
    h("details", { class: "panel" }, h("summary", {}, "The record as JSON"), h("pre", {}, JSON.stringify(record, null, 2))),
  );
}
