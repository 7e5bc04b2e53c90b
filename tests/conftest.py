"""Fixtures shared by every suite: a real `centralita serve` on free loopback ports.

The process management lives in `tests/helpers/server.py`; these fixtures only tie it to a
test's lifetime. Server logs are kept in the test's tmp dir (`server.stderr.log`); when a test
fails, the tail of each of its servers' stderr is printed at teardown, so a CI report carries it.

PostgreSQL is the cluster's database: a test that starts whole servers runs once with each
server on its own SQLite file and once with each on a fresh PostgreSQL database (see
`server_database`), except in the modules `SQLITE_ONLY` names, with the reason.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path

import pytest

from tests.helpers.databases import DatabaseKind, ServerDatabase
from tests.helpers.server import ServerOptions, ServerProcess

ServerFactory = Callable[..., Awaitable[ServerProcess]]

_FAILED = pytest.StashKey[bool]()


# Under CI=true a test never skips: a missing peer, tool or model is a failure there.
_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Under CI=true, turn a skip (a test's, or a whole module's `importorskip` at collection)
    into a failure that carries the skip's reason."""
    if _CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must not happen: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _fail_skip(report)
    return report


# Tests marked `heavy` hold this lock for their whole run (setup to teardown), so at most one
# runs at a time across the xdist workers; the other workers go on with the rest meanwhile.
# They are the tests whose result depends on audio arriving frame by frame or on a burst of
# calls being answered in time (speech recognised on a live call, audio levels through a
# mixer, SIPp at hundreds of calls): two of them together on these 2 cores starved each
# other of CPU and failed (a whisper transcript garbled by late frames, SIPp timeouts).
_HEAVY_LOCK = Path(os.environ.get("TMPDIR", "/tmp")) / (
    f"centralita-heavy-{os.environ.get('PYTEST_XDIST_TESTRUNUID', os.getpid())}.lock")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[
        None, object, object]:
    if item.get_closest_marker("heavy") is None or "PYTEST_XDIST_WORKER" not in os.environ:
        return (yield)
    with _HEAVY_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return (yield)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _fail_skip(report)
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


# Modules (or folders, ending in "/") whose servers keep their cases on SQLite only, and why:
# what they test is not what the server stores (cases, routing state, recordings, messages),
# or they pick the database themselves. Every other module that starts whole servers runs on
# both databases.
SQLITE_ONLY: dict[str, str] = {
    "tests/abuse/test_sipp_scanner.py": "SIP flood filtering, before any call is stored",
    "tests/abuse/test_tls.py": "the SIP TLS listener and certificate reload",
    "tests/assist/test_assist_desk.py": "speech matched to knowledge-base files",
    "tests/assist/test_call_hints.py": "speech recognition hints",
    "tests/assist/test_hints_call.py": "speech recognition hints",
    "tests/e2e/test_desk_conference.py": "the conference mixer's audio",
    "tests/e2e/test_desk_rejoin.py": "a WebRTC leg re-joining an in-memory bridge",
    # The same case writes run on both in test_ivr_calls and test_transcribed_calls.
    "tests/e2e/test_ivr_speech_gather.py": "speech recognition",
    "tests/e2e/test_pjsua_server.py": "SIP and RTP interop with the demo handler",
    "tests/e2e/test_supervisor_monitor.py": "listen, whisper and barge audio",
    "tests/mixer/test_monitor_calls.py": "listen, whisper and barge audio",
    "tests/ops/test_metrics.py": "/metrics counters, kept in memory",
    "tests/sip/test_registrar.py": "SIP registration, users from the config file",
    "tests/sipp/": "SIP transport, dialogs, load and media through SIPp",
    "tests/supervisor/test_sentiment_live.py": "speech scored live on the wallboard",
    "tests/transcription/test_passage_call.py": "transcription accuracy",
    "tests/twilio_voice/test_refusals.py": "bad Media Streams frames and sockets, refused",
    "tests/web/test_hardening_debug.py": "the in-memory debug API's masking",
    "tests/web/test_login_throttle.py": "the login throttle, kept in memory",
    "tests/web/test_server_process.py": "the auth CLI reads the server's data directory",
    # These choose their database themselves.
    "tests/gdpr/test_gdpr_e2e.py": "parametrized by its own db_url (tests/helpers/databases)",
    "tests/review/test_review_page.py": "parametrized by cases_config (test_transcribed_calls)",
    "tests/cluster/test_desk_across_nodes.py": "nodes share one PostgreSQL database",
    "tests/cluster/test_node_killed.py": "nodes share one PostgreSQL database",
    "tests/cluster/test_restart_presence.py": "nodes share one PostgreSQL database",
    "tests/cluster/test_takeover.py": "nodes share one PostgreSQL database",
    "tests/cluster/test_wallboard_nodes.py": "nodes share one PostgreSQL database",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that starts whole servers (`server_database`, through `server_factory`)
    runs on SQLite and on PostgreSQL, unless its module is in `SQLITE_ONLY`."""
    if "server_database" not in metafunc.fixturenames:
        return
    module = metafunc.definition.path.relative_to(metafunc.config.rootpath).as_posix()
    if any(module == key or (key.endswith("/") and module.startswith(key)) for key in SQLITE_ONLY):
        return
    kinds: list[DatabaseKind] = ["sqlite", "postgresql"]
    metafunc.parametrize("server_database", kinds, indirect=True)


@pytest.fixture
def server_database(request: pytest.FixtureRequest) -> Iterator[ServerDatabase]:
    """Where this test's servers keep their cases, routing state, recordings index and
    messages: each its own SQLite file (`sqlite`), or each a fresh PostgreSQL database
    (`postgresql`), dropped when the test ends. `SQLITE_ONLY` lists the modules that run on
    SQLite alone, with the reason; a test that starts `ServerProcess` itself asks for this
    fixture and adds `server_database.config()` to the server's config."""
    database = ServerDatabase(getattr(request, "param", "sqlite"))
    try:
        yield database
    finally:
        database.drop_all()


@pytest.fixture
async def server_factory(
    tmp_path: Path, request: pytest.FixtureRequest, server_database: ServerDatabase
) -> AsyncIterator[ServerFactory]:
    """`await server_factory(ServerOptions(...))` starts a server; all are stopped at teardown.

    Each server's cases go where `server_database` says, unless its options set `cases_url`.
    """
    started: list[ServerProcess] = []

    async def start(options: ServerOptions | None = None) -> ServerProcess:
        workdir = tmp_path / f"server-{len(started) + 1}"
        workdir.mkdir()
        options = options or ServerOptions()
        if "cases_url" not in options.config:
            options = dataclasses.replace(
                options, config={**options.config, **server_database.config()}
            )
        server = ServerProcess(workdir, options)
        started.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            await server.stop()
        if request.node.stash.get(_FAILED, False):
            for server in started:
                print(
                    f"--- {server.stderr_path} (tail) ---\n{server.stderr_tail()}", file=sys.stderr
                )


@pytest.fixture
async def centralita_server(server_factory: ServerFactory) -> ServerProcess:
    """A server with default options (debug API on, TLS with a throwaway certificate)."""
    return await server_factory()
