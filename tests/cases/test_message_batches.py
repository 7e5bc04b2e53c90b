"""Concurrent messages (SQLite: group commit, `cases.message_writer`): each caller gets its own
outcome, a retry is stored once, a bad message costs the others nothing, and on SQLite a burst
takes fewer commits than messages. Runs on PostgreSQL too, where each message is its own
transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from cases.errors import InvalidInput, NotFound
from cases.messages import MessageDraft
from cases.store import CaseStore

OURS = "+34910000000"


def sms(sender: str, sid: str, body: str, **kw: Any) -> MessageDraft:
    return MessageDraft(channel="sms", direction="inbound", sender=sender, recipient=OURS,
                        body=body, external_id=sid, verified=True, **kw)


@pytest.fixture
def commits() -> Iterator[list[object]]:
    """Every commit any engine makes while the test runs."""
    seen: list[object] = []

    def count(connection: object) -> None:
        seen.append(connection)

    event.listen(Engine, "commit", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "commit", count)


async def test_a_burst_keeps_each_outcome_and_shares_commits(
    store: CaseStore, db_url: str, commits: list[object]
) -> None:
    email = await store.open_text_interaction(channel="email", address="ana@example.com")
    drafts = [sms(f"+3461234560{i % 4}", f"SM{i}", f"line {i}") for i in range(16)]
    drafts += [
        sms("+34612345603", "SM3", "retry of SM3, changed"),  # Twilio's retry: stored once
        sms("+34612345601", "SMX", "wrong channel", interaction_id=email.interaction_id),
        sms("+34612345601", "SMY", "no such interaction", interaction_id=999_999),
        sms("+34612345602", "SM16", "after the bad ones"),
    ]
    commits.clear()
    results = await asyncio.gather(
        *(store.store_message(d) for d in drafts), return_exceptions=True
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    assert isinstance(results[17], InvalidInput) and results[17].where == "message.interaction_id"
    assert isinstance(results[18], NotFound)
    assert len(stored) == 18 and all(r.created for r in stored if r is not results[16])
    retry = results[16]
    assert not isinstance(retry, BaseException)
    first = results[3]
    assert not isinstance(first, BaseException)
    assert not retry.created and retry.message_id == first.message_id
    assert retry.view["body"] == "line 3"
    for draft, result in zip(drafts, results, strict=True):
        if not isinstance(result, BaseException) and result is not retry:
            assert result.view["body"] == draft.body
            assert result.view["external_id"] == draft.external_id
    # One person, one case, one open SMS interaction, whatever the interleaving.
    by_sender: dict[str, set[tuple[int, int]]] = {}
    for draft, result in zip(drafts, results, strict=True):
        if not isinstance(result, BaseException):
            by_sender.setdefault(draft.sender, set()).add((result.case_id, result.interaction_id))
    assert all(len(places) == 1 for places in by_sender.values())
    # What the callers were told is what is stored.
    for case_id in {r.case_id for r in stored}:
        timeline = await store.timeline(case_id)
        kept = {m["external_id"]: m for i in timeline["interactions"] for m in i["messages"]}
        for result in stored:
            if result.case_id == case_id:
                assert kept[result.view["external_id"]] == result.view
    assert "SMX" not in str(stored) and "SMY" not in str(stored)
    if db_url.startswith("sqlite"):
        assert len(commits) < 18, len(commits)
