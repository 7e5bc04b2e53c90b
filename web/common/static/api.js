// REST calls of every page: JSON in and out with the session's CSRF token (X-CSRF-Token, from
// GET /api/me; web/auth/middleware.py refuses a cookie-authenticated write without it), and
// who the user is (their name and role, from the same answer).

let mine = null;  // the promise of GET /api/me's answer (null: ask again)

/** Who is signed in: `{user, role, csrf, language}`, or `{}` when the server says no one.
 * Asked once per page unless `fresh`. */
export function me(fresh = false) {
  if (mine === null || fresh) {
    mine = fetch("/api/me", {credentials: "same-origin"})
      .then((resp) => (resp.ok ? resp.json() : {}))
      .catch(() => {
        mine = null;  // the server was away: ask again next time
        return {};
      });
  }
  return mine;
}

/** `method` `path` with `body` as JSON (none when undefined); the Response. A token the
 * server calls stale is fetched again, once. */
export async function request(method, path, body) {
  const send = async (fresh) => fetch(path, {
    method, credentials: "same-origin",
    headers: {"Content-Type": "application/json",
              "X-CSRF-Token": (await me(fresh)).csrf || ""},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const resp = await send(false);
  if (resp.status !== 403) return resp;
  let code = null;
  try {
    code = (await resp.clone().json()).error.code;
  } catch (err) { /* not ours */ }
  return code === "csrf_failed" ? send(true) : resp;
}

/** `method` (POST, PUT...) with `body` as JSON to `path`; the Response. */
export const sendJson = request;

/** POST `body` as JSON to `path`; the Response. */
export function postJson(path, body) {
  return request("POST", path, body);
}

/** The JSON body of `resp`, or throws an Error whose message is the server's (and whose
 * `status` is the HTTP status). */
export async function answer(resp) {
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

/** GET `path`'s JSON (throws as `answer`). */
export async function getJson(path) {
  return answer(await fetch(path, {credentials: "same-origin"}));
}

/** The server's reason for refusing `resp`, for the page. */
export async function reason(resp) {
  try {
    return (await resp.json()).error.message || `HTTP ${resp.status}`;
  } catch (err) {
    return `HTTP ${resp.status}`;
  }
}
