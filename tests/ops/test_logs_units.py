"""The pieces of structured logging and metrics that need no server: the JSON line, the log
context shared by a call's tasks, the settings keys, and the SIP response counter."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from centralita.logctx import annotate, current, log_context
from centralita.logs import setup_logging
from centralita.metrics import ServerMetrics
from centralita.settings import ConfigError, load_settings


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = setup_logging("json", debug=True, stream=stream)
    try:
        yield stream, handler
    finally:
        root.removeHandler(handler)
        for old in saved[0]:
            root.addHandler(old)
        root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_message_and_the_context(
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    stream, _ = captured
    log = logging.getLogger("tests.ops")
    log.info("outside any call")
    with log_context(call_id="c1"):
        annotate(case_id=7, interaction_id=9, node="1:gather:account")
        log.debug("two\nlines")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    first, second, third = lines(stream)
    assert set(first) == {"time", "level", "logger", "message"}
    assert str(first["time"]).endswith("Z") and first["level"] == "INFO"
    assert second == {**second, "level": "DEBUG", "logger": "tests.ops", "message": "two\nlines",
                      "call_id": "c1", "case_id": 7, "interaction_id": 9,
                      "node": "1:gather:account"}
    assert "ValueError: boom" in str(third["exc"])
    assert len(stream.getvalue().splitlines()) == 3  # one line each, newlines escaped


async def test_a_case_learnt_in_a_child_task_shows_on_the_parents_later_lines() -> None:
    async def open_interaction() -> None:
        annotate(case_id=3, interaction_id=4)

    with log_context(call_id="call-a"):
        await asyncio.create_task(open_interaction())
        ctx = current()
        assert ctx is not None and ctx.as_dict() == {
            "call_id": "call-a", "case_id": 3, "interaction_id": 4}
        with log_context(node="0:say") as inner:
            assert inner.as_dict()["call_id"] == "call-a"  # inherited
        assert "node" not in ctx.as_dict()  # the inner block's own
    assert current() is None
    annotate(case_id=1)  # outside any context: nothing to annotate, no error


async def test_two_calls_keep_their_own_context() -> None:
    seen: dict[str, object] = {}

    async def call(call_id: str, case_id: int) -> None:
        with log_context(call_id=call_id):
            await asyncio.sleep(0)
            annotate(case_id=case_id)
            await asyncio.sleep(0)
            ctx = current()
            assert ctx is not None
            seen[call_id] = ctx.case_id

    await asyncio.gather(call("a", 1), call("b", 2))
    assert seen == {"a": 1, "b": 2}


def test_the_text_format_names_the_context() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers)
    handler = setup_logging("text", stream=stream)
    try:
        with log_context(call_id="c9"):
            logging.getLogger("tests.ops").warning("hello")
    finally:
        root.removeHandler(handler)
        for old in saved:
            root.addHandler(old)
    assert stream.getvalue().rstrip().endswith("WARNING tests.ops: hello [call_id=c9]")


@pytest.mark.parametrize(("text", "message"), [
    ("log_format: yaml\n", "log_format must be text or json"),
    ("metrics: {require_role: root}\n", "metrics.require_role must be one of agent"),
    ("metrics: {port: 70000}\n", "metrics.port must be a port number"),
    ("metrics: {bind: 0.0.0.0}\n", "metrics.bind needs a port"),
    ("metrics: {colour: blue}\n", "metrics: unknown key 'colour'"),
    ("metrics: on\n", "metrics must be a mapping"),
])
def test_bad_log_and_metrics_settings_name_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "centralita.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_settings(config, {})
    assert message in str(exc.value) and str(config) in str(exc.value)


def test_log_and_metrics_settings_are_read(tmp_path: Path) -> None:
    config = tmp_path / "centralita.yaml"
    config.write_text("log_format: json\nmetrics: {bind: 127.0.0.1, port: 9464}\n")
    settings = load_settings(config, {})
    assert settings.log_format == "json"
    assert (settings.metrics.bind, settings.metrics.port) == ("127.0.0.1", 9464)
    assert load_settings(None, {}).metrics.require_role == "admin"


def test_sip_responses_are_counted_by_code_in_a_registry_of_the_servers_own() -> None:
    one, two = ServerMetrics(), ServerMetrics()  # two in one process do not collide
    one.sip_sent(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n")
    one.sip_sent(b"SIP/2.0 200 OK\r\n\r\n")
    one.sip_sent(b"SIP/2.0 486 Busy Here\r\n\r\n")
    one.sip_sent(b"INVITE sip:100@h SIP/2.0\r\n\r\n")  # a request: not a response
    one.sip_sent(b"SIP/2.0 xyz nonsense\r\n\r\n")
    text = generate_latest(one.registry).decode()
    assert 'centralita_sip_responses_sent_total{code="200"} 2.0' in text
    assert 'centralita_sip_responses_sent_total{code="486"} 1.0' in text
    assert "xyz" not in text
    assert 'code="200"' not in generate_latest(two.registry).decode()


async def test_a_final_recognised_while_the_call_ends_is_timed_from_its_utterance() -> None:
    """The last utterance is flushed by `end_call` (the caller talked up to the hangup): its
    segment is still timed, from the end of the utterance on the service's clock."""
    from media.clock import FakeClock
    from tests.transcription.fakes import LOUD, FakeEngine, FakeLeg, MemoryStore
    from voice.transcription_service import TranscriptionService

    clock = FakeClock()
    store = MemoryStore()
    service = TranscriptionService(store, FakeEngine().stream, clock)  # type: ignore[arg-type]
    metrics = ServerMetrics()
    metrics.watch_transcripts(service)
    leg = FakeLeg()
    tx = await service.start_call("call-9", "+15550100", leg)  # type: ignore[arg-type]
    for _ in range(10):  # 200 ms of speech, still going at the hangup
        clock.advance(0.02)
        leg.emit(LOUD)
        await asyncio.sleep(0)
    clock.advance(0.5)  # the segment is stored half a second after the speech ended
    await service.end_call(tx)
    assert service.answered_at("call-9") is None  # forgotten once the transcript is complete
    text = generate_latest(metrics.registry).decode()
    assert "centralita_asr_segment_latency_seconds_count 1.0" in text
    assert 'centralita_asr_segment_latency_seconds_bucket{le="0.25"} 0.0' in text
    assert 'centralita_asr_segment_latency_seconds_bucket{le="1.0"} 1.0' in text
