"""What IVR verbs reach outside the flow, as small Protocols with safe defaults.

`Services` is built once by the composition root (`centralita/`) and shared by every call.
Every field is optional: a verb whose service is absent says so and follows its fallback
label (`on_unavailable:`/`on_error:`) instead of failing the call.

Routing's ACD is a later issue: `Router` is the interface the `queue` and `callback` verbs hand
the call to; `Transferer` carries `transfer` to a SIP URI or number (voice's outbound dial +
bridge). Media services (`tts`, `asr`, `store`...) are typed `Any` here and owned by the media
verbs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import aiohttp

    from media.clock import Clock
    from voice.call import Call


class ServiceUnavailable(Exception):
    """A service the flow needs is not available on this server (yet)."""


@dataclass(frozen=True)
class QueueRequest:
    """A call handed to routing: which queue, with what priority and skills."""

    queue: str
    priority: int = 0
    skills: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueOutcome:
    """How the queue ended for the call: `answered`, `callback`, `abandoned`, `timeout`..."""

    result: str
    detail: dict[str, Any] = field(default_factory=dict)


class Router(Protocol):
    """Routing's side of `queue` and `callback` (the ACD issue implements it)."""

    async def enqueue(self, call: Call, request: QueueRequest) -> QueueOutcome:
        """Hold the call in `request.queue` until it is answered or leaves the queue."""
        ...

    async def request_callback(self, call: Call, request: QueueRequest, number: str) -> str:
        """Store a callback that keeps the caller's place; returns its id."""
        ...


class TransferOutcome(Protocol):
    """How a transfer went (voice's `TransferResult` is one).

    `result`: `answered`, `no-answer`, `busy`, `failed`, `unavailable` or `abandoned`;
    `summary()` is what the verb stores on the interaction.
    """

    @property
    def result(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def answered(self) -> bool: ...

    def summary(self) -> dict[str, Any]: ...


class Transferer(Protocol):
    """Voice's outbound dial + bridge, for `transfer`."""

    async def transfer(
        self, call: Call, target: str, *, ring_timeout: float
    ) -> TransferOutcome:
        """Dial `target` (SIP URI or number), bridge on answer; return when the bridge ends.

        Not answered, busy, unreachable or impossible are outcomes, not exceptions.
        """
        ...


@dataclass(frozen=True)
class KnownCase:
    """What the caller's case already knows, for flows (`skip_if_known`, `branch`):
    `facts` the case's unmasked facts by key (the latest of each: `cases.facts`), and
    `contacts` the customer's contacts in the recent window, this call included."""

    facts: dict[str, str] = field(default_factory=dict)
    contacts: int = 0


class CaseReader(Protocol):
    """The case store's side of flows that read the case (the composition root wires it)."""

    async def known(self, call: Call) -> KnownCase:
        """The facts and recent contacts of the case `call` is on."""
        ...


class UnavailableRouter:
    """The default until routing's ACD exists: every request is refused, clearly."""

    async def enqueue(self, call: Call, request: QueueRequest) -> QueueOutcome:
        raise ServiceUnavailable("queues are not available: routing (ACD) is not wired yet")

    async def request_callback(self, call: Call, request: QueueRequest, number: str) -> str:
        raise ServiceUnavailable("callbacks are not available: routing (ACD) is not wired yet")


@dataclass(frozen=True)
class IvrInput:
    """One thing kept from an IVR run: digits, speech, a variable, the path taken...

    `value` is already masked when `sensitive` (the raw value never leaves the session).
    `at` is the injected clock's time.
    """

    kind: str
    value: Any
    step: int
    verb: str
    label: str | None
    sensitive: bool
    at: float
    flow: str
    flow_version: str


class InputSink(Protocol):
    """Where IVR inputs are stored (the interaction on the case): the media verbs' side."""

    async def record_input(self, call: Call, item: IvrInput) -> None: ...


class WallClock(Protocol):
    """Calendar time (aware, UTC): `hours` needs the date, the monotonic Clock can't give it."""

    def wall_now(self) -> dt.datetime: ...


class SystemWallClock:
    """Production calendar time from the system."""

    def wall_now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ClockWall:
    """Calendar time driven by an injected monotonic clock: `epoch` + `clock.now()`.

    With a `FakeClock` this lets tests move `hours` across opening time with `advance()`.
    """

    def __init__(self, clock: Clock, epoch: dt.datetime) -> None:
        if epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        self._clock = clock
        self._epoch = epoch.astimezone(dt.UTC)
        self._start = clock.now()

    def wall_now(self) -> dt.datetime:
        return self._epoch + dt.timedelta(seconds=self._clock.now() - self._start)


@dataclass
class Services:
    """Everything verbs use beyond the call itself; None means "not on this server"."""

    router: Router = field(default_factory=UnavailableRouter)
    transferer: Transferer | None = None
    http: aiohttp.ClientSession | None = None
    wall_clock: WallClock = field(default_factory=SystemWallClock)
    inputs: InputSink | None = None
    # The caller's case: its facts and recent contacts (flows that read the case).
    case: CaseReader | None = None
    # Media verbs' services (text to speech, speech recognition, case store, recorder).
    tts: Any = None
    asr: Any = None
    store: Any = None
    recorder: Any = None
    # Anything else a later verb needs before it earns a typed field.
    extra: dict[str, Any] = field(default_factory=dict)
