"""Login, sessions, CSRF, bearer tokens and user administration on a real aiohttp server."""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from media.clock import FakeClock
from tests.web.conftest import PASSWORD, TOKENS, Desk, bearer
from web.auth.http import SESSION_COOKIE
from web.auth.roles import Role


async def test_login_sets_a_strict_httponly_cookie_and_returns_csrf(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        desk.url("/api/login"), json={"username": "sam", "password": PASSWORD}
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
        cookie_header = resp.headers.getall("Set-Cookie")
    assert body["user"] == "sam" and body["role"] == "supervisor" and len(body["csrf"]) >= 32
    assert len(cookie_header) == 1
    attributes = {a.strip().lower() for a in cookie_header[0].split(";")}
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert "secure" not in attributes  # plain HTTP here
    async with http.get(desk.url("/api/me")) as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "user": "sam", "role": "supervisor", "via": "session", "csrf": body["csrf"],
            "language": None,  # no language of her own chosen: her pages follow the browser
        }


async def test_cookie_is_secure_when_configured(desk: Desk, http: aiohttp.ClientSession) -> None:
    desk.auth.cookie_secure = True
    async with http.post(
        desk.url("/api/login"), json={"username": "ana", "password": PASSWORD}
    ) as resp:
        assert resp.status == 200
        assert "secure" in resp.headers["Set-Cookie"].lower().split("; ")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "sam", "password": "wrong password!"}, 401, "invalid_credentials"),
        ({"username": "nobody", "password": PASSWORD}, 401, "invalid_credentials"),
        ({"username": "sam"}, 400, "invalid_input"),
        ({"username": "", "password": PASSWORD}, 400, "invalid_input"),
        ({"username": "sam", "password": PASSWORD, "remember": True}, 400, "invalid_input"),
        (["sam", PASSWORD], 400, "invalid_input"),
    ],
)
async def test_login_failures(
    desk: Desk, http: aiohttp.ClientSession, body: object, status: int, code: str
) -> None:
    async with http.post(desk.url("/api/login"), json=body) as resp:
        assert resp.status == status
        assert (await resp.json())["error"]["code"] == code
        assert "Set-Cookie" not in resp.headers
    async with http.get(desk.url("/api/me")) as resp:
        assert resp.status == 401


