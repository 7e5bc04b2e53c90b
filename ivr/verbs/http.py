"""`http`: ask a CRM webhook about the caller; fields of its JSON answer become variables.

    - http:
        url: "https://crm.example/lookup?phone=${caller}"
        method: POST                  # GET (default) or POST
        body: {phone: "${caller}"}    # POST only: sent as JSON, strings rendered
        headers: {Authorization: "Bearer ${crm_token}"}
        timeout: 2.5                  # seconds, default 3
        result: {customer_name: name, tier: account.tier}   # variable: dotted JSON path
        on_error: no_crm              # label on timeout / network error / non-2xx / bad JSON

Response bodies carry personal data: they are never logged, only the failure's kind is.
A missing field leaves its variable unset (a `branch` with `exists:` tells).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.parse
from typing import TYPE_CHECKING, Any

import aiohttp

from ivr.verbs.base import IvrSession, Problems, Step, check_label, register
from ivr.verbs.goto import LABEL
from ivr.verbs.set import VAR_NAME

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0
# A CRM lookup answers with a few fields; a bigger body is a misconfigured endpoint, and reading
# it whole would let one webhook eat memory on every call.
MAX_BODY = 256 * 1024


class WebhookError(Exception):
    """The webhook failed; the message names the kind of failure, never the body."""


def pick(document: Any, dotted: str) -> Any:
    """`document["a"]["b"]` for `"a.b"` (list indexes as numbers); None when absent."""
    node = document
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


_VAR = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def render_url(template: str, session: IvrSession) -> str:
    """`template` with each `${name}` percent-encoded: "+34..." must stay a plus in a query."""
    return _VAR.sub(lambda m: urllib.parse.quote(session.render(m.group(0)), safe=""), template)


def _render(value: Any, session: IvrSession) -> Any:
    if isinstance(value, str):
        return session.render(value)
    if isinstance(value, dict):
        return {k: _render(v, session) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, session) for v in value]
    return value


class HttpVerb:
    """A CRM webhook call with a timeout and a fallback label."""

    name = "http"
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "pattern": r"^(https?://|\$\{)",
                    "description": "an http:// or https:// URL"},
            "method": {"enum": ["GET", "POST"]},
            "body": {"type": "object"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 30},
            "result": {"type": "object", "propertyNames": VAR_NAME,
                       "additionalProperties": {"type": "string", "minLength": 1}},
            "on_error": LABEL,
        },
    }

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        if "body" in step.params and step.params.get("method", "GET") != "POST":
            problems.add(step.at("body"), "http: body needs method: POST")
        check_label(step, "on_error", flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        try:
            document = await self._fetch(step, session)
        except WebhookError as exc:
            log.warning("http step %d: webhook failed: %s", step.index, exc)
            await session.record_input("http", {"ok": False, "error": str(exc)}, step=step)
            target = step.params.get("on_error")
            return str(target) if target is not None else None
        for name, dotted in step.params.get("result", {}).items():
            value = pick(document, dotted)
            if value is not None:
                session.vars[name] = value
                await session.record_input(
                    "variable", {name: value}, step=step, sensitive=step.sensitive
                )
        await session.record_input("http", {"ok": True}, step=step)
        return None

    async def _fetch(self, step: Step, session: IvrSession) -> Any:
        params = step.params
        url = render_url(params["url"], session)
        method = params.get("method", "GET")
        headers = _render(params.get("headers", {}), session)
        body = _render(params["body"], session) if "body" in params else None
        timeout = float(params.get("timeout", DEFAULT_TIMEOUT))
        shared = session.services.http
        http = shared if shared is not None else aiohttp.ClientSession()
        try:
            async with asyncio.timeout(timeout):
                async with http.request(method, url, json=body, headers=headers) as resp:
                    if not 200 <= resp.status < 300:
                        raise WebhookError(f"HTTP status {resp.status}")
                    raw = await resp.content.read(MAX_BODY + 1)
        except TimeoutError as exc:
            raise WebhookError(f"no answer within {timeout:g} s") from exc
        except aiohttp.ClientError as exc:
            raise WebhookError(f"request failed ({type(exc).__name__})") from exc
        finally:
            if shared is None:
                await http.close()
        if len(raw) > MAX_BODY:
            raise WebhookError(f"answer larger than {MAX_BODY} bytes")
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            # The exception text quotes the body: keep only its class. A reply nested deeper
            # than the decoder's recursion limit is refused like any other bad reply.
            raise WebhookError(f"answer is not JSON ({type(exc).__name__})") from exc
VERB = register(HttpVerb())
