"""Fixtures for the SIPp suite: the server as SIPp sees it, a SIPp runner, test audio."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

from tests.conftest import ServerFactory
from tests.helpers.server import ServerOptions, ServerProcess
from tests.helpers.sipp import SCENARIO_DIR, SippResult, run_sipp, scenario

USERS: dict[str, str] = {"alice": "secret", "bob": "hunter2"}
# SIPp answers only the first challenge and only with MD5, like many desk phones: the
# registrar's algorithms setting exists for exactly such sites.
REGISTRAR: dict[str, object] = {
    "realm": "centralita.test", "users": USERS, "algorithms": ["MD5"],
}


def sipp_server_options(**overrides: object) -> ServerOptions:
    """Options used by this suite: debug API, a registrar with known users."""
    options = ServerOptions(config={"registrar": REGISTRAR})
    for key, value in overrides.items():
        setattr(options, key, value)
    return options


@pytest.fixture
async def server(server_factory: ServerFactory) -> ServerProcess:
    return await server_factory(sipp_server_options())


@dataclass
class Sipp:
    """Runs SIPp into the test's tmp dir; `target` defaults to the server's SIP address."""

    workdir: Path

    async def run(
        self,
        args: list[str],
        *,
        target: str | None,
        scenario_name: str | None = None,
        scenario_file: Path | None = None,
        builtin: str | None = None,
        kill_after: float = 60.0,
    ) -> SippResult:
        if scenario_name is not None:
            scenario_file = scenario(scenario_name)
        return await run_sipp(
            args, target=target, workdir=self.workdir, scenario_file=scenario_file,
            builtin=builtin, kill_after=kill_after,
        )

    def render(self, template_name: str, **values: str) -> Path:
        """Fill a `scenarios/<name>.xml.in` template into the tmp dir and return its path."""
        source = SCENARIO_DIR / f"{template_name}.xml.in"
        text = Template(source.read_text(encoding="utf-8")).substitute(values)
        out = self.workdir / f"{template_name}.xml"
        out.write_text(text, encoding="utf-8")
        return out


@pytest.fixture
def sipp(tmp_path: Path) -> Sipp:
    return Sipp(tmp_path)


@dataclass(frozen=True)
class SpeechAudio:
    """The caller's speech in the forms the audio test needs."""

    ulaw_wav: Path  # 8 kHz mu-law WAV (what a carrier would carry)
    ulaw_raw: Path  # the same bytes without the RIFF header: SIPp's rtp_stream sends files
    #                 verbatim, header included, so it is given the raw payload
    reference_wav: Path  # the mu-law decoded back to 16-bit linear by sox: the expected audio
    seconds: float


@pytest.fixture(scope="session")
def speech_audio(tmp_path_factory: pytest.TempPathFactory) -> SpeechAudio:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    directory = tmp_path_factory.mktemp("speech")
    source = directory / "speech.wav"
    ulaw_wav = directory / "speech-ulaw.wav"
    ulaw_raw = directory / "speech.ulaw"
    reference = directory / "speech-reference.wav"
    text = "Hello, I would like to check the status of my order number four two seven."
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(source), text], check=True, timeout=60)
    subprocess.run(
        ["sox", str(source), "-r", "8000", "-c", "1", "-e", "mu-law", str(ulaw_wav)],
        check=True, timeout=60,
    )
    subprocess.run(
        ["sox", str(ulaw_wav), "-t", "raw", "-e", "mu-law", "-b", "8", str(ulaw_raw)],
        check=True, timeout=60,
    )
    subprocess.run(
        ["sox", str(ulaw_wav), "-e", "signed-integer", "-b", "16", str(reference)],
        check=True, timeout=60,
    )
    seconds = ulaw_raw.stat().st_size / 8000
    return SpeechAudio(ulaw_wav, ulaw_raw, reference, seconds)
