"""Where a unit of work starts, its log context is opened (centralita.logctx).

The packages below the composition root do not import it (DESIGN.md's layering), so the
context is opened here, around what the server wires:

- calls: `LoggedCalls` wraps the call handler (the call id), and
  `centralita.call_cases.CallInteractions` adds the case and interaction once open;
- IVR nodes: `logged_verbs` wraps each verb of the interpreter so the node being run is on
  every line logged while it runs (`node` = step index, verb and label);
- HTTP requests (Twilio's webhooks, the API, the sockets): `log_context_middleware` gives each
  request a context of its own, with `channel` for the messaging webhooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from centralita.logctx import annotate, log_context

if TYPE_CHECKING:
    from ivr.flow import FlowDoc
    from ivr.verbs.base import IvrSession, Problems, Step, Verb
    from voice.call import Call

# Path prefixes of the text channels' webhooks and sockets, and the channel they carry.
_CHANNEL_PATHS = (("/twilio/", "twilio"), ("/chat/", "chat"), ("/api/chat", "chat"))


class LoggedCalls:
    """Wraps the call handler: the call's log context for everything it does (the tasks it
    starts included)."""

    def __init__(self, inner: Callable[[Call], Awaitable[None]]) -> None:
        self.inner = inner

    async def __call__(self, call: Call) -> None:
        with log_context(call_id=call.id):
            await self.inner(call)


class LoggedVerb:
    """A verb that names its node in the log context while it runs."""

    def __init__(self, inner: Verb) -> None:
        self.inner = inner
        self.name = inner.name
        self.schema = inner.schema

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        self.inner.check(step, flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        label = f":{step.label}" if step.label else ""
        annotate(node=f"{step.index}:{step.verb}{label}")
        return await self.inner.run(step, session)


def logged_verbs(verbs: Mapping[str, Verb]) -> dict[str, Verb]:
    """`verbs` (an interpreter's registry) with each verb naming its node when run."""
    return {name: LoggedVerb(verb) for name, verb in verbs.items()}


@web.middleware
async def log_context_middleware(request: web.Request, handler: Handler) -> Any:
    """Each request in a log context of its own (messaging webhooks: with their channel)."""
    channel = next((ch for prefix, ch in _CHANNEL_PATHS if request.path.startswith(prefix)),
                   None)
    with log_context(channel=channel):
        return await handler(request)
