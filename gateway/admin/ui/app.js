// The console's shell: sign-in, the session, and a small hash router over the views.
import { ApiError, api, session } from "./api.js";
import { h, message, replace } from "./format.js";
import * as callView from "./views/call.js";
import * as callsView from "./views/calls.js";
import * as keysView from "./views/keys.js";
import * as overviewView from "./views/overview.js";
import * as spendView from "./views/spend.js";

const VIEWS = { overview: overviewView, spend: spendView, calls: callsView, keys: keysView };
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const signOutButton = document.getElementById("sign-out");
// What survives moving between views (the calls filters); gone on reload like everything but the token.
const memory = {};
let identity = null;
let renders = 0; // which show() is the latest, so a slow answer never paints over a newer view

function signInReason(error) {
  if (!error) return null;
  if (error.code === "no_token") return null;
  if (error.status === 403) return "This token is valid but lacks the admin role. Sign in with an admin token.";
  if (error.status === 401) return `The token was refused: ${error.message}. It may have expired; paste a new one.`;
  return `Could not sign in: ${error.message}`;
}

function showSignIn(error) {
  identity = null;
  nav.hidden = who.hidden = signOutButton.hidden = true;
  const reason = signInReason(error);
  const token = h("textarea", {
    id: "token", name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false",
    "aria-describedby": "token-help",
  });
  const form = h("form", { id: "sign-in", class: "panel sign-in" },
    h("h1", { tabindex: "-1" }, "Sign in"),
    reason ? message("error", reason) : null,
    h("label", { for: "token" }, "Admin token (JWT with the admin role, or an admin API key)"),
    token,
    h("p", { id: "token-help", class: "muted small" },
      "The token stays in this tab only (sessionStorage) and is sent as a Bearer header to /admin/*. ",
      "Closing the tab signs you out."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = token.value.trim();
    if (!value) return;
    session.save(value);
    await start();
  });
  replace(main, form);
  document.title = "Sign in · Gateway admin console";
  token.focus();
}

function signOut() {
  session.clear();
  window.location.hash = "";
  showSignIn(null);
}

function currentRoute() {
  const [name, ...rest] = window.location.hash.replace(/^#\/?/, "").split("/");
  if (name === "calls" && rest.length) return { view: callView, tab: "calls", argument: decodeURIComponent(rest.join("/")) };
  return VIEWS[name] ? { view: VIEWS[name], tab: name } : { view: overviewView, tab: "overview" };
}

function fail(error) {
  if (error instanceof ApiError && error.status === 401) return; // the unauthorized event shows sign-in
  if (error instanceof ApiError && error.status === 403 && !identity) return showSignIn(error);
  main.append(message("error", error instanceof ApiError ? error.message : `Unexpected error: ${error}`));
}

async function show(notice) {
  if (!identity) return;
  const route = currentRoute();
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.view === route.tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  const turn = ++renders;
  const content = document.createElement("div");
  const context = { org: identity.org, memory, fail, refresh: (text) => show(text) };
  try {
    await route.view.render(content, context, route.argument);
    if (turn !== renders || !identity) return; // the viewer moved on (or was signed out) meanwhile
    replace(main, notice ? message("ok", notice) : null, ...content.childNodes);
  } catch (error) {
    if (turn !== renders || !identity) return; // e.g. a 401: the sign-in screen has replaced the view
    replace(main, ...content.childNodes);
    fail(error);
  }
  const heading = main.querySelector("h1");
  document.title = `${heading ? heading.textContent : "Console"} · Gateway admin console`;
  if (!notice && heading) heading.focus({ preventScroll: true });
}

async function start() {
  try {
    identity = await api.me();
  } catch (error) {
    session.clear();
    showSignIn(error);
    return;
  }
  nav.hidden = who.hidden = signOutButton.hidden = false;
  replace(who, `${identity.subject} · ${identity.org}`);
  await show();
}

window.addEventListener("console:unauthorized", (event) => {
  session.clear();
  showSignIn(event.detail);
});
window.addEventListener("hashchange", () => show());
signOutButton.addEventListener("click", signOut);
start();
