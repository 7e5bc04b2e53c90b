"""Flows read the case (issue 12, item 4): the interpreter on a real Call (fake leg) with the
real case store (SQLite and PostgreSQL) behind `CallInteractions`. A returning caller's case
facts are `case_*` variables, a `gather` with `skip_if_known` takes a known fact instead of
asking, a flow branches on facts and on recent contacts, and a masked fact is never used."""

from __future__ import annotations

import pathlib
import textwrap

from cases.store import CaseStore
from centralita.call_cases import CallInteractions
from ivr.flow import FlowDoc
from ivr.interpreter import Interpreter
from ivr.services import Services
from ivr.validator import parse_flow
from ivr.verbs.base import Problems
from media.clock import LoopClock
from tests.ivr.fakes_flow import make_call

FLOW = """
name: returning
numbers: ["100"]
steps:
  - label: greet
    branch:
      when:
        - {var: case_order_number, exists: true, goto: known_order}
      else: ask_order
  - label: known_order
    set: {greeting: "Are you calling about your order ${case_order_number}?"}
  - label: ask_order
    gather: {variable: order_number, timeout: 0.3,
             skip_if_known: true, on_match: contacts, on_timeout: asked}
  - label: asked
    set: {asked: "yes"}
  - label: contacts
    branch:
      when:
        - {var: case_contacts, in: [1], goto: first}
      else: repeat
  - label: first
    set: {contact: first}
  - hangup
  - label: repeat
    set: {contact: repeat}
  - hangup
"""


def flow(text: str) -> FlowDoc:
    problems = Problems()
    doc = parse_flow(textwrap.dedent(text).encode(), pathlib.Path("/tmp/flow.yaml"), problems,
                     file="flow.yaml")
    assert problems.lines() == [] and doc is not None
    return doc


async def test_a_known_fact_is_not_asked_again_and_the_flow_greets_with_it(
    store: CaseStore,
) -> None:
    interactions = CallInteractions(store)
    # The first call gave the order number (a fact on the case); it ended.
    first = await store.start_voice_interaction(caller="+34600111222", call_id="earlier")
    await store.add_ivr_event(first.interaction_id, kind="digits", step="ask_order",
                              value={"digits": "456", "outcome": "match",
                                     "variable": "order_number"})
    await store.add_fact(first.case_id, "account_number", "77", sensitive=True)
    await store.end_interaction(first.interaction_id, outcome="completed")

    call = make_call(caller="+34600111222")
    services = Services(inputs=interactions, case=interactions)
    run = await Interpreter(None, services, clock=LoopClock()).run(call, flow(FLOW))
    variables = run.session.vars if run.session is not None else {}
    assert variables["case_order_number"] == "456"
    assert variables["greeting"] == "Are you calling about your order 456?"
    assert variables["order_number"] == "456" and "asked" not in variables
    assert "case_account_number" not in variables  # masked facts are never used
    assert variables["case_contacts"] == 2 and variables["contact"] == "repeat"
    await interactions.finish(call)
    timeline = await store.timeline(first.case_id)
    this_call = timeline["interactions"][-1]
    # The skip is on the interaction: the value came from the case, nobody was asked.
    assert {"order_number": "456"} in [e["value"] for e in this_call["ivr_events"]
                                       if e["kind"] == "variable"]
    assert not [e for e in this_call["ivr_events"] if e["kind"] == "digits"]


async def test_a_first_caller_is_asked(store: CaseStore) -> None:
    interactions = CallInteractions(store)
    call = make_call(caller="+34600999888")
    services = Services(inputs=interactions, case=interactions)
    run = await Interpreter(None, services, clock=LoopClock()).run(call, flow(FLOW))
    variables = run.session.vars if run.session is not None else {}
    assert "case_order_number" not in variables and "greeting" not in variables
    # Nothing known: the gather ran (and timed out: nobody keyed anything).
    assert variables["asked"] == "yes" and "order_number" not in variables
    assert variables["case_contacts"] == 1 and variables["contact"] == "first"
    await interactions.finish(call)


async def test_without_a_case_reader_the_flow_asks(store: CaseStore) -> None:
    call = make_call(caller="+34600111000")
    run = await Interpreter(None, Services(), clock=LoopClock()).run(call, flow(FLOW))
    variables = run.session.vars if run.session is not None else {}
    assert variables["asked"] == "yes" and "case_contacts" not in variables
