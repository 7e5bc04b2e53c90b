"""The interpreter on a real Call (fake leg) with fake services and an injected clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
import textwrap

import pytest

from ivr.flow import FlowDoc
from ivr.interpreter import EndReason, Interpreter
from ivr.services import ClockWall, Services
from ivr.validator import parse_flow
from ivr.verbs.base import Problems
from media.clock import FakeClock
from tests.ivr.fakes_flow import FakeRouter, ListSink, make_call
from voice.call import CallState

HOURS = """
name: hours
numbers: ["100"]
steps:
  - hours:
      timezone: Europe/Madrid
      weekly: {mon: "09:00-18:00", fri: ["09:00-14:00", "15:00-17:00"]}
      holidays: ["2025-12-25"]
      open: open
      closed: closed
      holiday: holiday
  - label: open
    set: {where: open}
  - goto: done
  - label: closed
    set: {where: closed}
  - goto: done
  - label: holiday
    set: {where: holiday}
  - label: done
    hangup:
"""


def flow(text: str, tmp_path: pathlib.Path | None = None) -> FlowDoc:
    problems = Problems()
    path = (tmp_path or pathlib.Path("/tmp")) / "flow.yaml"
    doc = parse_flow(textwrap.dedent(text).encode(), path, problems, file="flow.yaml")
    assert problems.lines() == []
    assert doc is not None
    return doc


def services_at(local: str, **kw: object) -> tuple[Services, FakeClock]:
    clock = FakeClock()
    epoch = dt.datetime.fromisoformat(local)
    return Services(wall_clock=ClockWall(clock, epoch), **kw), clock  # type: ignore[arg-type]


@pytest.mark.parametrize(("local", "where"), [
    ("2025-12-22T10:00:00+01:00", "open"),     # Monday morning in Madrid
    ("2025-12-22T18:00:00+01:00", "closed"),   # the range is half-open
    ("2025-12-22T08:30:00Z", "open"),          # 09:30 in Madrid though 08:30 UTC
    ("2025-12-26T14:30:00+01:00", "closed"),   # Friday lunch break
    ("2025-12-26T15:30:00+01:00", "open"),
    ("2025-12-27T11:00:00+01:00", "closed"),   # Saturday: not listed
    ("2025-12-25T10:00:00+01:00", "holiday"),  # a Thursday, but a holiday
    ("2025-12-24T23:30:00Z", "holiday"),       # already the 25th in Madrid
])
async def test_hours_routes_on_the_injected_clock(local: str, where: str) -> None:
    services, clock = services_at(local)
    call = make_call()
    run = await Interpreter(None, services, clock=clock).run(call, flow(HOURS))
    assert run.session is not None
    assert run.session.vars["where"] == where
    assert run.reason is EndReason.HANGUP
    assert call.state is CallState.ENDED


async def test_hours_follow_the_clock_as_it_moves() -> None:
    services, clock = services_at("2025-12-22T08:59:00+01:00")
    interpreter = Interpreter(None, services, clock=clock)
    doc = flow(HOURS)
    first = await interpreter.run(make_call(), doc)
    clock.advance(120)
    second = await interpreter.run(make_call(), doc)
    assert first.session and second.session
    assert (first.session.vars["where"], second.session.vars["where"]) == ("closed", "open")


BRANCHY = """
name: branchy
numbers: ["100"]
steps:
  - set: {tier: "${tier_in}", account: "123456", greeting: "Hi ${caller}!"}
  - branch:
      when:
        - {var: tier, equals: gold, goto: vip}
        - {var: tier, in: [silver, "2"], goto: silver}
        - {var: missing, exists: true, goto: vip}
        - {var: account, matches: "^[0-9]{6}$", goto: known}
      else: unknown
  - label: vip
    set: {route: vip}
  - goto: end
  - label: silver
    set: {route: silver}
  - goto: end
  - label: known
    set: {route: known}
  - goto: end
  - label: unknown
    set: {route: unknown}
  - label: end
    hangup: done
