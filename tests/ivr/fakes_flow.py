"""Fakes for interpreter tests: a leg for a real `Call`, a router, an input sink."""

from __future__ import annotations

from typing import Any

from ivr.services import IvrInput, QueueOutcome, QueueRequest
from voice.call import Call, Direction


class FakeLeg:
    """A leg that does nothing but remember what it was asked."""

    def __init__(self) -> None:
        self.answered = False
        self.hung_up = False

    def ring(self) -> None: ...

    async def answer(self) -> None:
        self.answered = True

    async def hold(self) -> None: ...

    async def unhold(self) -> None: ...

    def hangup(self) -> None:
        self.hung_up = True

    def play(self, source: Any, on_done: Any = None) -> None:
        if on_done is not None:
            on_done()

    def send_dtmf(self, digits: str) -> None: ...

    def leg_media(self) -> None:
        return None


def make_call(dialed: str = "100", caller: str = "+34600111222") -> Call:
    return Call("call-1", Direction.INBOUND, FakeLeg(), caller=caller, dialed=dialed)


class FakeRouter:
    """Routing that answers every queue with `result` and remembers the requests."""

    def __init__(self, result: str = "answered") -> None:
        self.result = result
        self.requests: list[QueueRequest] = []
        self.callbacks: list[tuple[QueueRequest, str]] = []

    async def enqueue(self, call: Call, request: QueueRequest) -> QueueOutcome:
        self.requests.append(request)
        return QueueOutcome(self.result)

    async def request_callback(self, call: Call, request: QueueRequest, number: str) -> str:
        self.callbacks.append((request, number))
        return "cb-1"


class ListSink:
    def __init__(self) -> None:
        self.items: list[IvrInput] = []

    async def record_input(self, call: Call, item: IvrInput) -> None:
        self.items.append(item)
