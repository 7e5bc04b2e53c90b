"""The login page: a form that posts JSON to /api/login, then goes where the visitor was sent.

Kept as two small documents served from memory (no template engine, no static directory).
The Content-Security-Policy allows scripts from this origin only, so the script is its own
document; `next` is followed only when it is a path on this site (no open redirect).
"""

from __future__ import annotations

from web.auth.http import security_headers

# The page's headers for its script too (served from memory beside it); `web.app` would add
# them anyway, these stand when the routes are mounted on an application of their own.
PAGE_HEADERS = {**security_headers("text/html"), "Cache-Control": "no-store"}

LOGIN_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Centralita: log in</title>
<script src="/login.js" defer></script>
</head>
<body>
<main>
<h1>Centralita</h1>
<form id="login">
  <p><label>User <input name="username" autocomplete="username" required autofocus></label></p>
  <p><label>Password <input name="password" type="password" autocomplete="current-password"
     required></label></p>
  <p><button type="submit">Log in</button></p>
  <p id="error" role="alert"></p>
</form>
</main>
</body>
</html>
"""

LOGIN_JS = """"use strict";
function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // A path on this site only: "//host" and "/\\\\host" would leave it.
  return /^\\/(?![\\/\\\\])/.test(next) ? next : "/";
}
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login");
  const error = document.getElementById("error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const data = new FormData(form);
    const resp = await fetch("/api/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: data.get("username"), password: data.get("password")}),
      credentials: "same-origin",
    });
    if (resp.ok) {
      const body = await resp.json();
      sessionStorage.setItem("csrf", body.csrf);
      location.assign(safeNext());
      return;
    }
    let message = "Login failed";
    try { message = (await resp.json()).error.message; } catch (e) { /* not JSON */ }
    error.textContent = message;
  });
});
"""
