// Overview: today and this month at a glance, budgets against 50/80/100 %, calls, errors, reservations, alerts.
import { api } from "../api.js";
import { budgetBar } from "../chart.js";
import { append, count, h, usd } from "../format.js";

function tile(label, value, detail, id) {
  return h("div", { class: "tile", "data-tile": id },
    h("div", { class: "tile-label" }, label),
    h("div", { class: "tile-value" }, value),
    detail ? h("div", { class: "tile-detail muted" }, detail) : null);
}

function alertsList(alerts) {
  if (!alerts.length) return h("p", { class: "muted" }, "No budget alerts have been sent.");
  return h("ul", { class: "alerts" }, alerts.map((alert) =>
    h("li", { class: `alert t${alert.threshold}` },
      h("strong", {}, `${alert.threshold} %`), ` of the ${alert.period} budget reached (${alert.period_key})`)));
}

export async function render(main, context) {
  const view = await api.overview(context.org);
  const { budget, today } = view;
  const errorRate = today.requests ? `${((today.errors / today.requests) * 100).toFixed(1)} % of calls` : null;
  const topModel = Object.entries(view.by_model)[0];
  append(main,
    h("h1", { tabindex: "-1" }, `Overview of ${view.org}`),
    h("section", { class: "tiles", "aria-label": "Today and this month" },
      tile("Spent today", usd(budget.daily_usd.spent_usd), `UTC day ${view.day}`, "today"),
      tile("Spent this month", usd(budget.monthly_usd.spent_usd), topModel ? `most on ${topModel[0]}` : view.month,
        "month"),
      tile("Requests today", count(today.requests) + (today.complete ? "" : "+"), null, "requests"),
      tile("Errors today", count(today.errors), errorRate, "errors"),
      tile("Open reservations", count(budget.reservations), `${usd(budget.reserved_usd)} held`, "reservations")),
    h("section", { class: "panel", "aria-labelledby": "budgets-title" },
      h("h2", { id: "budgets-title" }, "Budgets"),
      h("div", { class: "budgets" },
        budgetBar("Daily budget", budget.daily_usd),
        budgetBar("Monthly budget", budget.monthly_usd))),
    h("section", { class: "panel", "aria-labelledby": "alerts-title" },
      h("h2", { id: "alerts-title" }, "Recent alerts"),
      alertsList(view.alerts)),
  );
}
