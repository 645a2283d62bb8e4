// Calls: the ledger newest first, filtered and paged by the server, with CSV/JSONL export of the filtered set.
import { api } from "../api.js";
import { append, count, h, localInputToIso, message, replace, time, usd, usdCell } from "../format.js";

const PAGE_SIZES = [50, 100, 200];
const FILTERS = ["model", "status", "tag", "since", "until"];

function statusBadge(record) {
  const ok = record.status >= 200 && record.status < 400;
  return h("span", { class: `badge ${ok ? "ok" : "error"}`, title: record.error_type || null }, String(record.status));
}

function tags(record) {
  const entries = Object.entries(record.tags || {});
  return entries.length ? entries.map(([key, value]) => h("span", { class: "tag" }, `${key}:${value}`)) : "";
}

function row(record) {
  const model = record.model_served || record.model_routed;
  return h("tr", {},
    h("td", {}, time(record.timestamp)),
    h("td", {}, h("a", { href: `#/calls/${encodeURIComponent(record.request_id)}`, class: "mono" },
      record.request_id.slice(0, 16))),
    h("td", {}, model, model !== record.model_requested ? h("div", { class: "muted small" }, record.model_requested) : null),
    h("td", {}, record.subject),
    h("td", {}, statusBadge(record)),
    h("td", { class: "num" }, `${count(record.prompt_tokens)} / ${count(record.completion_tokens)}`),
    h("td", { class: "num" }, usdCell(record.cost_usd)),
    h("td", { class: "num" }, `${count(Math.round(record.latency_ms))} ms`),
    h("td", { class: "tags" }, tags(record)));
}

function filterForm(state, onApply) {
  const field = (name, label, control) => h("div", { class: "field" }, h("label", { for: `filter-${name}` }, label), control);
  const select = h("select", { id: "filter-status", name: "status" },
    [["", "any"], ["ok", "ok (2xx/3xx)"], ["error", "errors"], ["429", "429"], ["502", "502"], ["503", "503"]]
      .map(([value, label]) => h("option", { value, selected: state.filters.status === value }, label)));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter calls" },
    field("model", "Model", h("input", { id: "filter-model", name: "model", value: state.filters.model || "",
      placeholder: "openai/gpt-4o-mini", autocomplete: "off" })),
    field("status", "Status", select),
    field("tag", "Tag", h("input", { id: "filter-tag", name: "tag", value: state.filters.tag || "",
      placeholder: "run_id:exp-42", autocomplete: "off" })),
    field("since", "From (your time)", h("input", { id: "filter-since", name: "since", type: "datetime-local",
      value: state.inputs.since || "" })),
    field("until", "Until", h("input", { id: "filter-until", name: "until", type: "datetime-local",
      value: state.inputs.until || "" })),
    field("limit", "Rows", h("select", { id: "filter-limit", name: "limit" },
      PAGE_SIZES.map((size) => h("option", { value: size, selected: state.limit === size }, String(size))))),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply"),
      h("button", { type: "reset", class: "secondary" }, "Clear")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    state.inputs = { since: data.get("since"), until: data.get("until") };
    state.filters = {
      model: data.get("model").trim(), status: data.get("status"), tag: data.get("tag").trim(),
      since: localInputToIso(data.get("since")), until: localInputToIso(data.get("until")),
    };
    state.limit = Number(data.get("limit"));
    state.cursors = [null];
    onApply();
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    state.filters = {};
    state.inputs = {};
    state.cursors = [null];
    onApply();
  });
  return form;
}

async function download(org, filters, format, status) {
  replace(status, message("info", `Preparing the ${format.toUpperCase()} export…`));
  try {
    const response = await api.exportCalls(org, { ...filters, format });
    const blob = await response.blob();
    const disposition = response.headers.get("content-disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || `calls.${format}`;
    const link = h("a", { href: URL.createObjectURL(blob), download: name, class: "visually-hidden" }, name);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    replace(status, message("ok", `Downloaded ${name}.`));
  } catch (error) {
    replace(status, message("error", `Export failed: ${error.message}`));
  }
}

// Totals of the whole filtered set (not just this page): a run's cost at a glance when filtering by its tag.
async function summaryLine(org, filters, target) {
  const totals = await api.callsSummary(org, filters);
  replace(target, h("p", { class: "summary", id: "calls-summary" },
    h("strong", {}, `${count(totals.calls)}${totals.complete ? "" : "+"} calls`),
    ` · ${usd(totals.cost_usd)} · ${count(totals.prompt_tokens)} tokens in, ${count(totals.completion_tokens)} out`,
    totals.errors ? ` · ${count(totals.errors)} errors` : "",
    totals.complete ? "" : " (the newest 100,000 calls scanned)"));
}

export async function render(main, context) {
  const state = context.memory.calls ||= { filters: {}, inputs: {}, limit: PAGE_SIZES[0], cursors: [null] };
  const results = h("div", { class: "results", "aria-live": "polite" });
  const totals = h("div");
  const exportStatus = h("div", { class: "export-status" });
  const active = () => Object.fromEntries(FILTERS.map((name) => [name, state.filters[name]]).filter(([, v]) => v));

  async function load() {
    replace(results, h("p", { class: "muted" }, "Loading calls…"));
    if (state.cursors.length === 1) summaryLine(context.org, active(), totals).catch(context.fail);
    const cursor = state.cursors[state.cursors.length - 1];
    const page = await api.calls(context.org, { ...active(), limit: state.limit, cursor });
    const pageNumber = state.cursors.length;
    const newer = h("button", { type: "button", class: "secondary", disabled: pageNumber === 1 }, "← Newer");
    const older = h("button", { type: "button", class: "secondary", disabled: !page.has_more }, "Older →");
    newer.addEventListener("click", () => { state.cursors.pop(); load().catch(context.fail); });
    older.addEventListener("click", () => { state.cursors.push(page.next_cursor); load().catch(context.fail); });
    const first = (pageNumber - 1) * state.limit + 1;
    const summary = page.data.length
      ? `Page ${pageNumber}: calls ${count(first)}–${count(first + page.data.length - 1)}, newest first`
      : pageNumber === 1 ? "No calls match these filters." : "No more calls.";
    replace(results,
      h("div", { class: "table-wrap" }, h("table", { class: "calls", id: "calls-table" },
        h("caption", {}, summary),
        h("thead", {}, h("tr", {}, ["Time", "Request", "Model", "Subject", "Status", "Tokens in / out", "Cost",
          "Latency", "Tags"].map((title) => h("th", { scope: "col", class: ["Tokens in / out", "Cost", "Latency"]
          .includes(title) ? "num" : null }, title)))),
        h("tbody", {}, page.data.map(row)))),
      h("nav", { class: "pager", "aria-label": "Pages" }, newer, h("span", { class: "muted" }, `page ${pageNumber}`), older));
  }

  const csv = h("button", { type: "button", class: "secondary", id: "export-csv" }, "Export CSV");
  const jsonl = h("button", { type: "button", class: "secondary", id: "export-jsonl" }, "Export JSONL");
  csv.addEventListener("click", () => download(context.org, active(), "csv", exportStatus));
  jsonl.addEventListener("click", () => download(context.org, active(), "jsonl", exportStatus));
  append(main,
    h("h1", { tabindex: "-1" }, "Calls"),
    h("section", { class: "panel" }, filterForm(state, () => load().catch(context.fail)),
      h("div", { class: "export" }, h("span", { class: "muted" }, "Export the filtered calls:"), csv, jsonl,
        exportStatus)),
    h("section", { class: "panel" }, totals, results));
  await load();
}
