// REST calls with the session's CSRF token (X-CSRF-Token from GET /api/me; a stale token is
// fetched again once).

let csrf = null;

async function token(fresh) {
  if (csrf !== null && !fresh) return csrf;
  try {
    const resp = await fetch("/api/me", {credentials: "same-origin"});
    csrf = resp.ok ? (await resp.json()).csrf || "" : "";
  } catch (err) {
    csrf = "";
  }
  return csrf;
}

/** `method` `path` with `body` as JSON (none for undefined); the Response. */
export async function request(method, path, body) {
  const send = async (fresh) => fetch(path, {
    method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": await token(fresh)},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const resp = await send(false);
  if (resp.status !== 403) return resp;
  let code = null;
  try { code = (await resp.clone().json()).error.code; } catch (err) { /* not ours */ }
  return code === "csrf_failed" ? send(true) : resp;
}

/** The error message of a refused request, for the page. */
export async function reason(resp) {
  try {
    const body = await resp.json();
    return body.error.message || `HTTP ${resp.status}`;
  } catch (err) {
    return `HTTP ${resp.status}`;
  }
}
