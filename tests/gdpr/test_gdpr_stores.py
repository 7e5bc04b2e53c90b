"""GDPR export and erasure over the real stores, in process, on SQLite and PostgreSQL (and a
real Redis): two people with data in every store; one is exported, then erased; then every
table, every file under the data dir and every Redis key is searched for their values, and
the other person's data is checked to be all there."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from redis.asyncio import Redis
from sqlalchemy import create_engine, insert, select, update

from cases.errors import NotFound
from cases.gdpr import ErasureRefused, MergedAway, Subject
from cases.gdpr_erase import Gdpr
from cases.messages import MessageDraft
from cases.opt_outs import OptOutStore
from cases.store import CaseStore
from centralita.gdpr_setup import attachments, debug_captures, voicemail
from channels.attachments import AttachmentStore
from recordings.erase import RecordingsHolder
from recordings.storage import FileStorage, RecordingIndex, RecordingRow
from recordings.tables import postcall_jobs
from routing.erase import CallbacksHolder
from routing.model import Callback
from routing.persistence import SqlRoutingPersistence
from routing.redis_store import RedisRoutingStore
from tests.gdpr.scan import file_hits, patterns, redis_hits, table_hits
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    phone: str
    national: str
    email: str
    name: str
    said: str
    texted: str
    chat: str
    photo: bytes


ANA = Person("+34699123457", "699123457", "wilhelmina.kowalczyk@example.net",
             "Wilhelmina Kowalczyk", "Wellington repairs violins in Barcelona",
             "Quiero cambiar el ornitorrinco", "visitor-zebrafinch-42", b"PHOTO-of-axolotl")
BEA = Person("+34611222333", "611222333", "bartholomew.quince@example.org",
             "Bartholomew Quince", "Gooseberry marmalade for Antarctica",
             "Necesito el hipopotamo", "visitor-capybara-77", b"PHOTO-of-narwhal")
SHARED_FILE = b"the same brochure both people sent"


def needles(p: Person) -> dict[str, str]:
    return {"phone": p.national, "email": p.email, "name (first)": p.name.split()[0],
            "name (last)": p.name.split()[1], "chat handle": p.chat,
            **{f"word {w}": w for w in (p.said + " " + p.texted).split() if len(w) >= 7},
            "attachment bytes": p.photo.decode()}


def normalize(number: str) -> str | None:
    digits = "".join(c for c in number if c.isdigit())
    return "+" + digits if number.startswith("+") else "+34" + digits


@dataclass
class World:
    db_url: str
    data: Path
    store: CaseStore
    gdpr: Gdpr
    redis: Redis
    prefix: str
    index: RecordingIndex
    customers: dict[str, int]


async def fill(store: CaseStore, opt_outs: OptOutStore, files: AttachmentStore,
               recordings: FileStorage, index: RecordingIndex, routing: SqlRoutingPersistence,
               redis_store: RedisRoutingStore, data: Path, p: Person, tag: str) -> int:
    """One person in every store; their customer id."""
    call = await store.start_voice_interaction(caller=p.phone, call_id=f"call-{tag}@pbx")
    await store.name_customer(call.customer_id, p.name)
    await store.add_segment(call.interaction_id, speaker="caller", start=0.5, end=3.0,
                            text=p.said, confidence=0.9, engine="whisper", language="en")
    await store.add_ivr_event(call.interaction_id, kind="digits", step="account",
                              value={"digits": p.national[-4:]})
    voice_file = data / "recordings" / f"call-{tag}_pbx-0.wav"
    voice_file.parent.mkdir(parents=True, exist_ok=True)
    voice_file.write_bytes(b"RIFF voicemail " + p.said.encode())
    await store.add_ivr_event(call.interaction_id, kind="voicemail",
                              value={"path": str(voice_file), "seconds": 2.0,
                                     "transcript": p.said})
    await store.add_note(call.case_id, author="agent1", text=f"Spoke with {p.name}")
    await store.add_fact(call.case_id, "email", p.email, origin="agent",
                         interaction_id=call.interaction_id)
    await store.end_interaction(call.interaction_id, outcome="completed")
    # An SMS with a photo and a shared brochure, an answer, an email, an opt-out.
    photo = files.put(p.photo, filename="foto.jpg", content_type="image/jpeg")
    shared = files.put(SHARED_FILE, filename="brochure.pdf", content_type="application/pdf")
    sms = await store.store_message(MessageDraft(
        channel="sms", direction="inbound", sender=p.phone, recipient="+34910000001",
        body=p.texted, external_id=f"SM{tag}", attachments=(photo, shared), verified=True))
    assert sms.customer_id == call.customer_id
    await store.store_message(MessageDraft(
        channel="sms", direction="outbound", sender="+34910000001", recipient=p.phone,
        body=f"Hola {p.name}", interaction_id=sms.interaction_id))
    await store.add_identity(call.customer_id, kind="email", value=p.email)
    await store.store_message(MessageDraft(
        channel="email", direction="inbound", sender=p.email, recipient="support@example.com",
        subject=f"From {p.name}", body=p.texted, external_id=f"<{tag}@mail.example>"))
    await opt_outs.set_state("sms", p.phone, "stopped", "STOP")
    # A chat visitor, merged into the caller once proven the same person.
    chat = await store.open_text_interaction(channel="chat", address=p.chat)
    await store.store_message(MessageDraft(
        channel="chat", direction="inbound", sender=p.chat, recipient="widget",
        body=p.said, interaction_id=chat.interaction_id))
    await store.merge_customers(chat.customer_id, call.customer_id, actor="agent1",
                                reason="same person")
    # The call's recording, a debug capture, a callback (database and Redis).
    location, out = recordings.create(f"rec-{tag}", NOW)
    with out:
        out.write(b"RIFF recording of " + p.said.encode())
    await index.start(RecordingRow(
        id=f"rec-{tag}", call_id=f"call-{tag}@pbx", interaction_id=call.interaction_id,
        location=location, channels=2, sample_rate=8000, started_wall=NOW.timestamp(),
        status="complete", paused_spans=[]))
    (data / "debug").mkdir(exist_ok=True)
    (data / "debug" / f"call-{tag}_pbx.wav").write_bytes(b"RIFF debug " + p.said.encode())
    await routing.insert_callback(Callback(
        id=f"cb-db-{tag}", queue="support", number=p.national, seq=1, created_wall=1.0,
        case_id=None))
    await redis_store.add_callback(Callback(
        id=f"cb-redis-{tag}", queue="support", number=p.phone, seq=2, created_wall=2.0,
        case_id=call.case_id))
    return call.customer_id


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    await require_redis()
    data = tmp_path / "data"
    data.mkdir()
    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{data}/cases.db"
    store = await CaseStore.open(db_url, now=lambda: NOW, default_region="ES")
    opt_outs = await OptOutStore.open(db_url, now=lambda: NOW)
    index = await RecordingIndex.open(db_url)
    routing = await SqlRoutingPersistence.open(db_url, now=lambda: 1.0)
    prefix = new_prefix()
    redis_store = RedisRoutingStore.from_url(REDIS_URL, prefix=prefix)
    files = AttachmentStore(data / "attachments")
    storage = FileStorage(data / "recordings")
    customers = {}
    for p, tag in ((ANA, "a"), (BEA, "b")):
        customers[tag] = await fill(store, opt_outs, files, storage, index, routing,
                                    redis_store, data, p, tag)
    await routing.close()
    await opt_outs.close()
    gdpr = await Gdpr.open(db_url, now=lambda: NOW)
    redis = Redis.from_url(REDIS_URL)
    callbacks = await CallbacksHolder.open(db_url, normalize, redis=redis, prefix=prefix)
    recordings = await RecordingsHolder.open(db_url, storage)
    for holder in (callbacks, recordings, attachments(data / "attachments"),
                   voicemail(data / "recordings"),
                   debug_captures(data / "debug", lambda _s: 0)):
        gdpr.register(holder)
    try:
        yield World(db_url, data, store, gdpr, redis, prefix, index, customers)
    finally:
        await callbacks.close()
        await recordings.close()
        await gdpr.close()
        await index.close()
        await store.close()
        await redis_store.wipe()
        await redis_store.close()
        await redis.aclose()


async def test_export_holds_every_store_of_the_person_and_nothing_of_the_other(
    world: World, tmp_path: Path
) -> None:
    out = tmp_path / "ana.zip"
    names = await world.gdpr.export(world.customers["a"], out)
    assert out.stat().st_mode & 0o077 == 0
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == sorted(names)
        blob = b"".join(z.read(n) for n in z.namelist()).decode("latin-1")
        rows = {n: json.loads(z.read(n)) for n in z.namelist() if n.endswith(".json")}
    for what, p in patterns(needles(ANA)).items():
        assert p.search(blob), f"the export lacks the {what}"
    for what, p in patterns(needles(BEA)).items():
        assert not p.search(blob), f"the export holds the other person's {what}"
    # The tables, with the two customers (the caller and the merged chat visitor).
    assert len(rows["cases/customers.json"]) == 2
    assert {r["kind"] for r in rows["cases/identities.json"]} == {"phone", "email", "chat"}
    for table in ("transcript_segments", "ivr_events", "messages", "message_attachments",
                  "notes", "case_facts", "customer_merges", "opt_outs", "interactions"):
        assert rows[f"cases/{table}.json"], table
    assert {r["id"] for r in rows["routing/callbacks.json"]} == {"cb-db-a", "cb-redis-a"}
    assert [r["id"] for r in rows["recordings/recordings.json"]] == ["rec-a"]
    assert "recordings/rec-a.wav" in names
    assert any(n.startswith("voicemail/") for n in names)
    assert any(n.startswith("debug/") for n in names)
    assert sum(n.startswith("attachments/") for n in names) == 2
    with pytest.raises(NotFound):
        await world.gdpr.export(999_999, tmp_path / "nobody.zip")


async def test_after_erase_no_table_file_or_key_holds_the_person(world: World) -> None:
    before_b = await world.gdpr.subject(world.customers["b"])
    record = await world.gdpr.erase(world.customers["a"], actor="admin")
    assert record.state == "erased" and record.actor == "admin"
    c = record.counts
    assert c["cases.customers"] == 2 and c["cases.transcript_segments"] == 1
    assert c["cases.opt_outs"] == 1 and c["cases.customer_merges"] == 1
    assert c["recordings.rows"] == 1 and c["recordings.files"] == 1
    assert c["routing.callbacks"] == 1 and c["routing.redis_callbacks"] == 1
    assert c["attachments.files"] == 1  # the shared brochure stays for the other person
    assert c["voicemail.files"] == 1 and c["debug.files"] == 1

    mine = patterns(needles(ANA))
    assert table_hits(world.db_url, mine) == []
    assert file_hits(world.data, mine) == []
    assert await redis_hits(world.redis, world.prefix, mine) == []
    # The audit row says who and how much, and nothing of the person.
    audit = await world.gdpr.erasure(world.customers["a"])
    assert audit is not None and audit.counts == record.counts
    assert not any(p.search(json.dumps(audit.to_json())) for p in mine.values())

    # The other person is whole: every table, file and key still has them.
    # (the brochure both sent is theirs alone now)
    assert await world.gdpr.subject(world.customers["b"]) == replace(
        before_b, shared_attachment_keys=())
    theirs = patterns(needles(BEA))
    in_tables = {h.split(": ", 1)[1] for h in table_hits(world.db_url, theirs)}
    assert in_tables == set(theirs) - {"attachment bytes"}
    assert {h.split(": ", 1)[1] for h in await redis_hits(world.redis, world.prefix, theirs)} \
        == {"phone"}
    kept = file_hits(world.data, theirs)
    for path in ("attachments/", "recordings/call-b", "recordings/2026", "debug/call-b"):
        assert any(h.startswith(path) for h in kept), (path, kept)
    assert (world.data / "attachments" / hashlib.sha256(SHARED_FILE).hexdigest()).exists()

    # Again: nothing left to do, the same audit.
    assert await world.gdpr.erase(world.customers["a"], actor="someone else") == record


class Failing:
    """A store that fails once (a disk error half-way through an erasure)."""

    name = "failing"

    def __init__(self) -> None:
        self.failures = 1

    async def export(self, subject: Subject, archive: object) -> None:
        return None

    async def erase(self, subject: Subject) -> dict[str, int]:
        if self.failures:
            self.failures -= 1
            raise OSError("disk gone")
        return {"failing.things": 0}


async def test_a_half_done_erasure_is_finished_by_running_it_again(world: World) -> None:
    world.gdpr.register(Failing())
    customer = world.customers["a"]
    with pytest.raises(OSError):
        await world.gdpr.erase(customer, actor="admin")
    # The stores before the failing one are erased; the case rows are all still there.
    half = await world.gdpr.erasure(customer)
    assert half is not None and half.state == "erasing"
    assert half.counts["recordings.rows"] == 1
    subject = await world.gdpr.subject(customer)
    assert subject.phones == (ANA.phone,) and subject.interaction_ids
    done = await world.gdpr.erase(customer, actor="admin")
    assert done.state == "erased" and done.counts["recordings.rows"] == 1
    assert done.counts["cases.customers"] == 2
    mine = patterns(needles(ANA))
    assert table_hits(world.db_url, mine) == []
    assert file_hits(world.data, mine) == []


async def test_a_recording_on_legal_hold_refuses_the_erasure(world: World) -> None:
    await world.index.update("rec-a", held=True, held_by="legal")
    with pytest.raises(ErasureRefused) as refused:
        await world.gdpr.erase(world.customers["a"], actor="admin")
    assert refused.value.store == "recordings"
    assert await world.gdpr.erasure(world.customers["a"]) is None  # no trace of a refusal
    subject = await world.gdpr.subject(world.customers["a"])
    assert subject.phones == (ANA.phone,)
    with pytest.raises(NotFound):
        await world.gdpr.erase(999_999, actor="admin")


async def cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "centralita", "customers", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_command_line_exports_and_erases(world: World, tmp_path: Path) -> None:
    conf = tmp_path / "centralita.yaml"
    conf.write_text(yaml.safe_dump({"routing": {
        "store": "redis", "redis_url": REDIS_URL, "key_prefix": world.prefix}}))
    where = ["--config", str(conf), "--data-dir", str(world.data), "--cases-url", world.db_url]
    customer = str(world.customers["a"])
    out = tmp_path / "export.zip"
    code, said, err = await cli("export", customer, "--out", str(out), *where)
    assert code == 0, err
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
    assert "recordings/rec-a.wav" in names and "cases/transcript_segments.json" in names
    assert f"{len(names)} entries" in said

    code, _, err = await cli("erase", customer, *where)
    assert code == 2 and "--yes" in err
    assert (await world.gdpr.subject(world.customers["a"])).phones == (ANA.phone,)

    code, said, err = await cli("erase", customer, "--yes", "--actor", "dpo", *where)
    assert code == 0, err
    audit = json.loads(said)
    assert audit["state"] == "erased" and audit["actor"] == "dpo"
    assert audit["counts"]["routing.redis_callbacks"] == 1
    mine = patterns(needles(ANA))
    assert table_hits(world.db_url, mine) == []
    assert file_hits(world.data, mine) == []
    assert await redis_hits(world.redis, world.prefix, mine) == []
    code, _, err = await cli("export", "999999", *where)
    assert code == 1 and "not found" in err.lower()


async def test_a_running_post_call_pass_refuses_then_its_job_goes_with_the_recording(
    world: World
) -> None:
    engine = create_engine(world.db_url)
    try:
        with engine.begin() as c:
            c.execute(insert(postcall_jobs).values(
                recording_id="rec-a", interaction_id=None, status="running", attempts=1,
                queued_wall=1.0))
        with pytest.raises(ErasureRefused) as refused:
            await world.gdpr.erase(world.customers["a"], actor="admin")
        assert "post-call" in refused.value.reason
        with engine.begin() as c:
            c.execute(update(postcall_jobs).values(status="done"))
        done = await world.gdpr.erase(world.customers["a"], actor="admin")
        assert done.counts["recordings.postcall_jobs"] == 1
        with engine.connect() as c:
            assert c.execute(select(postcall_jobs)).all() == []
    finally:
        engine.dispose()


async def test_a_customer_merged_into_another_points_to_it(world: World, tmp_path: Path) -> None:
    person = await world.gdpr.subject(world.customers["a"])
    [visitor] = person.customer_ids[1:]  # the chat visitor merged into the caller
    for attempt in (world.gdpr.erase(visitor, actor="admin"),
                    world.gdpr.export(visitor, tmp_path / "visitor.zip")):
        with pytest.raises(MergedAway) as merged:
            await attempt
        assert merged.value.target_id == world.customers["a"]
    assert await world.gdpr.erasure(visitor) is None
    assert await world.gdpr.subject(world.customers["a"]) == person
