"""The OpenAPI document against the route table of the real server, and against the spec.

The application is the one `centralita.server.Server` composes with every feature that adds
routes switched on (debug API, the ACD, Twilio messaging and voice, chat, email, recordings,
agent assist), in process on free loopback ports, as `tests/web/test_routes.py` does. A
route added later without a declaration in `web.openapi.groups` fails the first test, which
names it; a declaration whose route went away fails it too.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from assist.config import AssistSettings
from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from channels.chat_config import ChatSettings
from channels.email_config import EmailSettings
from channels.twilio_config import TwilioConfig
from recordings.config import RecordingConfig
from tests.helpers.server import LOOPBACK, REPO_ROOT, free_port, free_sip_port, random_rtp_block
from tests.web.conftest import TOKENS, bearer
from web.auth import Role
from web.auth.access import ROUTE_ACCESS
from web.auth.tokens import digest
from web.openapi import build_document, undocumented
from web.openapi.document import OPENAPI_PATH, listed_routes
from web.openapi.groups import OPERATIONS


def _tcp_port() -> int:
    return free_port(socket.SOCK_STREAM, also_tcp=False)


def full_settings(tmp_path: Path) -> Settings:
    """Every feature that adds HTTP routes switched on (peers on closed loopback ports)."""
    low, high = random_rtp_block()
    return Settings(
        sip_listen=HostPort(LOOPBACK, free_sip_port()),
        http_listen=HostPort(LOOPBACK, _tcp_port()),
        data_dir=tmp_path / "data",
        rtp_port_min=low,
        rtp_port_max=high,
        debug_api=True,
        transcription="off",
        routing_file=REPO_ROOT / "routing" / "demo.yaml",
        twilio=TwilioConfig(account_sid="AC" + "0" * 32, auth_token="openapi-token",
                            public_url="https://contact.example.test", sms_number="+34910000000"),
        chat=ChatSettings(),
        email=EmailSettings(smtp_host=LOOPBACK, smtp_port=_tcp_port(), starttls=False,
                            from_address="help@example.test", reply_domain="example.test",
                            listen=(LOOPBACK, _tcp_port())),
        recordings=RecordingConfig(enabled=True),
        assist=AssistSettings(articles=tmp_path / "kb"),
        auth=AuthSettings(tokens=tuple(
            ConfigTokenSettings(f"test-{role.label}", role.label, digest(token))
            for role, token in TOKENS.items()
        )),
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, web.Application]]:
    settings = full_settings(tmp_path)
    running = Server(settings)
    try:
        await running.start()
        assert running.app is not None
        yield f"http://{settings.http_listen}", running.app
    finally:
        await running.stop()


async def test_every_route_is_documented_and_every_operation_is_a_route(
    server: tuple[str, web.Application],
) -> None:
    _, app = server
    missing = undocumented(app)
    assert missing == [], f"{len(missing)} routes missing from web.openapi.groups: {missing}"
    routes = {(r.method, r.path) for r in listed_routes(app)}
    stale = sorted(f"{m} {p}" for m, p in set(OPERATIONS) - routes)
    assert stale == [], f"declared in web.openapi.groups but no such route: {stale}"
    doc = build_document(app)
    listed = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert listed == routes
    assert len(listed) >= 90  # the walk is not vacuous


async def test_the_document_is_valid_openapi_3_1_with_the_declared_roles(
    server: tuple[str, web.Application],
) -> None:
    _, app = server
    doc = build_document(app)
    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc["openapi"] == "3.1.0"
    access = app[ROUTE_ACCESS]
    roles = {(r.method, r.path): access.get(r.route) for r in listed_routes(app)}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            declared = roles[(method.upper(), path)]
            assert declared is not None
            want = "public" if declared.role is None else declared.role.label
            assert op["x-role"] == want, (method, path)
            statuses = set(op["responses"])
            if declared.role is None:
                assert op["security"] == []
            else:
                assert {"403", "302" if declared.page else "401"} <= statuses, (method, path)
            if "requestBody" in op:
                assert "400" in statuses, (method, path)
    # The role of a route comes from its `require`, not from the declarations.
    assert doc["paths"]["/api/twilio/calls/{sid}/redirect"]["post"]["x-role"] == "admin"
    assert doc["paths"]["/api/twilio/calls/{sid}/hangup"]["post"]["x-role"] == "supervisor"
    assert doc["paths"]["/api/users"]["get"]["x-role"] == "admin"
    assert doc["paths"]["/healthz"]["get"]["x-role"] == "public"


async def test_served_to_any_signed_in_role_not_to_the_anonymous(
    server: tuple[str, web.Application],
) -> None:
    base, app = server
    async with aiohttp.ClientSession() as http:
        async with http.get(base + OPENAPI_PATH) as resp:
            assert resp.status == 401
        async with http.get(base + OPENAPI_PATH, headers=bearer(Role.AGENT)) as resp:
            assert resp.status == 200
            served = await resp.json()
    assert served == build_document(app)
    assert "/api/customers/{id}" in served["paths"]