"""


@pytest.mark.parametrize(("tier", "route"), [
    ("gold", "vip"), ("silver", "silver"), ("2", "silver"), ("bronze", "known"),
])
async def test_set_and_branch_take_the_right_path(tier: str, route: str) -> None:
    clock = FakeClock()
    sink = ListSink()
    interpreter = Interpreter(None, Services(inputs=sink), clock=clock)
    doc = flow(BRANCHY)
    call = make_call()
    run = await interpreter.run(call, doc, variables={"tier_in": tier})
    assert run.session is not None
    assert run.session.vars["route"] == route
    assert run.session.vars["greeting"] == "Hi +34600111222!"
    labels = [entry["label"] for entry in run.path]
    assert labels[-1] == "end" and route in labels
    # The path is stored once, at the end, with what the flow did, and reaches the sink.
    assert [i.kind for i in sink.items][-1] == "path"
    assert sink.items[-1].value == run.path
    assert sink.items[-1].flow_version == doc.version


async def test_loop_guard_ends_a_flow_that_never_stops() -> None:
    doc = flow("""
        name: loop
        numbers: ["100"]
        max_steps: 25
        steps:
          - label: again
            set: {x: 1}
          - goto: again
    """)
    call = make_call()
    run = await Interpreter(None, Services(), clock=FakeClock()).run(call, doc)
    assert run.reason is EndReason.LOOP_GUARD
    assert len(run.path) == 25
    assert call.state is CallState.ENDED


async def test_flow_end_hangs_up_and_answers_first() -> None:
    call = make_call()
    run = await Interpreter(None, Services(), clock=FakeClock()).run(
        call, flow("name: x\nnumbers: ['1']\nsteps:\n  - set: {a: 1}\n"))
    assert run.reason is EndReason.END
    assert call.leg.answered and call.leg.hung_up  # type: ignore[attr-defined]


async def test_queue_without_routing_follows_on_unavailable_and_says_why() -> None:
    doc = flow("""
        name: q
        numbers: ["100"]
        steps:
          - queue: {name: support, on_unavailable: sorry}
          - set: {reached: after_queue}
          - label: sorry
            set: {reached: sorry}
    """)
    run = await Interpreter(None, Services(), clock=FakeClock()).run(make_call(), doc)
    assert run.session is not None
    assert run.session.vars["reached"] == "sorry"
    [why] = run.session.recorded("unavailable")
    assert "routing (ACD) is not wired yet" in why["reason"]


async def test_queue_callback_and_transfer_through_services() -> None:
    router = FakeRouter(result="timeout")
    doc = flow("""
        name: q
        numbers: ["100"]
        steps:
          - queue: {name: support, priority: 3, skills: [es], on_timeout: offer}
          - hangup:
          - label: offer
            callback: {queue: support}
          - transfer: {to: "sip:desk@pbx.example"}
    """)
    run = await Interpreter(None, Services(router=router), clock=FakeClock()).run(
        make_call(), doc)
    assert [(r.queue, r.priority, r.skills) for r in router.requests] == [("support", 3, ("es",))]
    assert router.callbacks[0][1] == "+34600111222"
    assert run.session is not None and run.session.vars["callback_id"] == "cb-1"
    # No transferer on this server: the transfer step says so and hangs up.
    assert run.reason is EndReason.HANGUP
    assert run.session.recorded("unavailable")[0]["verb"] == "transfer"


async def test_sensitive_step_inputs_are_masked() -> None:
    sink = ListSink()
    doc = flow("""
        name: pci
        numbers: ["100"]
        steps:
          - set: {card: "4111111111111111"}
            sensitive: true
    """)
    run = await Interpreter(None, Services(inputs=sink), clock=FakeClock()).run(make_call(), doc)
    assert run.session is not None
    assert run.session.vars["card"] == "4111111111111111"  # the flow can still use it
    var_items = [i for i in sink.items if i.kind == "variable"]
    assert [(i.value, i.sensitive) for i in var_items] == [({"card": "***"}, True)]
    assert "4111" not in repr(sink.items)


async def test_caller_hangup_cancels_the_running_step() -> None:
    class SlowRouter(FakeRouter):
        async def enqueue(self, call, request):  # type: ignore[no-untyped-def]
            await asyncio.Event().wait()  # an agent never comes

    doc = flow("name: q\nnumbers: ['1']\nsteps:\n  - queue: support\n  - set: {after: 1}\n")
    call = make_call()
    interpreter = Interpreter(None, Services(router=SlowRouter()), clock=FakeClock())
    task = asyncio.ensure_future(interpreter.run(call, doc))
    await asyncio.sleep(0.01)
    call.ended("remote")
    run = await asyncio.wait_for(task, 2)
    assert run.reason is EndReason.CALLER
    assert run.session is not None and "after" not in run.session.vars


async def test_no_flow_for_the_number_hangs_up() -> None:
    class Empty:
        def flow_for(self, dialed: str) -> None:
            return None

    call = make_call()
    run = await Interpreter(Empty(), Services(), clock=FakeClock()).run(call)
    assert run.reason is EndReason.NO_FLOW
    assert call.state is CallState.ENDED
