"""Hot reload: edits take effect for the next call, calls in progress keep their version,
a broken edit is rejected and the last good version keeps serving."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib

from ivr.interpreter import Interpreter
from ivr.registry import FlowRegistry
from ivr.services import QueueOutcome, QueueRequest, Services
from media.clock import FakeClock
from tests.ivr.fakes_flow import make_call
from voice.call import Call


def write(path: pathlib.Path, greeting: str, *, broken: bool = False, numbers: str = '["100"]') -> None:
    verb = "sett" if broken else "set"
    path.write_text(
        f"name: main\nnumbers: {numbers}\nsteps:\n"
        f"  - {verb}: {{greeting: {greeting}}}\n"
        "  - queue: support\n"
        "  - set: {after: \"${greeting}\"}\n",
        encoding="utf-8",
    )
    # Filesystems with coarse mtimes: make every write look new.
    stamp = path.stat().st_mtime_ns + 1_000_000_000 * (write.count + 1)  # type: ignore[attr-defined]
    write.count += 1  # type: ignore[attr-defined]
    os.utime(path, ns=(stamp, stamp))


write.count = 0  # type: ignore[attr-defined]


class GateRouter:
    """Holds every queued call until `release` is set; then the call leaves the queue."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def enqueue(self, call: Call, request: QueueRequest) -> QueueOutcome:
        self.entered.set()
        await self.release.wait()
        return QueueOutcome("timeout")

    async def request_callback(self, call: Call, request: QueueRequest, number: str) -> str:
        return "cb"


def test_numbers_and_default(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "main.yaml", "hi")
    (tmp_path / "other.yml").write_text("name: other\ndefault: true\nsteps:\n  - hangup\n")
    registry = FlowRegistry(tmp_path, clock=FakeClock())
    registry.load()
    assert registry.flow_for("100").name == "main"  # type: ignore[union-attr]
    assert registry.flow_for("999").name == "other"  # type: ignore[union-attr]
    (tmp_path / "other.yml").unlink()
    registry.load()
    assert registry.flow_for("999") is None


async def test_edit_during_a_call(tmp_path: pathlib.Path, caplog) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    path = tmp_path / "main.yaml"
    write(path, "old")
    registry = FlowRegistry(tmp_path, clock=clock, interval=1.0)
    registry.start()
    router = GateRouter()
    interpreter = Interpreter(registry, Services(router=router), clock=clock)
    first_version = registry.flow_for("100").version  # type: ignore[union-attr]

    in_progress = asyncio.ensure_future(interpreter.run(make_call()))
    await asyncio.wait_for(router.entered.wait(), 2)

    write(path, "new")
    clock.advance(1.0)  # the poll sees the edit
    assert registry.flow_for("100").version != first_version  # type: ignore[union-attr]

    router.release.set()
    old_run = await asyncio.wait_for(in_progress, 2)
    assert old_run.flow is not None and old_run.flow.version == first_version
    assert old_run.session is not None and old_run.session.vars["after"] == "old"

    new_run = await asyncio.wait_for(interpreter.run(make_call()), 2)
    assert new_run.session is not None and new_run.session.vars["after"] == "new"

    # A broken edit: rejected with its position, the "new" version keeps serving.
    caplog.set_level(logging.INFO)
    serving = registry.flow_for("100")
    write(path, "broken", broken=True)
    clock.advance(1.0)
    assert registry.flow_for("100") is serving
    assert registry.errors == {
        path: [f"{path}:4:5: unknown verb 'sett' (did you mean 'set'?)"]}
    assert f"flow rejected: {path}:4:5: unknown verb 'sett'" in caplog.text
    still = await asyncio.wait_for(interpreter.run(make_call()), 2)
    assert still.session is not None and still.session.vars["after"] == "new"

    # Fixed again: errors clear, the fix serves.
    write(path, "fixed")
    clock.advance(1.0)
    assert registry.errors == {}
    assert registry.flow_for("100").steps[0].params == {"greeting": "fixed"}  # type: ignore[union-attr]

    registry.stop()
    assert clock.pending == 0


def test_an_edit_that_steals_a_number_is_rejected(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "a.yaml", "a", numbers='["100"]')
    write(tmp_path / "b.yaml", "b", numbers='["200"]')
    registry = FlowRegistry(tmp_path, clock=FakeClock())
    registry.load()
    b_before = registry.flow_for("200")
    write(tmp_path / "b.yaml", "b2", numbers='["200", "100"]')
    registry.load()
    assert registry.flow_for("200") is b_before
    [problem] = registry.errors[tmp_path / "b.yaml"]
    assert "number '100' is already served by flow 'main'" in problem


def test_a_broken_file_at_start_serves_nothing_but_is_reported(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "main.yaml", "x", broken=True)
    registry = FlowRegistry(tmp_path, clock=FakeClock())
    registry.load()
    assert registry.flow_for("100") is None
    assert list(registry.errors) == [tmp_path / "main.yaml"]
