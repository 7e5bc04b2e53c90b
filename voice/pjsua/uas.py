"""The worker's ``listen`` mode: an auto-answering UAS for Centralita's UAC path.

Each incoming INVITE gets 180 Ringing at once and 200 OK ``answer_after``
seconds later (or the ``reject`` status instead).  What the caller sends is
recorded, a WAV is optionally played back, received DTMF is collected, and one
:class:`~voice.pjsua.protocol.CallEnded` line is printed per finished call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pjsua2 as pj

from voice.pjsua.endpoint import PjEndpoint
from voice.pjsua.protocol import CallEnded, Ready
from voice.pjsua.session import Clock, MediaCall
from voice.pjsua.signals import StopFlag

_SHUTDOWN_GRACE_S = 3.0


@dataclass(frozen=True, slots=True)
class ListenOptions:
    """Everything the ``listen`` mode needs to know."""

    host: str = "127.0.0.1"
    port: int = 5060
    transport: str = "udp"
    record: str | None = None
    play: str | None = None
    answer_after: float = 0.0
    reject: int = 0
    max_calls: int = 0
    duration: float = 0.0


def recording_path(template: str | None, n: int) -> str | None:
    """The WAV for the ``n``-th call (1-based).

    ``{n}`` in the template is replaced by the number; otherwise the first call
    records to the path itself and later ones to ``stem-N.suffix``.
    """
    if template is None:
        return None
    if "{n}" in template:
        return template.replace("{n}", str(n))
    if n == 1:
        return template
    path = Path(template)
    return str(path.with_name(f"{path.stem}-{n}{path.suffix}"))


@dataclass(slots=True)
class _Pending:
    call: MediaCall
    recorded: str | None
    answer_at: float


class _Listener(pj.Account):  # type: ignore[misc]
    def __init__(self, opts: ListenOptions, clock: Clock) -> None:
        super().__init__()
        self.opts = opts
        self.clock = clock
        self.calls: list[_Pending] = []
        self.seen = 0

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802 - pjsua2 name
        self.seen += 1
        recorded = None if self.opts.reject else recording_path(self.opts.record, self.seen)
        call = MediaCall(self, prm.callId, play=self.opts.play, record=recorded, clock=self.clock)
        # Keep the Python object alive: pjsua2 holds only a raw pointer.
        pending = _Pending(call, recorded, self.clock() + self.opts.answer_after)
        self.calls.append(pending)
        op = pj.CallOpParam()
        if self.opts.reject:
            op.statusCode = self.opts.reject
            call.hangup_sent = True
            pending.answer_at = float("inf")
        else:
            op.statusCode = 180
        try:
            call.answer(op)
        except pj.Error as exc:
            call.error = f"answer failed: {exc.info()}"

    def hangup_all(self) -> None:
        """Hang up every call still in progress."""
        for pending in self.calls:
            pending.call.hangup_now()

    def drop_calls(self) -> None:
        """Close media files and let go of every call object."""
        for pending in self.calls:
            pending.call.release_media()
        self.calls.clear()


def run_listen(
    opts: ListenOptions,
    stop: StopFlag,
    emit: Callable[[str], None],
    clock: Clock = time.monotonic,
) -> int:
    """Answer calls until stopped (or ``max_calls`` have ended); return an exit code."""
    endpoint = PjEndpoint(host=opts.host, port=opts.port, transport=opts.transport)
    account = _Listener(opts, clock)
    try:
        port = endpoint.local_port
        account.create(endpoint.account_config(f"sip:listener@{opts.host}:{port}", opts.host))
        account.setDefault()
        emit(Ready(port=port).to_json())
        ended = 0
        stop_at: float | None = None
        while True:
            endpoint.poll()
            now = clock()
            if stop.is_set() and stop_at is None:
                stop_at = now
                account.hangup_all()
            ended += _tick(account, now, stopping=stop_at is not None, emit=emit)
            if opts.max_calls and ended >= opts.max_calls:
                stop.set()
            if stop_at is not None and (not account.calls or now - stop_at > _SHUTDOWN_GRACE_S):
                break
        for pending in account.calls:  # peers that never finished: report anyway
            emit(_ended(pending).to_json())
        return 0
    finally:
        # No MediaCall may outlive libDestroy(): its SWIG destructor would call
        # into a torn-down pjsua and abort the process.  Hence no loop variable
        # in this function ever holds one (see _tick).
        account.drop_calls()
        account.shutdown()
        del account
        endpoint.close()


def _tick(account: _Listener, now: float, *, stopping: bool, emit: Callable[[str], None]) -> int:
    """Report and forget ended calls, answer or hang up live ones; return how many ended."""
    ended = 0
    for pending in list(account.calls):
        if pending.call.ended:
            account.calls.remove(pending)
            emit(_ended(pending).to_json())
            ended += 1
        elif not stopping and not pending.call.hangup_sent:
            _advance(pending, now, account.opts)
    return ended


def _advance(pending: _Pending, now: float, opts: ListenOptions) -> None:
    call = pending.call
    if not call.connected and now >= pending.answer_at:
        pending.answer_at = float("inf")
        op = pj.CallOpParam()
        op.statusCode = 200
        try:
            call.answer(op)
        except pj.Error as exc:
            call.error = f"answer failed: {exc.info()}"
            call.hangup_now(500)
    elif call.connected and opts.duration and call.duration >= opts.duration:
        call.hangup_now()


def _ended(pending: _Pending) -> CallEnded:
    call = pending.call
    return CallEnded(
        from_=call.remote_uri,
        status=call.status,
        duration=call.duration,
        recorded=pending.recorded if call.connected else None,
        dtmf=call.dtmf_received,
        remote_hangup=call.remote_hangup,
    )
