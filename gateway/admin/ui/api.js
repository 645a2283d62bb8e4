// The only way the console talks to the gateway: the /admin/* JSON API, with the admin token as a Bearer header.
// The token lives in sessionStorage (gone when the tab closes), never in a URL or a cookie.

const TOKEN_KEY = "gateway.adminToken";

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  save: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

async function errorFrom(response) {
  let message = `${response.status} ${response.statusText}`;
  let code = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      code = body.error.code || null;
    }
  } catch {
    // not JSON (a proxy's error page): the status line is all there is
  }
  return new ApiError(response.status, message, code);
}

export async function request(method, path, { body, query, raw } = {}) {
  const token = session.token();
  if (!token) throw new ApiError(401, "Not signed in", "no_token");
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.status === 401) window.dispatchEvent(new CustomEvent("console:unauthorized", { detail: error }));
    throw error;
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

export const api = {
  me: () => request("GET", "/admin/me"),
  overview: (org) => request("GET", `/admin/orgs/${encodeURIComponent(org)}/overview`),
  putBudget: (org, body) => request("PUT", `/admin/orgs/${encodeURIComponent(org)}/budget`, { body }),
  putLimits: (org, body) => request("PUT", `/admin/orgs/${encodeURIComponent(org)}/limits`, { body }),
  usage: (org, query) => request("GET", `/admin/orgs/${encodeURIComponent(org)}/usage`, { query }),
  calls: (org, query) => request("GET", `/admin/orgs/${encodeURIComponent(org)}/calls`, { query }),
  callsSummary: (org, query) => request("GET", `/admin/orgs/${encodeURIComponent(org)}/calls/summary`, { query }),
  call: (org, id) => request("GET", `/admin/orgs/${encodeURIComponent(org)}/calls/${encodeURIComponent(id)}`),
  exportCalls: (org, query) =>
    request("GET", `/admin/orgs/${encodeURIComponent(org)}/calls/export`, { query, raw: true }),
  keys: (org) => request("GET", `/admin/orgs/${encodeURIComponent(org)}/keys`),
  createKey: (org, body) => request("POST", `/admin/orgs/${encodeURIComponent(org)}/keys`, { body }),
  revokeKey: (org, id) =>
    request("DELETE", `/admin/orgs/${encodeURIComponent(org)}/keys/${encodeURIComponent(id)}`),
};
