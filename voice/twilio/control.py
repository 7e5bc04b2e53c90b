"""Changing a Twilio call outside its stream, through Twilio's REST API (the SDK's `Client`).

    control = TwilioCallControl(client, account_sid, plan)
    await control.hangup(call_sid)                    # Status=completed
    await control.redirect(call_sid, twiml=...)       # Twiml=<Response>...</Response>
    await control.transfer(call_sid, "+34910000099")  # Twiml=<Response><Dial>+34...</Dial>

The stream itself carries what happens inside the call (audio, marks, clear); these are for
what the stream cannot do: end a call whose socket is gone, send it to other TwiML, or hand it
to a PSTN number with `<Dial>` so that its media leaves our server. A transfer is an outbound
call the account pays for, so the number passes the server's one dial plan first
(`voice.dialplan.DialPlan.check_number`; refused: `DialRefused`, nothing is sent).

`client` is a `twilio.rest.Client` (`channels.twilio_client.TwilioRest` builds it on an
asyncio HTTP client whose base URL tests point at a loopback stand-in). Twilio's refusals
and an unreachable API become `CallControlFailed` with Twilio's error code, if any.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from voice.dialplan import DialPlan

log = logging.getLogger(__name__)

MAX_TWIML_CHARS = 4000  # Twilio's limit for the Twiml parameter


class CallControlFailed(Exception):
    """Twilio refused the change or could not be reached; `code` is Twilio's error code."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TwilioCallControl:
    """Hang up, redirect and transfer Twilio calls by CallSid."""

    def __init__(self, client: Any, account_sid: str, plan: DialPlan) -> None:
        self._client = client
        self._account_sid = account_sid
        self._plan = plan

    async def hangup(self, call_sid: str) -> str:
        """End the call; Twilio's status for it (`completed`)."""
        return await self._update(call_sid, "hang up", status="completed")

    async def redirect(self, call_sid: str, *, twiml: str) -> str:
        """Have the call leave its stream for `twiml` (a `<Response>` document)."""
        if not twiml.lstrip().startswith(("<Response", "<?xml")):
            raise ValueError("twiml must be a TwiML <Response> document")
        if len(twiml) > MAX_TWIML_CHARS:
            raise ValueError(f"twiml is longer than Twilio's {MAX_TWIML_CHARS} characters")
        return await self._update(call_sid, "redirect", twiml=twiml)

    async def transfer(self, call_sid: str, number: str, *, caller_id: str | None = None,
                       timeout_s: int = 30) -> str:
        """Dial `number` from Twilio and connect the caller to it; returns the number in
        E.164 as dialed. `DialRefused` (from the dial plan) before anything is sent."""
        e164 = self._plan.check_number(number)
        response = VoiceResponse()
        kwargs: dict[str, Any] = {"timeout": timeout_s}
        if caller_id is not None:
            kwargs["caller_id"] = caller_id
        response.dial(e164, **kwargs)
        await self._update(call_sid, "transfer", twiml=str(response))
        return e164

    async def _update(self, call_sid: str, what: str, **fields: Any) -> str:
        call = self._client.api.v2010.accounts(self._account_sid).calls(call_sid)
        try:
            updated = await call.update_async(**fields)
        except TwilioRestException as exc:
            log.warning("twilio call %s: %s refused (error %s)", call_sid, what, exc.code)
            raise CallControlFailed(f"Twilio refused to {what} the call (error {exc.code}): "
                                    f"{exc.msg}", None if exc.code is None else str(exc.code)
                                    ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CallControlFailed(
                f"Twilio could not be reached to {what} the call ({type(exc).__name__})"
            ) from exc
        log.info("twilio call %s: %s done", call_sid, what)
        return str(updated.status or "")
