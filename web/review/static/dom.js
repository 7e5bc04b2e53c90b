// DOM helpers: every piece of data reaches the page as text, never as markup.

/** The element with `id` (throws if the page lacks it: a typo should fail loudly). */
export function $(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`no element #${id}`);
  return node;
}

/** A new element: `h("li", {class: "x", dataset: {start: "1.5"}}, "text", child)`. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** "m:ss" of a number of seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A date and time in the reader's locale and zone (UNIX seconds or ISO text). */
export function when(value) {
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(document.documentElement.lang || undefined,
                             {dateStyle: "medium", timeStyle: "short"});
}

let csrf = null;

/** JSON from `path` (GET), or throws an Error whose message is the server's. */
export async function getJson(path) {
  const resp = await fetch(path, {credentials: "same-origin"});
  return answer(resp);
}

/** POST `body` as JSON with the session's CSRF token (from /api/me). */
export async function postJson(path, body) {
  if (csrf === null) {
    const me = await fetch("/api/me", {credentials: "same-origin"});
    csrf = me.ok ? (await me.json()).csrf || "" : "";
  }
  const resp = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
    body: JSON.stringify(body),
  });
  return answer(resp);
}

async function answer(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch (err) { /* not JSON */ }
  if (!resp.ok) {
    const error = new Error(body?.error?.message || `HTTP ${resp.status}`);
    error.status = resp.status;
    throw error;
  }
  return body;
}
