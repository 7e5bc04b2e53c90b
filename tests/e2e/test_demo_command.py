"""`centralita demo` as a newcomer uses it: a server with the shipped demo flow and routing
(what scripts/run-server.sh serves), the command in a second process, and ana's desk in
headless Chromium. The command makes ana's login, waits for her to go available, calls through
the menu into the support queue; the desk rings, ana answers and hangs up; the command says so
and exits 0. The demo line is open at every hour, so this passes on a Sunday night too."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import until_agent
from tests.helpers.chromium import CHROMIUM, chromium_context
from tests.helpers.server import REPO_ROOT, ServerOptions
from tests.pjsua.audio import make_speech

pytestmark = pytest.mark.slow

PASSWORD_LINE = re.compile(r"Made the desk login 'ana' with the password (\S+) ")


async def read_until(stream: asyncio.StreamReader, pattern: re.Pattern[str], seen: list[str],
                     within: float) -> re.Match[str]:
    """Read lines of the command's output until one matches; all lines go to `seen`."""
    async def scan() -> re.Match[str]:
        while line := (await stream.readline()).decode():
            seen.append(line)
            if match := pattern.search(line):
                return match
        raise AssertionError(f"no line matching {pattern.pattern!r} in:\n{''.join(seen)}")
    return await asyncio.wait_for(scan(), within)


async def test_demo_call_reaches_the_open_desk(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None or shutil.which("espeak-ng") is None:
        pytest.fail("chromium and espeak-ng are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    server = await server_factory(ServerOptions(extra_args=[
        "--flows", str(REPO_ROOT / "ivr" / "flows"),
        "--routing", str(REPO_ROOT / "routing" / "demo.yaml"), "--transcription", "off"]))
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "centralita", "demo", "--sip", server.sip_target,
        "--http", server.http_base, "--data-dir", str(server.data_dir),
        "--wait", "120", "--duration", "90",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path)
    assert demo.stdout is not None
    seen: list[str] = []
    try:
        password = (await read_until(demo.stdout, PASSWORD_LINE, seen, 60)).group(1)
        await read_until(demo.stdout, re.compile(r"log in as 'ana' and press Available"),
                         seen, 30)
        mic = make_speech(tmp_path / "ana.wav", "Hello, this is Ana. How can I help?")
        async with async_playwright() as p, chromium_context(
                p, tmp_path / "profile", mic, base_url=server.http_base) as context:
            page = await context.new_page()
            reply = await page.request.post("/api/login",
                                            data={"username": "ana", "password": password})
            assert reply.ok, await reply.text()
            await page.goto("/desk")
            await page.wait_for_selector("#idle", state="visible", timeout=20_000)
            await page.click("#state-available")
            await read_until(demo.stdout, re.compile(r"Calling sip:demo@"), seen, 30)
            # Through the menu (2: support, 1: wait) into the queue: the desk rings.
            await page.wait_for_selector("#offer", state="visible", timeout=60_000)
            await page.click("#answer")
            await page.wait_for_selector("#call", state="visible", timeout=20_000)
            await until_agent(server, "ana", "on_call")
            await asyncio.sleep(2.0)
            await page.keyboard.press("x")
            await until_agent(server, "ana", "wrap_up", "available")
            rest = await asyncio.wait_for(demo.stdout.read(), 60)
            seen.append(rest.decode())
        status = await asyncio.wait_for(demo.wait(), 30)
    finally:
        if demo.returncode is None:
            demo.kill()
            await demo.wait()
    output = "".join(seen)
    assert status == 0, output
    assert "ana: the desk rings" in output, output
    assert "ana: answered" in output, output
    assert "Done: ana took the call" in output, output


async def test_demo_without_a_server_says_how_to_start_one(tmp_path: Path) -> None:
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "centralita", "demo", "--http", "http://127.0.0.1:9",
        "--sip", "127.0.0.1:9", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=tmp_path)
    out, err = await asyncio.wait_for(done.communicate(), 60)
    assert done.returncode == 2, (out, err)
    assert b"no server answers at http://127.0.0.1:9" in err
    assert b"bash scripts/run-server.sh" in err


async def test_demo_with_another_data_dir_says_which_file_it_needs(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    server = await server_factory(ServerOptions(extra_args=["--transcription", "off"]))
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "centralita", "demo", "--http", server.http_base,
        "--sip", server.sip_target, "--data-dir", str(tmp_path / "elsewhere"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path)
    out, err = await asyncio.wait_for(done.communicate(), 60)
    assert done.returncode == 2, (out, err)
    assert f"cannot read {tmp_path / 'elsewhere' / 'admin-password'}".encode() in err
