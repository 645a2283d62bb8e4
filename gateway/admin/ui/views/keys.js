// API keys: list, create (the key is shown once, here, and never again) and revoke.
import { ApiError, api } from "../api.js";
import { append, count, h, message, replace, time, usd } from "../format.js";

function optionalNumber(data, name, integer) {
  const text = (data.get(name) || "").trim();
  if (text === "") return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integer && (!Number.isInteger(value) || value < 1))) {
    throw new Error(`${name}: enter ${integer ? "a whole number of at least 1" : "an amount of at least 0"}`);
  }
  return value;
}

function keyBody(form) {
  const data = new FormData(form);
  const name = data.get("name").trim();
  if (!name) throw new Error("Give the key a name.");
  const body = { name };
  const subject = data.get("subject").trim();
  if (subject) body.subject = subject;
  const roles = data.get("roles").split(",").map((role) => role.trim()).filter(Boolean);
  if (roles.length) body.roles = roles;
  for (const [field, integer] of [["rpm", true], ["tpm", true], ["daily_usd", false], ["monthly_usd", false]]) {
    const value = optionalNumber(data, field, integer);
    if (value !== undefined) body[field] = value;
  }
  if (data.get("expires_at")) body.expires_at = data.get("expires_at");
  return body;
}

function createForm(org, onCreated) {
  const status = h("div", { "aria-live": "polite" });
  const input = (name, label, attributes = {}) => h("div", { class: "field" },
    h("label", { for: `key-${name}` }, label), h("input", { id: `key-${name}`, name, autocomplete: "off", ...attributes }));
  const form = h("form", { id: "key-form", class: "settings", novalidate: true },
    h("h2", {}, "Create a key"),
    h("div", { class: "grid" },
      input("name", "Name", { required: true, placeholder: "batch-jobs" }),
      input("subject", "Subject (optional)"),
      input("roles", "Roles, comma separated (optional)", { placeholder: "user" }),
      input("rpm", "Requests per minute", { type: "number", min: 1, step: 1 }),
      input("tpm", "Tokens per minute", { type: "number", min: 1, step: 1 }),
      input("daily_usd", "Daily budget (USD)", { type: "number", min: 0, step: "any" }),
      input("monthly_usd", "Monthly budget (USD)", { type: "number", min: 0, step: "any" }),
      input("expires_at", "Expires on", { type: "date" })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create key")),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await api.createKey(org, keyBody(form));
      form.reset();
      onCreated(created);
    } catch (error) {
      replace(status, message("error", error.message));
    }
  });
  return form;
}

function shownOnce(created) {
  const value = h("input", { id: "new-key", class: "mono", readonly: true, value: created.key, "aria-label": "New API key" });
  const copy = h("button", { type: "button", class: "secondary" }, "Copy");
  copy.addEventListener("click", async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(created.key);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Select and copy it";
    }
  });
  return h("section", { class: "panel once", role: "alert" },
    h("h2", {}, `Key “${created.name}” created`),
    h("p", {}, "Copy it now: it is shown this once and cannot be shown again."),
    h("div", { class: "inline" }, value, copy));
}

function keyRow(key, revoke) {
  const button = key.revoked ? h("span", { class: "badge error" }, "revoked")
    : h("button", { type: "button", class: "danger", "data-key": key.id }, "Revoke");
  if (!key.revoked) button.addEventListener("click", () => revoke(key, button));
  return h("tr", { "data-key-row": key.id },
    h("td", {}, key.name), h("td", { class: "mono" }, `${key.prefix}…`), h("td", {}, key.subject || "—"),
    h("td", {}, (key.roles || []).join(", ") || "—"),
    h("td", { class: "num" }, key.rpm ? count(key.rpm) : "—"),
    h("td", { class: "num" }, key.daily_usd !== null && key.daily_usd !== undefined ? usd(key.daily_usd) : "—"),
    h("td", { class: "num" }, usd(key.spent_usd ?? 0)),
    h("td", {}, time(key.created_at)), h("td", {}, time(key.last_used_at)),
    h("td", {}, key.expires_at ? time(key.expires_at) : "never"),
    h("td", {}, button));
}

export async function render(main, context) {
  append(main, h("h1", { tabindex: "-1" }, "API keys"));
  let listing;
  try {
    listing = await api.keys(context.org);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      append(main, message("info", "API keys are not enabled on this gateway."));
      return;
    }
    throw error;
  }
  const created = h("div");
  const table = h("div", { class: "table-wrap" });
  async function revoke(key, button) {
    if (!window.confirm(`Revoke “${key.name}” (${key.prefix}…)? Calls with it are refused at once.`)) return;
    button.disabled = true;
    try {
      await api.revokeKey(context.org, key.id);
      await refreshTable();
    } catch (error) {
      button.disabled = false;
      table.prepend(message("error", error.message));
    }
  }
  function fill(keys) {
    replace(table, keys.length ? h("table", { id: "keys-table" },
      h("thead", {}, h("tr", {}, ["Name", "Prefix", "Subject", "Roles", "RPM", "Daily", "Spent", "Created", "Last used",
        "Expires", ""].map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, keys.map((key) => keyRow(key, revoke))))
      : h("p", { class: "muted" }, "No keys yet."));
  }
  async function refreshTable() {
    fill((await api.keys(context.org)).data);
  }
  fill(listing.data);
  append(main, created, h("section", { class: "panel" }, h("h2", {}, "Keys"), table),
    h("section", { class: "panel" }, createForm(context.org, async (key) => {
      replace(created, shownOnce(key));
      await refreshTable();
      created.querySelector("input").focus();
    })));
}
