"""`Session`: one run of one flow on one call, as verbs see it (`IvrSession`)."""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import TYPE_CHECKING, Any

from ivr.language import set_language
from ivr.services import IvrInput, Services
from ivr.verbs.base import Step

if TYPE_CHECKING:
    from ivr.flow import FlowDoc
    from media.clock import Clock
    from voice.call import Call

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"


def mask(value: Any) -> Any:
    """`value` with every scalar replaced by `***` (structure kept: keys are not secrets)."""
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return None if value is None else MASK


class Session:
    """Variables, services and input recording for one call running `flow`.

    `vars` starts with `caller` and `dialed` (personal data: usable in `${}` and webhooks,
    never logged). `inputs` keeps every recorded input in order, masked when sensitive; each
    is also handed to `services.inputs` when the server has a store.
    """

    def __init__(self, call: Call, flow: FlowDoc, services: Services, clock: Clock) -> None:
        self.call = call
        self.flow = flow
        # A recogniser that follows the call's language (voice.language_pools) is bound to
        # this call: gathers hear the caller in the language the flow set or detected.
        bind = getattr(services.asr, "bind", None)
        if callable(bind):
            services = dataclasses.replace(services, asr=bind(lambda: call.language))
        self.services = services
        self.clock = clock
        self.vars: dict[str, Any] = {"caller": call.caller, "dialed": call.dialed}
        # `${language}`: the call's language (ivr.language), the flow's to begin with.
        set_language(self, flow.language)
        # The flow's phrases for the whole call's transcript (voice.language_pools).
        call.hints = tuple(dict.fromkeys((*call.hints, *flow.hints)))
        self.inputs: list[IvrInput] = []
        self.flow_dir: pathlib.Path = flow.dir

    def render(self, text: str) -> str:
        """`text` with each `${name}` replaced by the variable's text (empty when unset)."""

        def value(match: re.Match[str]) -> str:
            found = self.vars.get(match.group(1))
            if found is None:
                return ""
            if isinstance(found, bool):
                return "true" if found else "false"
            return str(found)

        return _VAR.sub(value, text)

    async def record_input(
        self, kind: str, value: Any, *, step: Step, sensitive: bool = False
    ) -> None:
        """Keep an input on the interaction; a sensitive step's inputs are always masked."""
        hidden = sensitive or step.sensitive
        item = IvrInput(
            kind=kind,
            value=mask(value) if hidden else value,
            step=step.index,
            verb=step.verb,
            label=step.label,
            sensitive=hidden,
            at=self.clock.now(),
            flow=self.flow.name,
            flow_version=self.flow.version,
        )
        self.inputs.append(item)
        if self.services.inputs is not None:
            await self.services.inputs.record_input(self.call, item)

    def recorded(self, kind: str) -> list[Any]:
        """The values recorded so far of one kind (tests and the screen pop read these)."""
        return [item.value for item in self.inputs if item.kind == kind]
