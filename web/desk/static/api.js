// The desk's REST calls: JSON in and out with the session's CSRF token (X-CSRF-Token, from
// GET /api/me; web/auth/middleware.py refuses a cookie-authenticated POST without it).

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

/** POST `body` as JSON to `path`; the Response (a stale token is fetched again, once). */
export async function postJson(path, body) {
  return sendJson("POST", path, body);
}

/** `method` (POST, PUT...) with `body` as JSON to `path`, as `postJson`. */
export async function sendJson(method, path, body) {
  const send = async (fresh) => fetch(path, {
    method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": await token(fresh)},
    body: JSON.stringify(body),
  });
  const resp = await send(false);
  if (resp.status !== 403) return resp;
  let code = null;
  try {
    code = (await resp.clone().json()).error.code;
  } catch (err) { /* not ours */ }
  return code === "csrf_failed" ? send(true) : resp;
}
