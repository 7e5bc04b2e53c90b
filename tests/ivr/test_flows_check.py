"""Flow validation: each broken fixture gives exactly its expected problems; good ones pass."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from ivr.cli import main as flows_main
from ivr.schema import SCHEMA_PATH, render
from ivr.validator import check_paths
from ivr.verbs.all import load_all

HERE = pathlib.Path(__file__).parent
B = "fixtures/broken"

EXPECTED: dict[str, list[str]] = {
    "say_bad_params": [
        f"{B}/say_bad_params.yaml:4:17: say: text: must not be empty",
        f"{B}/say_bad_params.yaml:4:27: say: rate: expected an integer, got a string"],
    "gather_bad_params": [
        f"{B}/gather_bad_params.yaml:4:21: gather: input: must be one of dtmf, speech, both, "
        "got 'telepathy'"],
    "gather_semantics": [
        f"{B}/gather_semantics.yaml:4:26: gather: min_digits is more than max_digits",
        f"{B}/gather_semantics.yaml:4:53: gather: bad regex: missing ), unterminated "
        "subpattern at position 0",
        f"{B}/gather_semantics.yaml:4:75: gather: on_timeout: no step has label 'nowhere'"],
    "menu_bad_choices": [
        f"{B}/menu_bad_choices.yaml:8:20: menu: choices[1]: digits '1' used twice",
        f"{B}/menu_bad_choices.yaml:8:31: menu: choices[1].goto: no step has label 'support'",
        f"{B}/menu_bad_choices.yaml:10:19: menu: on_failure: no step has label 'nowhere'"],
    "voicemail_bad_params": [
        f"{B}/voicemail_bad_params.yaml:4:30: voicemail: max_seconds: must be more than 0, "
        "got 0",
        f"{B}/voicemail_bad_params.yaml:4:50: voicemail: silence_seconds: expected a number, "
        "got a string",
        f"{B}/voicemail_bad_params.yaml:4:62: voicemail: beep: expected true or false, "
        "got a string"],
    "unknown_verb": [f"{B}/unknown_verb.yaml:4:5: unknown verb 'sett' (did you mean 'set'?)"],
    "goto_missing_label": [
        f"{B}/goto_missing_label.yaml:4:11: goto: label: no step has label 'main_menu'"],
    "unreachable": [
        f"{B}/unreachable.yaml:6:5: unreachable step: no step jumps here and the step "
        "before (hangup) never continues"],
    "duplicate_label": [f"{B}/duplicate_label.yaml:6:12: duplicate label 'start' (first at line 5)"],
    "hours_bad_range": [
        f"{B}/hours_bad_range.yaml:8:30: hours: bad time range '18:00-09:00' "
        "(want HH:MM-HH:MM, start before end)",
        f"{B}/hours_bad_range.yaml:9:14: hours: bad time range '25:00-26:00' "
        "(want HH:MM-HH:MM, start before end)"],
    "hours_unknown_weekday": [
        f"{B}/hours_unknown_weekday.yaml:7:17: hours: unknown weekday 'monday' "
        "(use mon, tue, wed, thu, fri, sat, sun)"],
    "hours_unknown_timezone": [
        f"{B}/hours_unknown_timezone.yaml:5:17: hours: unknown time zone 'Europe/Madird'"],
    "hours_bad_holiday": [
        f"{B}/hours_bad_holiday.yaml:7:32: hours: bad holiday date '2025-02-30' (want YYYY-MM-DD)",
        f"{B}/hours_bad_holiday.yaml:7:44: hours: bad holiday date '25/12/2025' (want YYYY-MM-DD)"],
    "branch_bad_regex": [
        f"{B}/branch_bad_regex.yaml:6:35: branch: bad regex '([0-9]{{6}}': "
        "missing ), unterminated subpattern at position 0"],
    "branch_two_tests": [
        f"{B}/branch_two_tests.yaml:6:11: branch: each condition needs exactly one of "
        "equals, in, matches, exists",
        f"{B}/branch_two_tests.yaml:7:13: branch: else: no step has label 'missing'"],
    "set_bad_name": [
        f"{B}/set_bad_name.yaml:6:7: set: name '2fast': '2fast' is not a variable name "
        "(letters, digits, _)",
        f"{B}/set_bad_name.yaml:7:19: set: list_value: expected a string, a number, "
        "true or false or nothing, got a list"],
    "http_bad_params": [
        f"{B}/http_bad_params.yaml:5:12: http: url: 'ftp://crm.example/lookup' is not an "
        "http:// or https:// URL",
        f"{B}/http_bad_params.yaml:6:15: http: method: must be one of GET, POST, got 'PUT'",
        f"{B}/http_bad_params.yaml:7:16: http: timeout: expected a number, got a string"],
    "http_body_on_get": [f"{B}/http_body_on_get.yaml:6:13: http: body needs method: POST"],
    "queue_missing_name": [
        f"{B}/queue_missing_name.yaml:4:12: queue: missing required parameter 'name'"],
    "callback_unknown_param": [
        f"{B}/callback_unknown_param.yaml:4:32: callback: unknown parameter 'nmber'"],
    "transfer_bad_target": [
        f"{B}/transfer_bad_target.yaml:4:20: transfer: 'desk phone' is neither a sip: URI "
        "nor a phone number",
        f"{B}/transfer_bad_target.yaml:4:61: transfer: on_no_answer: no step has label "
        "'voicemail'"],
    "hangup_bad_param": [f"{B}/hangup_bad_param.yaml:4:13: hangup: expected a mapping, got a list"],
    "document_shape": [
        f"{B}/document_shape.yaml:1:1: missing required key 'steps'",
        f"{B}/document_shape.yaml:1:7: name: must not be empty",
        f"{B}/document_shape.yaml:2:10: numbers: expected a list, got a mapping",
        f"{B}/document_shape.yaml:3:1: unknown key 'stepz'"],
    "yaml_syntax": [
        f"{B}/yaml_syntax.yaml:6:1: YAML syntax error: expected ',' or '}}', "
        "but got '<stream end>'"],
    "step_shape": [
        f"{B}/step_shape.yaml:4:5: a step is a mapping like '- say: {{...}}', got an integer",
        f"{B}/step_shape.yaml:5:5: step has no verb",
        f"{B}/step_shape.yaml:7:5: step has more than one verb: set, goto (one verb per step)"],
    "no_number": [f"{B}/no_number.yaml:1:1: flow serves no number: add numbers: or default: true"],
    # A media verb's own check(): the prompt file must exist next to the flow.
    "play_missing_file": [
        f"{B}/play_missing_file.yaml:4:18: play: prompt file 'prompts/nowhere.wav' not found"],
}


@pytest.fixture(autouse=True)
def _in_tests_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    # Messages carry the path as given: run from here so they read "fixtures/broken/x.yaml".
    monkeypatch.chdir(HERE)


def test_every_broken_fixture_is_in_the_table() -> None:
    on_disk = {p.stem for p in (HERE / B).glob("*.yaml")}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_fixture_reports_exactly(name: str) -> None:
    flows, problems = check_paths([pathlib.Path(f"{B}/{name}.yaml")])
    assert problems.lines() == EXPECTED[name]
    assert flows == []


def test_broken_fixtures_cover_every_control_verb() -> None:
    text = "\n".join(p.read_text() for p in (HERE / B).glob("*.yaml"))
    for verb in ("set", "branch", "goto", "hours", "http", "hangup", "queue", "callback",
                 "transfer", "play"):
        assert f"{verb}:" in text or f"- {verb}\n" in text, verb


def test_good_fixtures_pass() -> None:
    flows, problems = check_paths([pathlib.Path("fixtures/good")])
    assert problems.lines() == []
    assert sorted(f.name for f in flows) == ["everything else", "main"]
    main = next(f for f in flows if f.name == "main")
    assert main.numbers == ("100", "5550100")  # an unquoted number is still a dialed string
    assert main.labels["closed"] == len(main.steps) - 1


def test_duplicate_numbers_and_defaults_across_flows() -> None:
    _, problems = check_paths([pathlib.Path("fixtures/dup_numbers")])
    assert problems.lines() == [
        "fixtures/dup_numbers/b.yaml:1:1: second default flow: 'a' "
        "(fixtures/dup_numbers/a.yaml) is already the default",
        "fixtures/dup_numbers/b.yaml:2:18: number '301' is already served by flow 'a' "
        "(fixtures/dup_numbers/a.yaml:2:18)",
    ]


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert flows_main(["check", "fixtures/good"]) == 0
    assert capsys.readouterr().out == ""
    assert flows_main(["check", "fixtures/good", f"{B}/unknown_verb.yaml"]) == 1
    assert capsys.readouterr().out.splitlines() == EXPECTED["unknown_verb"]
    assert flows_main(["check", "fixtures/nothing_here.yaml"]) == 1
    assert capsys.readouterr().out == "fixtures/nothing_here.yaml:1:1: no such file or directory\n"


def test_cli_as_a_process_exits_non_zero_on_a_directory_of_broken_flows() -> None:
    done = subprocess.run([sys.executable, "-m", "ivr.cli", "check", B],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert sorted(done.stdout.splitlines()) == sorted(line for v in EXPECTED.values() for line in v)


def test_shipped_schema_is_current() -> None:
    # Regenerate with `python -m ivr.schema` after changing a verb's schema.
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(load_all())
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert {"set", "branch", "goto", "hours", "http", "hangup"} <= set(schema["$defs"])


def test_shipped_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(
        json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    )
