"""The desk's routes on a real aiohttp server with the real auth and a fake DeskService:
login, the origin check, every command reaching the service, precise errors on a socket that
stays open, one desk per agent, the bounded send queue, and shutdown."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from media.clock import FakeClock
from tests.web.conftest import PASSWORD, USERS, bearer
from tests.web.desk_fake import DeskApp, FakeDeskService, desk_app
from web.auth.roles import Role
from web.auth.store import UserStore
from web.common import STATIC_DIR as COMMON_DIR
from web.desk import DeskError, parse_command
from web.desk.api import STATIC_DIR
from web.desk.link import REFUSED, REPLACED, SLOW
from web.desk.protocol import (
    MAX_SDP,
    Accept,
    AgentTarget,
    Consult,
    ConsultCancel,
    ConsultComplete,
    Decline,
    DeskProtocolError,
    Hangup,
    Hold,
    Mute,
    QueueTarget,
    Rejoin,
    SendDtmf,
    SetState,
    Transfer,
    Wrapup,
)

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
# Every message awaited here comes at once over loopback; the limit is for a test that fails,
# generous for a CI machine whose two cores the rest of the suite shares.
WAIT_S = 15.0


@pytest.fixture
def service() -> FakeDeskService:
    return FakeDeskService()


@pytest.fixture
async def app(
    tmp_path: Path, users: UserStore, clock: FakeClock, service: FakeDeskService
) -> AsyncIterator[DeskApp]:
    for name, role in USERS.items():
        await users.add_user(name, PASSWORD, role)
    await users.add_user("bo", PASSWORD, Role.AGENT)
    async with desk_app(tmp_path, users, clock, service, queue_size=8) as running:
        yield running


async def login(app: DeskApp, http: aiohttp.ClientSession, user: str = "ana") -> None:
    async with http.post(app.url("/api/login"), json={"username": user, "password": PASSWORD}) as r:
        assert r.status == 200, await r.text()


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=WAIT_S)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def open_desk(app: DeskApp, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(app.ws_url("/api/desk/ws"))
    hello = await receive(ws)
    assert hello["type"] == "hello"
    return ws


# --- who may open the desk ------------------------------------------------------------------


async def test_anonymous_visitors_are_sent_to_login_and_refused_elsewhere(
    app: DeskApp, http: aiohttp.ClientSession
) -> None:
    async with http.get(app.url("/desk"), allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "/login?next=%2Fdesk"
    async with http.get(app.url("/desk/static/desk.js")) as resp:
        assert resp.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(app.ws_url("/api/desk/ws"))
    assert refused.value.status == 401


async def test_the_page_and_its_modules_are_served_to_an_agent(
    app: DeskApp, http: aiohttp.ClientSession
) -> None:
    await login(app, http)
    async with http.get(app.url("/desk")) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        page = await resp.text()
    assert '<script type="module" src="/desk/static/desk.js">' in page
    for module in ("desk/static/desk.js", "desk/static/ring.js", "common/static/softphone.js",
                   "desk/static/casepanel.js", "common/static/dom.js", "common/static/socket.js",
                   "common/static/i18n.js", "common/static/api.js"):
        async with http.get(app.url(f"/{module}")) as resp:
            assert resp.status == 200, module
            assert resp.content_type in ("text/javascript", "application/javascript")
    async with http.get(app.url("/common/static/common.css")) as resp:
        assert resp.status == 200 and resp.content_type == "text/css"
    async with http.get(app.url("/desk/static/desk.css")) as resp:
        assert resp.status == 200 and resp.content_type == "text/css"
    async with http.get(app.url("/desk/static/../api.py")) as resp:
        assert resp.status in (403, 404)


async def test_a_cookie_handshake_from_another_origin_is_refused(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    await login(app, http)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(app.ws_url("/api/desk/ws"), headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403
    assert service.events == []
    own = app.base
    ws = await http.ws_connect(app.ws_url("/api/desk/ws"), headers={"Origin": own})
    assert (await receive(ws))["type"] == "hello"
    await ws.close()


async def test_the_desk_is_the_logged_in_agent_and_a_bearer_token_works_too(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    await login(app, http, "bo")
    ws = await http.ws_connect(app.ws_url("/api/desk/ws"))
    hello = await receive(ws)
    assert hello["agent"]["id"] == "bo"
    await ws.close()
    async with aiohttp.ClientSession() as plain:
        token = bearer(Role.AGENT)["Authorization"].removeprefix("Bearer ")
        ws2 = await plain.ws_connect(app.ws_url(f"/api/desk/ws?access_token={token}"))
        assert (await receive(ws2))["agent"]["id"] == "token:config-agent"
        await ws2.close()


# --- commands -------------------------------------------------------------------------------


COMMANDS: list[tuple[dict[str, Any], object]] = [
    ({"type": "state", "state": "available"}, SetState("available")),
    ({"type": "state", "state": "break", "reason": "lunch"}, SetState("break", "lunch")),
    ({"type": "state", "state": "offline"}, SetState("offline")),
    ({"type": "accept", "offer_id": "of-1", "sdp": SDP}, Accept("of-1", SDP)),
    ({"type": "rejoin", "call_id": "a-1.b@host", "sdp": SDP}, Rejoin("a-1.b@host", SDP)),
    ({"type": "decline", "offer_id": "of-1"}, Decline("of-1")),
    ({"type": "mute", "on": True}, Mute(True)),
    ({"type": "hold", "on": False}, Hold(False)),
    ({"type": "dtmf", "digits": "12*#"}, SendDtmf("12*#")),
    ({"type": "hangup"}, Hangup()),
    ({"type": "transfer", "to": {"agent": "bo"}}, Transfer(AgentTarget("bo"))),
    ({"type": "transfer", "to": {"queue": "sales"}}, Transfer(QueueTarget("sales"))),
    ({"type": "consult", "to": {"agent": "bo"}}, Consult(AgentTarget("bo"))),
    ({"type": "consult_complete"}, ConsultComplete()),
    ({"type": "consult_cancel"}, ConsultCancel()),
    ({"type": "wrapup", "disposition": "resolved", "notes": "Refund sent.\nCall back Friday."},
     Wrapup("resolved", "Refund sent.\nCall back Friday.")),
]


async def test_every_command_reaches_the_service_in_order(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    await login(app, http)
    ws = await open_desk(app, http)
    for raw, _ in COMMANDS:
        await ws.send_json(raw)
    for raw, expected in COMMANDS:
        command = await service.next_command()
        assert command == expected
        assert command.to_json() == raw  # the dataclass round-trips the wire form
    links = {link for kind, link in service.events}
    assert [link.agent_id for link in links] == ["ana"]
    await ws.close()


async def test_ping_is_answered_by_the_web_layer(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    await login(app, http)
    ws = await open_desk(app, http)
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    assert service.commands.empty()
    await ws.close()


BAD: list[tuple[object, str, str | None]] = [
    ("not json", "invalid_json", None),
    ([1, 2], "invalid_message", None),
    ({"state": "available"}, "missing_field", "type"),
    ({"type": "dance"}, "unknown_type", "type"),
    ({"type": "state", "state": "asleep"}, "invalid_field", "state"),
    ({"type": "state", "state": "available", "reason": "lunch"}, "invalid_field", "reason"),
    ({"type": "state", "state": "break", "reason": "x" * 101}, "invalid_field", "reason"),
    ({"type": "state"}, "missing_field", "state"),
    ({"type": "accept", "offer_id": "of-1"}, "missing_field", "sdp"),
    ({"type": "accept", "offer_id": "of-1", "sdp": "hello"}, "invalid_field", "sdp"),
    ({"type": "accept", "offer_id": "of-1", "sdp": "v=0\r\n" + "a" * MAX_SDP},
     "invalid_field", "sdp"),
    ({"type": "accept", "offer_id": "../x", "sdp": SDP}, "invalid_field", "offer_id"),
    ({"type": "accept", "offer_id": "of-1", "sdp": SDP, "extra": 1}, "unknown_field", "extra"),
    ({"type": "rejoin", "sdp": SDP}, "missing_field", "call_id"),
    ({"type": "rejoin", "call_id": "a b", "sdp": SDP}, "invalid_field", "call_id"),
    ({"type": "rejoin", "call_id": "c1", "sdp": "hello"}, "invalid_field", "sdp"),
    ({"type": "decline", "offer_id": 7}, "invalid_field", "offer_id"),
    ({"type": "mute", "on": "yes"}, "invalid_field", "on"),
    ({"type": "hold"}, "missing_field", "on"),
    ({"type": "dtmf", "digits": "12a"}, "invalid_field", "digits"),
    ({"type": "dtmf", "digits": ""}, "invalid_field", "digits"),
    ({"type": "dtmf", "digits": "1" * 33}, "invalid_field", "digits"),
    ({"type": "hangup", "now": True}, "unknown_field", "now"),
    ({"type": "transfer", "to": "bo"}, "invalid_field", "to"),
    ({"type": "transfer", "to": {}}, "missing_field", "to.agent"),
    ({"type": "transfer", "to": {"agent": "bo", "queue": "sales"}}, "invalid_field", "to"),
    ({"type": "transfer", "to": {"queue": "no spaces"}}, "invalid_field", "to.queue"),
    ({"type": "transfer", "to": {"phone": "+34600"}}, "unknown_field", "to.phone"),
    ({"type": "consult", "to": {"queue": "sales"}}, "unknown_field", "to.queue"),
    ({"type": "wrapup", "disposition": "", "notes": ""}, "invalid_field", "disposition"),
    ({"type": "wrapup", "disposition": "   ", "notes": ""}, "invalid_field", "disposition"),
    ({"type": "wrapup", "disposition": "x" * 65, "notes": ""}, "invalid_field", "disposition"),
    ({"type": "wrapup", "disposition": "ok", "notes": "n" * 4001}, "invalid_field", "notes"),
    ({"type": "wrapup", "disposition": "ok\x00", "notes": ""}, "invalid_field", "disposition"),
    ({"type": "wrapup", "disposition": "ok"}, "missing_field", "notes"),
]


async def test_bad_messages_get_an_error_naming_the_field_and_the_desk_stays_open(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    await login(app, http)
    ws = await open_desk(app, http)
    for payload, code, where in BAD:
        if isinstance(payload, str):
            await ws.send_str(payload)
        else:
            await ws.send_json(payload)
        error = await receive(ws)
        assert error["type"] == "error", payload
        assert (error["code"], error.get("where")) == (code, where), (payload, error)
        assert error["message"]
    await ws.send_bytes(b"\x00\x01")
    assert (await receive(ws))["code"] == "invalid_message"
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    assert service.commands.empty()
    await ws.close()


async def test_refused_and_failed_commands_answer_an_error_and_keep_the_desk(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    service.refuse["hangup"] = DeskError("no_call", "you are not on a call")
    service.fail.add("hold")
    await login(app, http)
    ws = await open_desk(app, http)
    await ws.send_json({"type": "hangup"})
    assert await receive(ws) == {
        "type": "error", "code": "no_call", "message": "you are not on a call", "command": "hangup"
    }
    await ws.send_json({"type": "hold", "on": True})
    error = await receive(ws)
    assert (error["code"], error["command"]) == ("internal", "hold")
    await ws.send_json({"type": "mute", "on": True})
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    assert [await service.next_command() for _ in range(3)] == [Hangup(), Hold(True), Mute(True)]


# --- one desk per agent, backpressure, shutdown ---------------------------------------------


async def test_a_second_desk_replaces_the_first(
    app: DeskApp, service: FakeDeskService
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as tab1, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as tab2:
        await login(app, tab1)
        await login(app, tab2)
        first = await open_desk(app, tab1)
        second = await open_desk(app, tab2)
        closed = await first.receive(timeout=WAIT_S)
        assert closed.type == aiohttp.WSMsgType.CLOSE
        assert (closed.data, closed.extra) == (REPLACED, "replaced")
        kinds = [kind for kind, _ in service.events]
        links = [link for _, link in service.events]
        # The service heard the old desk leave before the new one came: never two at once.
        assert kinds == ["connect", "disconnect", "connect"]
        assert links[0] is links[1] and links[2] is not links[0]
        await second.send_json({"type": "hangup"})
        link, command = await service.commands.get()
        assert link is links[2] and command == Hangup()
        await second.close()


async def test_a_desk_that_does_not_read_is_closed_not_waited_for(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    service.burst["hangup"] = 500  # the app's queue holds 8
    await login(app, http)
    ws = await open_desk(app, http)
    await ws.send_json({"type": "hangup"})
    got: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=WAIT_S)
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        got.append(json.loads(msg.data))
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert (msg.data, msg.extra) == (SLOW, "too slow")
    assert 1 <= len(got) <= 8
    assert [m["n"] for m in got] == list(range(len(got)))  # the oldest were kept, in order
    # The service was told before the socket was closed (web.desk.api.desk_socket): no
    # waiting for it here.
    assert [kind for kind, _ in service.events] == ["connect", "disconnect"]
    link = service.events[0][1]
    assert getattr(link, "dropped", 0) == 500 - len(got)


async def test_shutdown_closes_open_desks_and_tells_the_service(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    await login(app, http)
    ws = await open_desk(app, http)
    await app.runner.shutdown()
    msg = await ws.receive(timeout=WAIT_S)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY
    assert [kind for kind, _ in service.events] == ["connect", "disconnect"]


# --- the protocol and the page, statically --------------------------------------------------


def test_commands_round_trip_and_digits_stay_out_of_reprs() -> None:
    for raw, expected in COMMANDS:
        assert parse_command(raw) == expected
        assert parse_command(json.loads(json.dumps(raw))).to_json() == raw
    assert "1234" not in repr(SendDtmf("1234")) and "4 digits" in repr(SendDtmf("1234"))
    with pytest.raises(DeskProtocolError) as bad:
        parse_command({"type": "dtmf", "digits": "9x"})
    assert bad.value.where == "digits" and bad.value.to_json()["type"] == "error"


def test_the_page_scripts_never_write_markup() -> None:
    # All data goes in as text (dom.js `h`/`text`); markup sinks would let a caller name or
    # a transcript inject script.
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function")
    for script in sorted([*STATIC_DIR.glob("*.js"), *COMMON_DIR.glob("*.js")]):
        assert not sinks.search(script.read_text()), script.name


async def test_a_desk_the_service_refuses_gets_the_error_and_a_refused_close(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    async def refuse(link: object) -> None:
        raise DeskError("not_an_agent", "root is not an agent")

    service.connect = refuse  # type: ignore[method-assign,assignment]
    await login(app, http, "root")
    ws = await http.ws_connect(app.ws_url("/api/desk/ws"))
    assert await receive(ws) == {
        "type": "error", "code": "not_an_agent", "message": "root is not an agent"
    }
    closed = await ws.receive(timeout=WAIT_S)
    assert (closed.type, closed.data, closed.extra) == (
        aiohttp.WSMsgType.CLOSE, REFUSED, "not_an_agent")


async def test_a_desk_whose_login_ended_is_closed_at_its_next_message(
    app: DeskApp, http: aiohttp.ClientSession, service: FakeDeskService
) -> None:
    async with http.post(app.url("/api/login"),
                         json={"username": "ana", "password": PASSWORD}) as resp:
        csrf = (await resp.json())["csrf"]
    ws = await open_desk(app, http)
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    # Logged out from another tab: the open desk goes at its next message (the page's ping).
    async with http.post(app.url("/api/logout"), headers={"X-CSRF-Token": csrf}) as resp:
        assert resp.status == 204
    await ws.send_json({"type": "ping"})
    closed = await ws.receive(timeout=WAIT_S)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4401, closed
    assert service.events[-1][0] == "disconnect"


async def test_a_desk_on_a_revoked_token_is_closed_at_its_next_message(
    app: DeskApp, users: UserStore, service: FakeDeskService
) -> None:
    _, token = await users.add_token("bo", Role.AGENT, "root")
    async with aiohttp.ClientSession() as plain:
        ws = await plain.ws_connect(app.ws_url(f"/api/desk/ws?access_token={token}"))
        assert (await receive(ws))["agent"]["id"] == "bo"
        await ws.send_json({"type": "ping"})
        assert (await receive(ws))["type"] == "pong"
        await users.delete_token("bo")
        await ws.send_json({"type": "ping"})
        closed = await ws.receive(timeout=WAIT_S)
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4401, closed
        assert service.events[-1][0] == "disconnect"
