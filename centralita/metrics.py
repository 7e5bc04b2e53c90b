"""Prometheus metrics of one server: what it is doing now, read from the live objects.

Most figures are read when `/metrics` is scraped, from the objects that already keep them
(`centralita.metrics_live.LiveCollector`): the call manager's calls, the media clock's
members and counters, the SIP user agent's counters, the transcription service's totals, the
event bus's drops, the ACD's lines and agents, the stored messages. Nothing in those
packages counts for Prometheus. The few figures no object keeps are observed here, at
boundaries this module owns:

- SIP responses sent, by status code: the user agent's `on_sent` hook (retransmissions
  included: a 200 retransmitted until its ACK counts each time);
- media tick lateness: an after-tick callback of the media clock, one observation a tick;
- RTP loss, jitter and late packets per call: the call manager's `on_ended` hook, with the
  figures its RTP session computed (every SIP call, inbound and outbound);
- end-of-utterance to stored segment latency: the transcription service's `on_final`;
- database write latency: SQLAlchemy cursor events on the case store's engine.

Each server has its own `CollectorRegistry` (never the process-global one), so in-process
test servers do not collide.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, event

from centralita.metrics_live import LiveCollector, Sources
from media.rtp.stats import RtpStats
from media.ticker import MediaTicker
from voice.call import Call
from voice.transcription import SegmentEvent
from voice.transcription_service import TranscriptionService

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics", "Sources"]

CallHandler = Callable[[Call], Awaitable[None]]

TICK_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
LOSS_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
JITTER_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
LATE_BUCKETS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0)
SEGMENT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_WRITES = ("INSERT", "UPDATE", "DELETE")
_TIMER_KEY = "centralita_metrics_started"


class ServerMetrics:
    """The registry of one server, its own instruments and the live collector."""

    def __init__(self, sources: Sources | None = None) -> None:
        self.sources = sources or Sources()
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.sip_responses = Counter(
            "centralita_sip_responses_sent", "SIP responses sent, by status code "
            "(retransmissions included)", ["code"], registry=r)
        self.tick_lateness = Histogram(
            "centralita_media_tick_lateness_seconds",
            "How late each 20 ms media tick started", buckets=TICK_BUCKETS, registry=r)
        self.rtp_loss = Histogram(
            "centralita_rtp_loss_ratio", "RTP packets lost / expected, per call at its end",
            buckets=LOSS_BUCKETS, registry=r)
        self.rtp_jitter = Histogram(
            "centralita_rtp_jitter_seconds", "RFC 3550 interarrival jitter, per call at its end",
            buckets=JITTER_BUCKETS, registry=r)
        self.rtp_late = Histogram(
            "centralita_rtp_late_packets", "RTP packets that came too late for the jitter "
            "buffer, per call at its end", buckets=LATE_BUCKETS, registry=r)
        self.segment_latency = Histogram(
            "centralita_asr_segment_latency_seconds",
            "From the end of an utterance to its transcript segment being stored",
            buckets=SEGMENT_BUCKETS, registry=r)
        self.db_writes = Histogram(
            "centralita_db_write_seconds", "Database write statements' duration",
            ["store", "op"], buckets=DB_BUCKETS, registry=r)
        self.live = LiveCollector(self.sources)
        r.register(self.live)
        self._codes: dict[bytes, Any] = {}
        self._ticker: MediaTicker | None = None
        self._engines: list[tuple[Engine, Callable[..., None], Callable[..., None]]] = []

    def read_from(self, sources: Sources) -> None:
        """The live objects to read at each scrape (the server sets them once built)."""
        self.sources = self.live.sources = sources

    # -- the scrape -------------------------------------------------------------------------------
    async def exposition(self) -> bytes:
        """The text exposition format, after refreshing the figures read asynchronously."""
        await self.live.refresh()
        return generate_latest(self.registry)

    # -- boundaries observed ----------------------------------------------------------------------
    def sip_sent(self, data: bytes) -> None:
        """The user agent's `on_sent` hook: count a response by its status code."""
        if not data.startswith(b"SIP/2.0 "):
            return
        code = data[8:11]
        child = self._codes.get(code)
        if child is None:
            if not code.isdigit():
                return
            child = self._codes[code] = self.sip_responses.labels(code.decode())
        child.inc()

    def watch_ticker(self, ticker: MediaTicker) -> None:
        """Observe every tick's lateness (an after-tick callback: once per 20 ms)."""
        self._ticker = ticker
        ticker.after_tick(self._tick_done)

    def _tick_done(self) -> None:
        ticker = self._ticker
        if ticker is not None and ticker.lateness:
            self.tick_lateness.observe(ticker.lateness[-1])

    def call_ended(self, call: Call, stats: RtpStats) -> None:
        """The call manager's `on_ended` hook: observe the call's RTP figures."""
        expected = stats.packets_received + stats.lost
        if expected > 0:
            self.rtp_loss.observe(stats.lost / expected)
        if stats.packets_received > 0:
            self.rtp_jitter.observe(stats.jitter_ms / 1000)
            self.rtp_late.observe(stats.late)

    def watch_transcripts(self, service: TranscriptionService) -> None:
        """Time each final segment from its utterance's end (calls started from now on)."""
        chained = service.on_final

        def final(event: SegmentEvent) -> None:
            answered = service.answered_at(event.call_id)
            if answered is not None and event.segment_id is not None:
                ended_at = answered + event.end
                self.segment_latency.observe(max(0.0, service.clock.now() - ended_at))
            if chained is not None:
                chained(event)

        service.on_final = final

    def watch_engine(self, engine: Engine, store: str) -> None:
        """Time the write statements (INSERT, UPDATE, DELETE) run on `engine`."""
        histogram = self.db_writes

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info[_TIMER_KEY] = time.perf_counter()

        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            started = conn.info.pop(_TIMER_KEY, None)
            op = statement.lstrip()[:6].upper()
            if started is not None and op in _WRITES:
                histogram.labels(store, op.lower()).observe(time.perf_counter() - started)

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        self._engines.append((engine, before, after))

    def close(self) -> None:
        """Stop listening to the engines (they may outlive this server in tests)."""
        for engine, before, after in self._engines:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
        self._engines.clear()
