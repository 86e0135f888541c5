// The dashboard's only door to the server: the public /v1 API, with the key kept in the
// browser session (sessionStorage: gone when the tab closes).
const KEY_NAME = "openrft-api-key";

export const session = {
  get key() { return sessionStorage.getItem(KEY_NAME) || ""; },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_NAME, value);
    else sessionStorage.removeItem(KEY_NAME);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error ? body.error.code : null;
  }
}

function headers(extra = {}) {
  return session.key ? {...extra, Authorization: "Bearer " + session.key} : extra;
}

async function send(path, options) {
  const resp = await fetch("/v1" + path, options);
  if (!resp.ok) {
    let body = null;
    try { body = await resp.json(); } catch { /* not JSON: keep the status */ }
    throw new ApiError(resp.status, body);
  }
  return resp;
}

export async function api(path) {
  return (await send(path, {headers: headers()})).json();
}

export async function post(path, body) {
  const options = {method: "POST", headers: headers({"Content-Type": "application/json"}),
                   body: JSON.stringify(body)};
  return (await send(path, options)).json();
}

export async function download(path) {
  return (await send(path, {headers: headers()})).blob();
}

export function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return pairs.length ? "?" + new URLSearchParams(pairs).toString() : "";
}

// Every item of a paginated list (the SDK's cursor protocol), at most maxPages pages.
export async function listAll(path, {limit = 100, maxPages = 100} = {}) {
  let items = [], after = null;
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await api(path + sep + "limit=" + limit + (after ? "&after=" + after : ""));
    items = items.concat(body.data);
    if (!body.has_more || body.data.length === 0) break;
    after = body.data[body.data.length - 1].id;
  }
  return items;
}