async def test_login_from_a_form_post_is_refused(desk: Desk, http: aiohttp.ClientSession) -> None:
    # What a cross-site HTML form can send: no JSON content type, so no login CSRF.
    async with http.post(
        desk.url("/api/login"), data={"username": "sam", "password": PASSWORD}
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["where"] == "body"
        assert "Set-Cookie" not in resp.headers


async def test_disabled_user_cannot_log_in(desk: Desk, http: aiohttp.ClientSession) -> None:
    await desk.auth.users.update_user("ana", disabled=True)
    async with http.post(
        desk.url("/api/login"), json={"username": "ana", "password": PASSWORD}
    ) as resp:
        assert resp.status == 401


async def test_throttled_after_failures_even_with_the_right_password(
    desk: Desk, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    limit = desk.auth.throttle.policy.max_failures
    for _ in range(limit):
        async with http.post(
            desk.url("/api/login"), json={"username": "sam", "password": "guess guess guess"}
        ) as resp:
            assert resp.status == 401
    async with http.post(
        desk.url("/api/login"), json={"username": "sam", "password": PASSWORD}
    ) as resp:
        assert resp.status == 429
        assert (await resp.json())["error"]["code"] == "too_many_attempts"
        assert int(resp.headers["Retry-After"]) == int(desk.auth.throttle.policy.lockout)
    # Another user from the same address is not locked (the source limit is higher).
    await desk.login(http, "ana")
    clock.advance(desk.auth.throttle.policy.lockout)
    await desk.login(http, "sam")


async def test_logout_ends_the_session_and_needs_csrf(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    csrf = await desk.login(http, "ana")
    async with http.post(desk.url("/api/logout")) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "csrf_failed"
    async with http.post(desk.url("/api/logout"), headers={"X-CSRF-Token": csrf + "x"}) as resp:
        assert resp.status == 403
    session_id = http.cookie_jar.filter_cookies(URL(desk.url("/")))[SESSION_COOKIE].value
    async with http.post(desk.url("/api/logout"), headers={"X-CSRF-Token": csrf}) as resp:
        assert resp.status == 204
    async with http.get(desk.url("/api/me")) as resp:
        assert resp.status == 401
    # The old cookie replayed by hand is dead server-side, not only deleted in the browser.
    async with aiohttp.ClientSession() as other, other.get(
        desk.url("/api/me"), headers={"Cookie": f"{SESSION_COOKIE}={session_id}"}
    ) as resp:
        assert resp.status == 401


async def test_csrf_token_of_another_session_is_refused(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    csrf_root = await desk.login(http, "root")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        other_csrf = await desk.login(other, "sam")
        assert other_csrf != csrf_root
    new_user = {"name": "eve", "password": PASSWORD, "role": "agent"}
    async with http.post(
        desk.url("/api/users"), json=new_user, headers={"X-CSRF-Token": other_csrf}
    ) as resp:
        assert resp.status == 403
    assert await desk.auth.users.get_user("eve") is None
    async with http.post(
        desk.url("/api/users"), json=new_user, headers={"X-CSRF-Token": csrf_root}
    ) as resp:
        assert resp.status == 201, await resp.text()


async def test_cross_origin_requests_with_the_cookie_are_refused(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    csrf = await desk.login(http, "ana")
    headers = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    async with http.post(desk.url("/api/logout"), headers=headers) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "cross_origin"
    headers["Origin"] = desk.base
    async with http.post(desk.url("/api/logout"), headers=headers) as resp:
        assert resp.status == 204


async def test_bearer_tokens_from_config_and_from_the_api(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    async with http.get(desk.url("/api/me"), headers=bearer(Role.SUPERVISOR)) as resp:
        assert await resp.json() == {
            "user": "token:config-supervisor", "role": "supervisor", "via": "token"}
    # Made by an admin (with a token: no cookie, so no CSRF header needed).
    async with http.post(
        desk.url("/api/tokens"), json={"name": "crm", "role": "supervisor"},
        headers=bearer(Role.ADMIN),
    ) as resp:
        assert resp.status == 201
        made = await resp.json()
    assert made["role"] == "supervisor" and made["created_by"] == "token:config-admin"
    crm = {"Authorization": f"Bearer {made['token']}"}
    async with http.get(desk.url("/api/me"), headers=crm) as resp:
        assert (await resp.json())["user"] == "token:crm"
    async with http.get(desk.url("/api/tokens"), headers=bearer(Role.ADMIN)) as resp:
        listed = await resp.json()
    assert [t["name"] for t in listed["tokens"]] == ["crm"]
    assert made["token"] not in str(listed)
    async with http.get(desk.url("/api/tokens"), headers=crm) as resp:
        assert resp.status == 403
    async with http.delete(desk.url("/api/tokens/crm"), headers=bearer(Role.ADMIN)) as resp:
        assert resp.status == 204
    async with http.get(desk.url("/api/me"), headers=crm) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic cm9vdDpwdw==", f"Token {TOKENS[Role.ADMIN]}", "Bearer nope"]
)
async def test_bad_authorization_headers_are_refused_even_with_a_good_cookie(
    desk: Desk, http: aiohttp.ClientSession, header: str
) -> None:
    await desk.login(http, "root")
    async with http.get(desk.url("/api/me"), headers={"Authorization": header}) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "invalid_token"


async def test_user_administration(desk: Desk, http: aiohttp.ClientSession) -> None:
    admin = bearer(Role.ADMIN)
    async with http.post(
        desk.url("/api/users"), json={"name": "eve", "password": PASSWORD, "role": "agent"},
        headers=admin,
    ) as resp:
        assert resp.status == 201
        assert (await resp.json())["role"] == "agent"
    async with http.get(desk.url("/api/users"), headers=admin) as resp:
        users = (await resp.json())["users"]
    assert [u["name"] for u in users] == ["ana", "eve", "root", "sam"]
    assert "password_hash" not in str(users) and "$argon2" not in str(users)

    eve = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with eve:
        await desk.login(eve, "eve")
        async with http.patch(
            desk.url("/api/users/eve"), json={"role": "supervisor"}, headers=admin
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["role"] == "supervisor"
        # Her session ended with the change; she logs in again with the new role.
        async with eve.get(desk.url("/api/me")) as resp:
            assert resp.status == 401
        await desk.login(eve, "eve")
        async with eve.get(desk.url("/api/me")) as resp:
            assert (await resp.json())["role"] == "supervisor"

    async with http.patch(
        desk.url("/api/users/eve"), json={"password": "a new long password", "disabled": True},
        headers=admin,
    ) as resp:
        assert resp.status == 200 and (await resp.json())["disabled"] is True


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "where"),
    [
        ("POST", "/api/users", {"name": "ana", "password": PASSWORD, "role": "agent"}, 409,
         "user_exists", None),
        ("POST", "/api/users", {"name": "x", "password": PASSWORD, "role": "boss"}, 400,
         "invalid_input", "role"),
        ("POST", "/api/users", {"name": "x", "password": "short", "role": "agent"}, 400,
         "invalid_input", "password"),
        ("POST", "/api/users", {"name": "Bad Name", "password": PASSWORD, "role": "agent"}, 400,
         "invalid_input", "name"),
        ("PATCH", "/api/users/nobody", {"role": "agent"}, 404, "not_found", None),
        ("PATCH", "/api/users/ana", {}, 400, "invalid_input", "body"),
        ("PATCH", "/api/users/ana", {"disabled": "yes"}, 400, "invalid_input", "disabled"),
        ("PATCH", "/api/users/ana", {"name": "anna"}, 400, "invalid_input", "name"),
        ("PATCH", "/api/users/root", {"role": "agent"}, 409, "last_admin", None),
        ("POST", "/api/tokens", {"name": "t", "role": "root"}, 400, "invalid_input", "role"),
        ("DELETE", "/api/tokens/nope", None, 404, "not_found", None),
    ],
)
async def test_admin_api_errors(
    desk: Desk, http: aiohttp.ClientSession, method: str, path: str, body: object,
    status: int, code: str, where: str | None,
) -> None:
    async with http.request(method, desk.url(path), json=body, headers=bearer(Role.ADMIN)) as resp:
        assert resp.status == status
        error = (await resp.json())["error"]
    assert error["code"] == code and error["message"]
    assert error.get("where") == where


async def test_live_case_socket_needs_credentials(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    ref = await desk.cases.start_voice_interaction(caller="+15550100199", call_id="call-1")
    await desk.cases.set_interaction_agent("call-1", "ana")  # ana's case (web.case_access)
    url = desk.url(f"/api/cases/{await desk.cases.public_id(ref.case_id)}/live")
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(url)
    assert err.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(url + "?access_token=ctk_wrong")
    assert err.value.status == 401
    # An integration: the token in the query (browsers cannot set headers on a WebSocket).
    async with http.ws_connect(f"{url}?access_token={TOKENS[Role.ADMIN]}") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    # A browser: the session cookie, from this origin only.
    await desk.login(http, "ana")
    async with http.ws_connect(url, headers={"Origin": desk.base}) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(url, headers={"Origin": "https://evil.example"})
    assert err.value.status == 403


async def test_access_token_in_the_query_only_counts_on_websockets(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    async with http.get(desk.url(f"/api/me?access_token={TOKENS[Role.ADMIN]}")) as resp:
        assert resp.status == 401


async def test_login_page_is_open_and_pages_redirect_there(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    async with http.get(desk.url("/login")) as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert 'src="/login.js"' in await resp.text()
    async with http.get(desk.url("/login.js")) as resp:
        assert resp.status == 200 and "/api/login" in await resp.text()
    async with http.get(desk.url("/agent?tab=2"), allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "/login?next=%2Fagent%3Ftab%3D2"
    # An unknown API path tells an anonymous caller nothing but "log in".
    async with http.get(desk.url("/api/nope")) as resp:
        assert resp.status == 401
    await desk.login(http, "ana")
    async with http.get(desk.url("/api/nope")) as resp:
        assert resp.status == 404


@pytest.mark.parametrize("change", ["password", "role", "disabled"])
async def test_a_user_changed_behind_the_servers_back_is_logged_out(
    desk: Desk, http: aiohttp.ClientSession, change: str
) -> None:
    # The change goes straight to the store, as `centralita users passwd` does from another
    # process (the API's own PATCH also ends the sessions at once; this path has no hook).
    await desk.login(http, "ana")
    assert desk.auth.versions is not None
    desk.auth.versions.ttl = 0.0  # re-read the user on every request
    async with http.get(desk.url("/api/me")) as resp:
        assert resp.status == 200
    if change == "password":
        await desk.auth.users.update_user("ana", password="a-new-password-1")
    elif change == "role":
        await desk.auth.users.update_user("ana", role=Role.SUPERVISOR)
    else:
        await desk.auth.users.update_user("ana", disabled=True)
    async with http.get(desk.url("/api/me")) as resp:
        assert resp.status == 401
    assert len(desk.auth.sessions) == 0


async def test_an_unchanged_user_keeps_the_session_and_reads_are_cached(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    await desk.login(http, "ana")
    assert desk.auth.versions is not None
    reads = 0
    get_user = desk.auth.users.get_user

    async def counting(name: str) -> object:
        nonlocal reads
        reads += 1
        return await get_user(name)

    desk.auth.users.get_user = counting  # type: ignore[method-assign,assignment]
    for _ in range(5):
        async with http.get(desk.url("/api/me")) as resp:
            assert resp.status == 200
    assert reads <= 1  # within the 2 s window the record is read once at most
