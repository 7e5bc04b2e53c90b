"""The Prometheus collector that reads the server's live objects at scrape time.

`Sources` names the objects (each optional: a server without routing has no ACD figures);
`LiveCollector.collect()` turns what they hold now into metric families. Figures behind an
await (the ACD's lines and agents, the stored messages by status) are read by `refresh()`,
which the `/metrics` handler awaits just before the collection; a source that fails there is
left out of that scrape and counted in `centralita_metrics_source_errors_total`, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cases.events import InProcessBus
from cases.redis_bus import RedisBus
from cases.store import CaseStore
from media.ticker import MediaTicker
from routing.admin import AcdService
from voice.calls import CallManager
from voice.sip.ua import SipUserAgent
from voice.transcription_service import TranscriptionService
from voice.utterance_pool import UtterancePool

log = logging.getLogger(__name__)

# The user agent's counters exported as centralita_sip_messages_total{kind}; calls_total has
# its own metric.
_SIP_KINDS = ("messages_in", "messages_out", "malformed", "malformed_dropped",
              "retransmissions", "absorbed", "stray_responses", "send_errors",
              "internal_errors")


@dataclass
class Sources:
    """The live objects the collector reads; None where the server does not run one."""

    ua: SipUserAgent | None = None
    calls: CallManager | None = None
    ticker: MediaTicker | None = None
    transcription: TranscriptionService | None = None
    asr_pool: UtterancePool | None = None
    bus: InProcessBus | RedisBus | None = None
    acd: AcdService | None = None
    store: CaseStore | None = None


def leg_kind(class_name: str) -> str:
    """`SipLeg` -> `sip`, `WebRtcLeg` -> `webrtc`; other media clock members by class name."""
    name = class_name.removesuffix("Leg") or class_name
    return name.lower()


class LiveCollector(Collector):
    """Reads `Sources` on every scrape."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self._acd: dict[str, Any] | None = None
        self._messages: dict[tuple[str, str], int] | None = None
        self._tasks: int | None = None
        self.source_errors = 0

    async def refresh(self) -> None:
        """Read the figures behind an await; a failing source is skipped this time."""
        s = self.sources
        self._acd = self._messages = None
        # Counted here, on the loop: a task count creeping up over a soak is a leaked task.
        self._tasks = len(asyncio.all_tasks())
        if s.acd is not None:
            try:
                self._acd = await s.acd.live()
            except Exception as exc:
                self.source_errors += 1
                log.warning("metrics: ACD figures unavailable (%s)", type(exc).__name__)
        if s.store is not None:
            try:
                self._messages = await s.store.message_counts()
            except Exception as exc:
                self.source_errors += 1
                log.warning("metrics: message counts unavailable (%s)", type(exc).__name__)

    def collect(self) -> Iterator[Metric]:
        yield from self._calls()
        yield from self._sip()
        yield from self._media()
        yield from self._speech()
        yield from self._bus()
        yield from self._routing()
        yield from self._messages_by_status()
        if self._tasks is not None:
            yield GaugeMetricFamily("centralita_asyncio_tasks",
                                    "Asyncio tasks alive on the server's loop", value=self._tasks)
        yield CounterMetricFamily(
            "centralita_metrics_source_errors", "Scrapes in which a source could not be read",
            value=self.source_errors)

    def _calls(self) -> Iterator[Metric]:
        s = self.sources
        if s.calls is not None:
            active = GaugeMetricFamily("centralita_calls_active", "Calls in progress",
                                       labels=["direction"])
            by_direction = {"inbound": 0, "outbound": 0}
            for call in list(s.calls.calls.values()):
                key = call.direction.value
                by_direction[key] = by_direction.get(key, 0) + 1
            for direction, n in by_direction.items():
                active.add_metric([direction], n)
            yield active
        if s.ticker is not None:
            legs = GaugeMetricFamily("centralita_legs_active",
                                     "Media legs on the 20 ms clock, by kind", labels=["kind"])
            kinds: dict[str, int] = {}
            for name, n in s.ticker.member_kinds().items():
                kind = leg_kind(name)
                kinds[kind] = kinds.get(kind, 0) + n
            for kind, n in sorted(kinds.items()):
                legs.add_metric([kind], n)
            yield legs

    def _sip(self) -> Iterator[Metric]:
        ua = self.sources.ua
        if ua is None:
            return
        figures = ua.metrics
        yield CounterMetricFamily("centralita_calls", "Calls set up (inbound and outbound)",
                                  value=figures.get("calls_total", 0))
        messages = CounterMetricFamily("centralita_sip_messages",
                                       "SIP messages by what happened to them", labels=["kind"])
        for kind in _SIP_KINDS:
            messages.add_metric([kind], figures.get(kind, 0))
        yield messages
        # Scanner handling (voice.sip.abuse): requests dropped unanswered, and bans.
        dropped = CounterMetricFamily("centralita_sip_abuse_dropped",
                                      "SIP messages dropped unanswered, by reason",
                                      labels=["reason"])
        for reason in ("scanner", "banned", "rate"):
            dropped.add_metric([reason], figures.get(f"abuse_dropped_{reason}", 0))
        yield dropped
        yield CounterMetricFamily("centralita_sip_abuse_bans", "SIP source addresses banned",
                                  value=figures.get("abuse_bans", 0))
        yield GaugeMetricFamily("centralita_sip_abuse_banned_sources",
                                "SIP source addresses banned now",
                                value=figures.get("abuse_banned_sources", 0))
        yield GaugeMetricFamily("centralita_sip_dialogs_active", "INVITE dialogs live",
                                value=figures.get("calls_active", 0))
        yield GaugeMetricFamily("centralita_sip_transactions_active", "SIP transactions live",
                                value=figures.get("transactions_active", 0))
        yield GaugeMetricFamily("centralita_sip_connections", "Open SIP TCP/TLS connections",
                                value=figures.get("connections", 0))

    def _media(self) -> Iterator[Metric]:
        t = self.sources.ticker
        if t is None:
            return
        yield CounterMetricFamily("centralita_media_ticks", "Media clock ticks run",
                                  value=t.ticks)
        yield CounterMetricFamily("centralita_media_ticks_skipped",
                                  "Media clock ticks skipped (started over a period late)",
                                  value=t.skipped_ticks)
        yield CounterMetricFamily("centralita_media_tick_errors",
                                  "Legs taken off the media clock by an error", value=t.errors)

    def _speech(self) -> Iterator[Metric]:
        s = self.sources
        if s.asr_pool is not None:
            yield GaugeMetricFamily("centralita_asr_queue_depth",
                                    "Utterances waiting for a recognition worker",
                                    value=s.asr_pool.queued)
        if s.transcription is None:
            return
        st = s.transcription.stats()
        yield GaugeMetricFamily("centralita_asr_calls_active", "Calls being transcribed",
                                value=st.live_calls)
        yield CounterMetricFamily("centralita_asr_segments_stored",
                                  "Final transcript segments stored", value=st.segments_stored)
        yield CounterMetricFamily("centralita_asr_frames_dropped",
                                  "Audio frames dropped before recognition (ring full)",
                                  value=st.dropped_frames)
        yield CounterMetricFamily("centralita_asr_engine_errors", "Recognition failures",
                                  value=st.engine_errors)
        dropped = CounterMetricFamily(
            "centralita_transcripts_dropped",
            "Transcript results lost: a segment the store refused, or a call's last finals "
            "not ready in time", labels=["reason"])
        dropped.add_metric(["store_error"], st.store_errors)
        dropped.add_metric(["close_timeout"], st.close_timeouts)
        yield dropped

    def _bus(self) -> Iterator[Metric]:
        bus = self.sources.bus
        if bus is None:
            return
        yield CounterMetricFamily("centralita_events_published", "Case events published",
                                  value=bus.published)
        yield CounterMetricFamily("centralita_events_dropped",
                                  "Case events a slow subscriber's full queue dropped",
                                  value=bus.dropped)

    def _routing(self) -> Iterator[Metric]:
        live = self._acd
        if live is None:
            return
        waiting = GaugeMetricFamily("centralita_acd_waiting", "Calls waiting in the queue",
                                    labels=["queue"])
        callbacks = GaugeMetricFamily("centralita_acd_callbacks_waiting",
                                      "Callbacks keeping a place in the queue", labels=["queue"])
        longest = GaugeMetricFamily("centralita_acd_longest_wait_seconds",
                                    "The longest current wait in the queue", labels=["queue"])
        level = GaugeMetricFamily(
            "centralita_acd_service_level_ratio",
            "Today's share answered within the queue's threshold (absent until a wait ended)",
            labels=["queue"])
        offered = GaugeMetricFamily("centralita_acd_offered_today",
                                    "Contacts offered to the queue today", labels=["queue"])
        for name, q in sorted(live.get("queues", {}).items()):
            waiting.add_metric([name], q.get("waiting", 0))
            callbacks.add_metric([name], q.get("callbacks_waiting", 0))
            longest.add_metric([name], q.get("longest_wait", 0.0))
            today = q.get("today", {})
            sl = today.get("service_level")
            if isinstance(sl, int | float) and math.isfinite(sl):
                level.add_metric([name], sl)
            offered.add_metric([name], today.get("offered", 0))
        yield from (waiting, callbacks, longest, level, offered)
        agents = GaugeMetricFamily("centralita_agents", "Agents by state", labels=["state"])
        states: dict[str, int] = {}
        for status in live.get("agents", {}).values():
            state = str(status.get("state", "unknown"))
            states[state] = states.get(state, 0) + 1
        for state, n in sorted(states.items()):
            agents.add_metric([state], n)
        yield agents

    def _messages_by_status(self) -> Iterator[Metric]:
        if self._messages is None:
            return
        family = GaugeMetricFamily("centralita_messages", "Stored messages by channel and status",
                                   labels=["channel", "status"])
        for (channel, status), n in sorted(self._messages.items()):
            family.add_metric([channel, status], n)
        yield family
