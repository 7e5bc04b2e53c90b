"""Languages in flows: the flow's language and a `language` step that switches it choose the
espeak-ng voice of `say`, show as `${language}` for `branch`, and reach routing as a
`lang:<code>` skill; a bad code is a `file:line:column` problem."""

from __future__ import annotations

import pathlib
import textwrap
from typing import Any

import numpy as np

from ivr.interpreter import Interpreter
from ivr.language import detected
from ivr.media.tts import EspeakTts
from ivr.services import Services
from ivr.validator import parse_flow
from ivr.verbs.base import Problems
from media.clock import FakeClock
from media.frames import Pcm
from tests.ivr.fakes_flow import FakeRouter, ListSink, make_call

FLOW = """\
name: es
default: true
language: es
steps:
  - say: "Hola"
  - branch:
      when:
        - {var: language, equals: es, goto: spanish}
      else: done
  - label: spanish
    queue: {name: ventas}
  - language: en
  - say: "Goodbye"
  - label: done
    queue: {name: sales, skills: [vip]}
"""


class RecordingTts(EspeakTts):
    """Records the voice of each synthesis instead of running espeak-ng."""

    def __init__(self, tmp: pathlib.Path) -> None:
        super().__init__(tmp)
        self.voices: list[str] = []

    async def synthesize(self, text: str, **kw: Any) -> Pcm:
        self.voices.append(kw["voice"])
        return np.zeros(160, np.int16)


def parse(text: str) -> tuple[Any, list[str]]:
    problems = Problems()
    doc = parse_flow(text.encode(), pathlib.Path("/tmp/f.yaml"), problems, file="f.yaml")
    return doc, problems.lines()


async def test_flow_language_picks_voice_branch_and_routing(tmp_path: pathlib.Path) -> None:
    doc, problems = parse(FLOW)
    assert problems == [] and doc is not None and doc.language == "es"
    tts, router = RecordingTts(tmp_path), FakeRouter(result="timeout")
    interpreter = Interpreter(None, Services(router=router, inputs=ListSink(), tts=tts),
                              clock=FakeClock())
    call = make_call()
    run = await interpreter.run(call, doc)
    assert tts.voices == ["es", "en-us"]
    assert [r.skills for r in router.requests] == [("lang:es",), ("vip", "lang:en")]
    assert run.session is not None and run.session.vars["language"] == "en"
    assert call.language == "en"


async def test_a_flow_without_language_asks_routing_for_none(tmp_path: pathlib.Path) -> None:
    doc, _ = parse(FLOW.replace("language: es\n", "", 1))
    router = FakeRouter(result="timeout")
    run = await Interpreter(None, Services(router=router, tts=RecordingTts(tmp_path)),
                            clock=FakeClock()).run(make_call(), doc)
    assert router.requests[0].skills == ("vip",)  # went to `done`: ${language} is en
    assert run.session is not None and run.session.vars["language"] == "en"


async def test_auto_takes_the_first_detected_language_only() -> None:
    doc, _ = parse(FLOW.replace("language: es\n", "language: auto\n", 1))
    assert doc is not None and doc.language == "auto"

    class S:
        call = make_call()
        vars: dict[str, Any] = {}

    assert detected(S, None) is False
    S.call.language = "auto"
    assert detected(S, "es") is True and S.call.language == "es" and S.vars["language"] == "es"
    assert detected(S, "en") is False and S.call.language == "es"


def test_bad_language_codes_are_problems_with_their_place() -> None:
    bad = textwrap.dedent("""\
        name: x
        default: true
        language: spanish
        steps:
          - language: fr
          - hangup
        """)
    doc, problems = parse(bad)
    assert doc is None
    assert problems == ["f.yaml:3:11: language: must be one of en, es, auto, got 'spanish'"]
    doc, problems = parse(bad.replace("language: spanish", "language: auto"))
    assert doc is None
    assert any(p.startswith("f.yaml:5:") and "'fr'" in p for p in problems), problems
