"""Fixtures shared by every suite: a real `centralita serve` on free loopback ports.

The process management lives in `tests/helpers/server.py`; these fixtures only tie it to a
test's lifetime. Server logs are kept in the test's tmp dir (`server.stderr.log`); when a test
fails, the tail of each of its servers' stderr is printed at teardown, so a CI report carries it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

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
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    report: pytest.CollectReport = yield
    _fail_skip(report)
    return report  # type: ignore[return-value]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    _fail_skip(report)
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report  # type: ignore[return-value]


@pytest.fixture
async def server_factory(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ServerFactory]:
    """`await server_factory(ServerOptions(...))` starts a server; all are stopped at teardown."""
    started: list[ServerProcess] = []

    async def start(options: ServerOptions | None = None) -> ServerProcess:
        workdir = tmp_path / f"server-{len(started) + 1}"
        workdir.mkdir()
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
                print(f"--- {server.stderr_path} (tail) ---\n{server.stderr_tail()}",
                      file=sys.stderr)


@pytest.fixture
async def centralita_server(server_factory: ServerFactory) -> ServerProcess:
    """A server with default options (debug API on, TLS with a throwaway certificate)."""
    return await server_factory()
