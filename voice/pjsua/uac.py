"""The worker's ``call`` mode: dial one URI, play, record, send DTMF, hang up.

Timeline, all measured from answer (the confirmed state): DTMF after
``dtmf_delay`` seconds, hang-up after ``duration`` seconds, unless the far end
hangs up first.  A call not answered within ``timeout`` seconds is cancelled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

from voice.pjsua.endpoint import PjEndpoint
from voice.pjsua.protocol import CallResult
from voice.pjsua.session import Clock, MediaCall
from voice.pjsua.signals import StopFlag

# After our BYE/CANCEL, how long to wait for the transaction to finish before
# reporting anyway (a silent peer would otherwise hold us for Timer F, 32 s).
_HANGUP_GRACE_S = 3.0


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Everything the ``call`` mode needs to know."""

    uri: str
    host: str = "127.0.0.1"
    port: int = 0
    transport: str = "udp"
    from_user: str = "caller"
    play: str | None = None
    record: str | None = None
    dtmf: str = ""
    dtmf_delay: float = 1.0
    # More digits at set times after answer: ((seconds, digits), ...), e.g. to answer a menu.
    dtmf_at: tuple[tuple[float, str], ...] = ()
    duration: float = 5.0
    timeout: float = 30.0


def _target_uri(uri: str, transport: str) -> str:
    if transport == "tcp" and "transport=" not in uri.lower():
        return uri + ";transport=tcp"
    return uri


def run_call(opts: CallOptions, stop: StopFlag, clock: Clock = time.monotonic) -> CallResult:
    """Place the call and block until it is over; never raises pjsua2 errors."""
    endpoint: PjEndpoint | None = None
    account: Any = None
    call: MediaCall | None = None
    error: str | None = None
    dtmf_sent = ""
    try:
        endpoint = PjEndpoint(host=opts.host, port=opts.port, transport=opts.transport)
        account = pj.Account()
        account.create(
            endpoint.account_config(f"sip:{opts.from_user}@{opts.host}", opts.host), True
        )
        call = MediaCall(account, play=opts.play, record=opts.record, clock=clock)
        call.makeCall(_target_uri(opts.uri, opts.transport), pj.CallOpParam(True))
        started = clock()
        hangup_at: float | None = None
        planned = sorted(opts.dtmf_at)
        while not call.ended:
            endpoint.poll()
            now = clock()
            if call.hangup_sent:
                if hangup_at is not None and now - hangup_at > _HANGUP_GRACE_S:
                    break
                continue
            if stop.is_set() or call.error is not None:
                call.hangup_now()
                hangup_at = now
            elif call.connected_at is None:
                if now - started > opts.timeout:
                    error = f"no answer within {opts.timeout:g} s"
                    call.hangup_now()
                    hangup_at = now
            else:
                up = now - call.connected_at
                if opts.dtmf and not dtmf_sent and up >= opts.dtmf_delay:
                    # "-" marks a failed attempt so it is not retried every tick.
                    dtmf_sent = opts.dtmf if call.send_dtmf(opts.dtmf) else "-"
                while planned and up >= planned[0][0]:
                    _, digits = planned.pop(0)
                    if call.send_dtmf(digits):
                        dtmf_sent = dtmf_sent.strip("-") + digits
                if up >= opts.duration:
                    call.hangup_now()
                    hangup_at = now
        # Let the last RFC 4733 end packets and the BYE's 200 go out.
        for _ in range(10):
            endpoint.poll()
        error = error or call.error
    except pj.Error as exc:
        error = str(exc.info())
    finally:
        result = CallResult(
            connected=bool(call and call.connected),
            status=call.status if call else 0,
            reason=call.reason if call else "",
            duration=call.duration if call else 0.0,
            remote_hangup=bool(call and call.connected and call.remote_hangup),
            dtmf_sent=dtmf_sent if dtmf_sent != "-" else "",
            error=error,
        )
        if call is not None:
            call.release_media()
        del call
        if account is not None:
            account.shutdown()
        del account
        if endpoint is not None:
            endpoint.close()
    return result
