"""The web chat over a real aiohttp server (the real auth middleware, case routes and chat
routes, a real CaseStore on SQLite and PostgreSQL) with real WebSocket clients: a visitor's
lines stored once, the agent's answer through `POST /api/cases/{id}/chat`, delivery acks,
resume after a reconnect, a forged site identity, the rate limit, oversized and malformed
frames (the socket stays usable, nothing stored is lost), the Origin check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType

from cases.events import InProcessBus
from cases.store import CaseStore
from channels.chat import ChatService
from channels.chat_config import ChatSettings
from channels.chat_protocol import MAX_LINE_CHARS
from channels.chat_tokens import VisitorTokens, load_secret, user_hash
from media.clock import FakeClock
from tests.helpers.webapp import start_app
from tests.web.conftest import CHEAP, PASSWORD, USERS, bearer, make_auth
from web.app import build_app
from web.auth import Auth, Role
from web.auth.passwords import PasswordHasher
from web.auth.store import UserStore
from web.cases_api import add_case_routes
from web.chat_api import add_chat_routes

SITE_SECRET = "site-secret-shared-with-the-shop-0123456789"
SITE_ORIGIN = "https://shop.example.com"


class Monotonic:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Rig:
    base: str
    cases: CaseStore
    bus: InProcessBus
    http: aiohttp.ClientSession
    clock: Monotonic
    auth: Auth

    async def connect(self, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
        headers = {"Origin": origin} if origin else {}
        return await self.http.ws_connect(self.base + "/api/chat/ws", headers=headers)

    async def agent(self, method: str, path: str, body: Any = None,
                    role: Role = Role.ADMIN) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=body,
                                     headers=bearer(role)) as resp:
            return resp.status, (await resp.json() if resp.status != 204 else None)

    async def case_of(self, address: str) -> tuple[int, str]:
        ref = await self.cases.open_text_interaction(channel="chat", address=address)
        return ref.case_id, await self.cases.public_id(ref.case_id)

    async def chat_messages(self, case_id: int) -> list[dict[str, Any]]:
        timeline = await self.cases.timeline(case_id)
        return [e["message"] for e in timeline["entries"]
                if e["type"] == "message" and e["message"]["channel"] == "chat"]


async def receive(ws: aiohttp.ClientWebSocketResponse, kind: str | None = None) -> dict[str, Any]:
    """The next frame (of `kind`, skipping others), within 5 s."""
    while True:
        msg = await ws.receive(timeout=5.0)
        assert msg.type == WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        frame: dict[str, Any] = json.loads(msg.data)
        if kind is None or frame["type"] == kind:
            return frame


async def hello(ws: aiohttp.ClientWebSocketResponse, **fields: Any) -> dict[str, Any]:
    await ws.send_json({"type": "hello", **fields})
    return await receive(ws, "welcome")


async def say(ws: aiohttp.ClientWebSocketResponse, client_id: str, body: str) -> dict[str, Any]:
    await ws.send_json({"type": "message", "id": client_id, "body": body})
    return await receive(ws, "receipt")


@pytest.fixture
async def rig(tmp_path: Path, db_url: str) -> AsyncIterator[Rig]:
    users = await UserStore.open(f"sqlite:///{tmp_path}/users.db", hasher=PasswordHasher(CHEAP))
    for name, role in USERS.items():
        await users.add_user(name, PASSWORD, role)
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus)
    clock = Monotonic()
    settings = ChatSettings(allowed_origins=(SITE_ORIGIN,), site_secrets=(SITE_SECRET.encode(),))
    service = ChatService(cases, bus, VisitorTokens(load_secret(tmp_path / "data")), settings,
                          monotonic=clock)
    auth = make_auth(users, FakeClock(1000.0))
    app = build_app(lambda: {"http": True}, None, auth)
    add_case_routes(app, cases, bus, heartbeat=5)
    add_chat_routes(app, service)
    runner, base = await start_app(app)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
            yield Rig(base, cases, bus, http, clock, auth)
    finally:
        await runner.cleanup()
        await cases.close()
        await users.close()


async def test_conversation_with_agent_acks_and_resume(rig: Rig) -> None:
    ws = await rig.connect()
    welcome = await hello(ws)
    assert welcome["identified"] is False
    token = welcome["token"]
    receipt = await say(ws, "c1", "Hola, mi pedido no llega")
    assert receipt == {"type": "receipt", "client_id": "c1", "id": receipt["id"],
                       "duplicate": False}
    echo = await receive(ws, "line")  # the stored line, as other tabs see it
    assert (echo["id"], echo["from"], echo["client_id"]) == (receipt["id"], "visitor", "c1")
    case_id, public = await rig.case_of("visitor:" + token.split(".")[0])

    status, sent = await rig.agent("POST", f"/api/cases/{public}/chat", {"body": "¿Número?"})
    assert status == 201, sent
    assert (sent["status"], sent["direction"], sent["sender"]) == ("sent", "outbound",
                                                                   "agent:token:config-admin")
    line = await receive(ws, "line")
    assert (line["id"], line["from"], line["body"]) == (sent["id"], "agent", "¿Número?")
    assert "sender" not in line and "recipient" not in line  # no addresses to the widget
    await ws.send_json({"type": "ack", "id": sent["id"], "status": "delivered"})
    assert await receive(ws, "status") == {"type": "status", "id": sent["id"],
                                           "status": "delivered"}
    await ws.close()

    # Away: the agent writes twice; the widget comes back having seen the first answer.
    for text in ("Sigue ahí?", "Le escribo por email"):
        status, missed = await rig.agent("POST", f"/api/cases/{public}/chat", {"body": text})
        assert status == 201 and missed["status"] == "queued"
    ws = await rig.connect()
    again = await hello(ws, token=token, last_seen=sent["id"])
    assert again["token"] == token
    replayed = [await receive(ws, "line"), await receive(ws, "line")]
    assert [r["body"] for r in replayed] == ["Sigue ahí?", "Le escribo por email"]
    for r in replayed:
        await ws.send_json({"type": "ack", "id": r["id"], "status": "read"})
        assert (await receive(ws, "status"))["status"] == "read"
    receipt2 = await say(ws, "c2", "Gracias")
    messages = await rig.chat_messages(case_id)
    assert [m["id"] for m in messages][-1] == receipt2["id"]
    assert [m["status"] for m in messages] == ["received", "delivered", "read", "read",
                                               "received"]
    await ws.close()


async def test_a_resent_line_is_stored_once(rig: Rig) -> None:
    ws = await rig.connect()
    token = (await hello(ws))["token"]
    first = await say(ws, "same-id", "Hola")
    await ws.close()
    ws = await rig.connect()  # the widget was not sure the first try arrived
    await hello(ws, token=token)
    second = await say(ws, "same-id", "Hola")
    assert (second["id"], second["duplicate"]) == (first["id"], True)
    case_id, _ = await rig.case_of("visitor:" + token.split(".")[0])
    assert len(await rig.chat_messages(case_id)) == 1
    # Another visitor may use the same line id: their ids are their own.
    other = await rig.connect()
    await hello(other)
    assert (await say(other, "same-id", "Hola"))["duplicate"] is False
    await ws.close()
    await other.close()


async def test_site_identity_joins_the_customer_only_with_the_right_hash(rig: Rig) -> None:
    good = user_hash(SITE_SECRET.encode(), "cust-42")
    ws = await rig.connect(SITE_ORIGIN)
    welcome = await hello(ws, user_id="cust-42", user_hash=good)
    assert welcome["identified"] is True
    await say(ws, "k1", "Soy el cliente 42")
    await ws.close()
    case_id, _ = await rig.case_of("site:cust-42")
    timeline = await rig.cases.timeline(case_id)
    assert {"kind": "chat", "value": "site:cust-42"} in timeline["identities"]

    # Someone else claims to be cust-42 with a hash they made up.
    forged = await rig.connect(SITE_ORIGIN)
    await forged.send_json({"type": "hello", "user_id": "cust-42", "user_hash": "0" * 64})
    error = await receive(forged, "error")
    assert (error["code"], error["where"]) == ("forged_identity", "user_hash")
    assert "does not match" in error["message"]
    closing = await forged.receive(timeout=5)
    assert closing.type == WSMsgType.CLOSE and closing.data == 4403
    assert len(await rig.chat_messages(case_id)) == 1  # nothing added, nothing lost

    # The real user on another device sees their conversation at once.
    device = await rig.connect(SITE_ORIGIN)
    await hello(device, user_id="cust-42", user_hash=good)
    assert (await receive(device, "line"))["body"] == "Soy el cliente 42"
    await device.close()


async def test_rate_limit_per_visitor(rig: Rig) -> None:
    ws = await rig.connect()
    token = (await hello(ws))["token"]
    for i in range(5):
        await say(ws, f"r{i}", f"línea {i}")
    await ws.send_json({"type": "message", "id": "r5", "body": "una más"})
    error = await receive(ws, "error")
    assert (error["code"], error["client_id"]) == ("rate_limited", "r5")
    assert error["retry_after"] == pytest.approx(2.0)
    # A second socket of the same visitor shares the bucket.
    tab = await rig.connect()
    await hello(tab, token=token)
    await tab.send_json({"type": "message", "id": "r6", "body": "desde otra pestaña"})
    assert (await receive(tab, "error"))["code"] == "rate_limited"
    rig.clock.t += 2.0
    assert (await say(ws, "r5", "una más"))["duplicate"] is False
    case_id, _ = await rig.case_of("visitor:" + token.split(".")[0])
    assert len(await rig.chat_messages(case_id)) == 6
    await ws.close()
    await tab.close()


async def test_bad_frames_get_clear_errors_and_the_socket_stays_usable(rig: Rig) -> None:
    ws = await rig.connect()
    await ws.send_json({"type": "message", "id": "early", "body": "before hello"})
    assert (await receive(ws, "error"))["message"] == "the first frame must be a hello"
    token = (await hello(ws))["token"]
    kept = await say(ws, "ok1", "primera")

    await ws.send_json({"type": "message", "id": "big", "body": "x" * (MAX_LINE_CHARS + 1)})
    error = await receive(ws, "error")
    assert (error["code"], error["where"], error["client_id"]) == ("too_long", "body", "big")
    assert f"at most {MAX_LINE_CHARS}" in error["message"]
    await ws.send_str('{"type": "message", "id": "j1", "body": ')
    error = await receive(ws, "error")
    assert (error["code"], error["where"]) == ("bad_frame", "frame")
    assert "not JSON" in error["message"]
    await ws.send_bytes(b'{"type":"message","id":"u1","body":"caf\xe9"}')  # Latin-1, not UTF-8
    error = await receive(ws, "error")
    assert (error["where"], error["message"]) == ("frame", "is not UTF-8 (byte 39)")
    await ws.send_json({"type": "ack", "id": kept["id"], "status": "read"})
    assert (await receive(ws, "error"))["where"] == "id"  # not an agent's line shown here

    after = await say(ws, "ok2", "segunda")  # still usable
    assert after["duplicate"] is False
    case_id, _ = await rig.case_of("visitor:" + token.split(".")[0])
    assert [m["body"] for m in await rig.chat_messages(case_id)] == ["primera", "segunda"]
    await ws.close()


async def test_a_text_frame_of_invalid_utf8_closes_only_that_socket(rig: Rig) -> None:
    """RFC 6455 §8.1: an endpoint MUST fail the connection on a text frame that is not
    UTF-8 (1007); the widget reconnects and finds its conversation whole."""
    ws = await rig.connect()
    token = (await hello(ws))["token"]
    await say(ws, "v1", "guardada")
    await receive(ws, "line")
    await ws._writer.send_frame(b"\xff\xfe", WSMsgType.TEXT)
    closing = await ws.receive(timeout=5)
    assert closing.type == WSMsgType.CLOSE and closing.data == 1007
    ws = await rig.connect()
    await hello(ws, token=token, last_seen=0)
    assert (await receive(ws, "line"))["body"] == "guardada"
    await ws.close()


async def test_origin_must_be_allowed(rig: Rig) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await rig.connect("https://evil.example.net")
    assert caught.value.status == 403
    ok = await rig.connect(SITE_ORIGIN)
    await hello(ok)
    await ok.close()
    same = await rig.connect(rig.base)  # a page the chat server serves itself
    await hello(same)
    await same.close()
    # Behind a TLS-terminating proxy the browser's origin is https, whatever reaches us.
    rig.auth.cookie_secure = True
    secure = await rig.connect(rig.base.replace("http://", "https://"))
    await hello(secure)
    await secure.close()
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await rig.connect(rig.base)


async def test_typing_both_ways_and_prechat(rig: Rig) -> None:
    ws = await rig.connect()
    token = (await hello(ws))["token"]
    await ws.send_json({"type": "prechat", "name": "Lucía", "email": "Lucia@Example.com",
                        "phone": "+34 612 345 678"})
    case_id, public = await rig.case_of("visitor:" + token.split(".")[0])
    async with rig.bus.subscribe(f"case:{case_id}") as events:
        await ws.send_json({"type": "typing", "active": True})
        async with asyncio.timeout(5):
            async for event in events:
                if event["type"] == "chat_typing":
                    break
    assert event == {"type": "chat_typing", "case_id": case_id, "from": "visitor",
                     "active": True}
    status, _ = await rig.agent("POST", f"/api/cases/{public}/chat/typing", {"active": True})
    assert status == 204
    assert await receive(ws, "typing") == {"type": "typing", "active": True}
    timeline = await rig.cases.timeline(case_id)
    assert {"kind": "email", "value": "lucia@example.com"} in timeline["identities"]
    assert {"kind": "phone", "value": "+34612345678"} in timeline["identities"]
    assert timeline["customer"]["display_name"] == "Lucía"  # the case shows who it is
    assert timeline["notes"] == []
    # A second form with another name: the first stays, the new one is kept as a note.
    await ws.send_json({"type": "prechat", "name": "Lucía P."})
    for _ in range(100):  # the form has no answer frame: poll the case
        timeline = await rig.cases.timeline(case_id)
        if timeline["notes"]:
            break
        await asyncio.sleep(0.05)
    assert timeline["customer"]["display_name"] == "Lucía"
    assert [n["text"] for n in timeline["notes"]] == ["Name given in the chat form: Lucía P."]
    await ws.close()


async def test_agent_route_errors(rig: Rig) -> None:
    ws = await rig.connect()
    token = (await hello(ws))["token"]
    await say(ws, "a1", "hola")
    case_id, public = await rig.case_of("visitor:" + token.split(".")[0])
    status, body = await rig.agent("POST", f"/api/cases/{public}/chat", {"body": "  "})
    assert (status, body["error"]["where"]) == (400, "body")
    status, body = await rig.agent("POST", f"/api/cases/{public}/chat", {"text": "x"})
    assert (status, body["error"]["where"]) == (400, "text")
    status, body = await rig.agent("POST", f"/api/cases/{public}/chat", {"body": "x"},
                                   role=Role.AGENT)
    assert status == 404  # an agent who never worked on the case does not see it
    await rig.cases.end_interaction(
        (await rig.cases.open_text_interaction(channel="chat", address="visitor:"
                                               + token.split(".")[0])).interaction_id,
        outcome="completed")
    status, body = await rig.agent("POST", f"/api/cases/{public}/chat", {"body": "x"})
    assert (status, body["error"]["code"]) == (409, "no_chat")
    await ws.close()


async def test_the_socket_follows_its_case_into_a_merge(rig: Rig) -> None:
    """An agent finds the anonymous visitor is a known customer and merges them: the open
    socket now shows the agent's lines on the surviving case."""
    ws = await rig.connect()
    token = (await hello(ws))["token"]
    await say(ws, "m1", "Soy Lucía, la del pedido 55")
    await receive(ws, "line")
    visitor = await rig.cases.open_text_interaction(
        channel="chat", address="visitor:" + token.split(".")[0])
    known = await rig.cases.open_text_interaction(channel="sms", address="+34612345678")
    await rig.cases.merge_customers(visitor.customer_id, known.customer_id, actor="sam")
    public = await rig.cases.public_id(known.case_id)
    status, sent = await rig.agent("POST", f"/api/cases/{public}/chat", {"body": "¡Hola Lucía!"})
    assert status == 201, sent
    line = await receive(ws, "line")
    assert (line["id"], line["body"]) == (sent["id"], "¡Hola Lucía!")
    await ws.send_json({"type": "ack", "id": sent["id"], "status": "delivered"})
    assert (await receive(ws, "status"))["status"] == "delivered"
    after = await say(ws, "m2", "Gracias")
    assert after["id"] in [m["id"] for m in await rig.chat_messages(known.case_id)]
    await ws.close()


async def test_after_the_case_is_closed_the_socket_follows_the_new_one(rig: Rig) -> None:
    ws = await rig.connect()
    token = (await hello(ws))["token"]
    await say(ws, "n1", "Primera consulta")
    old, _ = await rig.case_of("visitor:" + token.split(".")[0])
    await rig.cases.close_case(old)
    await say(ws, "n2", "Otra consulta, días después")
    new, public = await rig.case_of("visitor:" + token.split(".")[0])
    assert new != old
    status, sent = await rig.agent("POST", f"/api/cases/{public}/chat", {"body": "Dígame"})
    assert status == 201, sent
    lines = [await receive(ws, "line") for _ in range(2)]  # the new line, then the answer
    assert [line["body"] for line in lines] == ["Otra consulta, días después", "Dígame"]
    assert sent["status"] == "sent"  # a socket of the new case is open
    await ws.close()
