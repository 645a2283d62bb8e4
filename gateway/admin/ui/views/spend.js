// Spend & limits: 30 days of spend, spend per model, a tag's total, and the budget and limit forms.
// The forms check what they can before sending; the API enforces the same rules again (it is the authority).
import { ApiError, api } from "../api.js";
import { dailyChart } from "../chart.js";
import { append, count, h, message, replace, usd, usdCell } from "../format.js";

function modelTable(byModel, month) {
  const rows = Object.entries(byModel);
  if (!rows.length) return h("p", { class: "muted" }, `No spend recorded in ${month}.`);
  const total = rows.reduce((sum, [, value]) => sum + value, 0);
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "visually-hidden" }, `Spend per model in ${month}`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Model"), h("th", { scope: "col", class: "num" }, "Spend"),
      h("th", { scope: "col", class: "num" }, "Share"))),
    h("tbody", {}, rows.map(([model, value]) => h("tr", {},
      h("td", {}, model), h("td", { class: "num" }, usdCell(value)),
      h("td", { class: "num" }, total > 0 ? `${((value / total) * 100).toFixed(1)} %` : "—"))))));
}

function dayTable(series) {
  return h("details", {},
    h("summary", {}, "Show the days as a table"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day (UTC)"), h("th", { scope: "col", class: "num" }, "Spend"))),
      h("tbody", {}, series.slice().reverse().map((point) =>
        h("tr", {}, h("td", {}, point.day), h("td", { class: "num" }, usdCell(point.usd))))))));
}

// One numeric field of a settings form: its override, the policy's figure and the rule shown beside it.
function field(name, label, setting, { integer }) {
  const ceiling = setting.default;
  const hint = ceiling === null
    ? "Policy sets none. Leave empty for no override."
    : `Policy: ${integer ? count(ceiling) : usd(ceiling)}. You may lower it, not raise it. Empty = policy.`;
  return h("div", { class: "field" },
    h("label", { for: `field-${name}` }, label),
    h("input", {
      id: `field-${name}`, name, type: "number", inputmode: integer ? "numeric" : "decimal",
      min: integer ? 1 : 0, step: integer ? 1 : "any", max: ceiling ?? null,
      value: setting.override ?? "", "aria-describedby": `hint-${name}`, "data-original": setting.override ?? "",
    }),
    h("small", { id: `hint-${name}`, class: "muted" }, hint,
      setting.effective !== null ? ` Effective now: ${integer ? count(setting.effective) : usd(setting.effective)}.` : ""));
}

// The changed fields as an API body: a number, or null to clear the override. Throws a readable message.
function changes(form, names, settings, integer) {
  const body = {};
  for (const name of names) {
    const input = form.elements[name];
    const text = input.value.trim();
    if (text === input.dataset.original) continue;
    if (text === "") {
      body[name] = null;
      continue;
    }
    const value = Number(text);
    if (!Number.isFinite(value)) throw new Error(`${name}: enter a number`);
    if (integer && (!Number.isInteger(value) || value < 1)) throw new Error(`${name}: enter a whole number of at least 1`);
    if (!integer && value < 0) throw new Error(`${name}: enter an amount of at least 0`);
    const ceiling = settings[name].default;
    if (ceiling !== null && value > ceiling) {
      throw new Error(`${name}: may not exceed the policy's ${ceiling} for this organization; ask an operator`);
    }
    body[name] = value;
  }
  if (!Object.keys(body).length) throw new Error("Nothing changed.");
  return body;
}

function settingsForm({ id, title, names, labels, settings, integer, save, onSaved }) {
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const form = h("form", { id, class: "settings", novalidate: true },
    h("h3", {}, title),
    names.map((name) => field(name, labels[name], settings[name], { integer })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, `Save ${title.toLowerCase()}`)),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try {
      body = changes(form, names, settings, integer);
    } catch (error) {
      replace(status, message("error", error.message));
      return;
    }
    try {
      await save(body);
      replace(status, message("ok", "Saved."));
      onSaved(`${title} saved.`);
    } catch (error) {
      replace(status, message("error", error instanceof ApiError ? error.message : String(error)));
    }
  });
  return form;
}

function tagLookup(org) {
  const result = h("div", { "aria-live": "polite" });
  const input = h("input", { id: "tag-query", name: "tag", placeholder: "run_id:exp-42", autocomplete: "off" });
  const form = h("form", { class: "inline" },
    h("label", { for: "tag-query" }, "Tag (key:value)"), input, h("button", { type: "submit" }, "Total"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const tag = input.value.trim();
    if (!tag.includes(":")) {
      replace(result, message("error", "Write the tag as key:value, e.g. run_id:exp-42"));
      return;
    }
    try {
      // The gateway's per-tag counters when the policy totals this tag key (exact, for their retention); for any
      // other key the usage API answers 400, and the total is a sum over the ledger's calls instead.
      const usage = await api.usage(org, { tag }).catch((error) => {
        if (error instanceof ApiError && error.status === 400) return {};
        throw error;
      });
      if (usage.tag) {
        replace(result, h("p", { class: "tag-total" }, h("strong", {}, `${usage.tag.key}:${usage.tag.value}`), " — ",
          usd(usage.tag.cost_usd), ` in ${count(usage.tag.calls)} calls, ${count(usage.tag.tokens)} tokens`));
        return;
      }
      const totals = await api.callsSummary(org, { tag });
      replace(result, h("p", { class: "tag-total" }, h("strong", {}, tag), " — ", usd(totals.cost_usd),
        ` in ${count(totals.calls)}${totals.complete ? "" : "+"} calls, `,
        `${count(totals.prompt_tokens + totals.completion_tokens)} tokens (from the call ledger)`));
    } catch (error) {
      replace(result, message("error", error.message));
    }
  });
  return h("div", {}, form, result);
}

export async function render(main, context) {
  const view = await api.overview(context.org);
  const reload = (notice) => context.refresh(notice);
  append(main,
    h("h1", { tabindex: "-1" }, `Spend & limits of ${view.org}`),
    h("section", { class: "panel", "aria-labelledby": "daily-title" },
      h("h2", { id: "daily-title" }, "Spend per day, last 30 days (UTC)"),
      dailyChart(view.by_day), dayTable(view.by_day)),
    h("div", { class: "columns" },
      h("section", { class: "panel", "aria-labelledby": "models-title" },
        h("h2", { id: "models-title" }, `Spend per model, ${view.month}`), modelTable(view.by_model, view.month)),
      h("section", { class: "panel", "aria-labelledby": "tag-title" },
        h("h2", { id: "tag-title" }, "Spend of one tag"), tagLookup(view.org))),
    h("section", { class: "panel", "aria-labelledby": "settings-title" },
      h("h2", { id: "settings-title" }, "Budgets and limits"),
      h("p", { class: "muted" }, "Admins may tighten what the policy file grants, never loosen it."),
      h("div", { class: "columns" },
        settingsForm({
          id: "budget-form", title: "Budgets", names: ["daily_usd", "monthly_usd"], integer: false,
          labels: { daily_usd: "Daily budget (USD)", monthly_usd: "Monthly budget (USD)" },
          settings: view.budget, save: (body) => api.putBudget(view.org, body), onSaved: reload,
        }),
        settingsForm({
          id: "limits-form", title: "Limits", names: ["rpm", "tpm", "max_concurrent"], integer: true,
          labels: { rpm: "Requests per minute", tpm: "Tokens per minute", max_concurrent: "Concurrent calls" },
          settings: view.limits, save: (body) => api.putLimits(view.org, body), onSaved: reload,
        }))),
  );
}
