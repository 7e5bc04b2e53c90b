"""`hours`: route by business hours, holidays and time zone, on the injected wall clock.

    - hours:
        timezone: Europe/Madrid
        weekly:
          mon: "09:00-18:00"
          fri: ["09:00-14:00", "15:00-17:00"]
          sat: closed            # or simply leave the day out
        holidays: ["2025-12-25", "2026-01-01"]
        open: agents             # label; absent: go on with the next step
        closed: after_hours      # label (required)
        holiday: holiday_message # label; absent: `closed`

Ranges are half-open local times `HH:MM-HH:MM` (`24:00` ends a day); the calendar date and
weekday are those of the time zone, so a holiday is a holiday in the office's own midnight.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import TYPE_CHECKING, Any

from ivr.verbs.base import IvrSession, Problems, Step, check_label, register
from ivr.verbs.goto import LABEL

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_range(text: str) -> tuple[int, int] | None:
    """`"09:00-17:30"` as minutes since midnight (540, 1050); None if malformed or empty."""
    match = _RANGE.match(text.strip())
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        return None
    start, end = h1 * 60 + m1, h2 * 60 + m2
    return (start, end) if start < end else None


def _ranges(value: Any) -> list[str]:
    if isinstance(value, str):
        return [] if value == "closed" else [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def status(params: dict[str, Any], now_utc: dt.datetime) -> str:
    """"open", "closed" or "holiday" at `now_utc` for a checked `hours` step's params."""
    local = now_utc.astimezone(zoneinfo.ZoneInfo(params["timezone"]))
    if local.date().isoformat() in set(params.get("holidays", [])):
        return "holiday"
    day = WEEKDAYS[local.weekday()]
    minute = local.hour * 60 + local.minute
    for text in _ranges(params.get("weekly", {}).get(day, [])):
        bounds = parse_range(text)
        if bounds and bounds[0] <= minute < bounds[1]:
            return "open"
    return "closed"


class HoursVerb:
    """Business-hours routing."""

    name = "hours"
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["timezone", "weekly", "closed"],
        "additionalProperties": False,
        "properties": {
            "timezone": {"type": "string", "minLength": 1},
            "weekly": {
                "type": "object",
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    ]
                },
            },
            "holidays": {"type": "array", "items": {"type": "string"}},
            "open": LABEL,
            "closed": LABEL,
            "holiday": LABEL,
        },
    }

    def falls_through(self, step: Step) -> bool:
        return "open" not in step.params

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        tz = step.params.get("timezone")
        if isinstance(tz, str):
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                problems.add(step.at("timezone"), f"hours: unknown time zone '{tz}'")
        weekly = step.params.get("weekly")
        for day, value in (weekly.items() if isinstance(weekly, dict) else ()):
            if day not in WEEKDAYS:
                problems.add(step.at(f"weekly.{day}"),
                             f"hours: unknown weekday '{day}' (use {', '.join(WEEKDAYS)})")
                continue
            items = [value] if isinstance(value, str) else value
            for index, text in enumerate(items if isinstance(items, list) else []):
                if text == "closed" and isinstance(value, str):
                    continue
                if isinstance(text, str) and parse_range(text) is None:
                    where = f"weekly.{day}" if isinstance(value, str) else f"weekly.{day}[{index}]"
                    problems.add(step.at(where), f"hours: bad time range '{text}' "
                                 "(want HH:MM-HH:MM, start before end)")
        for index, text in enumerate(step.params.get("holidays", [])):
            if not isinstance(text, str):
                continue
            try:
                dt.date.fromisoformat(text)
                ok = len(text) == 10
            except ValueError:
                ok = False
            if not ok:
                problems.add(step.at(f"holidays[{index}]"),
                             f"hours: bad holiday date '{text}' (want YYYY-MM-DD)")
        for param in ("open", "closed", "holiday"):
            check_label(step, param, flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        state = status(step.params, session.services.wall_clock.wall_now())
        await session.record_input("hours", state, step=step)
        if state == "holiday":
            target = step.params.get("holiday", step.params["closed"])
        else:
            target = step.params.get(state)
        return str(target) if target is not None else None


VERB = register(HoursVerb())
