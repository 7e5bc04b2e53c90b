"""The outbound dial plan: the one check every call this server places goes through.

Toll fraud is the first attack on any contact center: make the server call a premium-rate or
far-away number through the operator's trunk, and the operator pays. So nothing is sent to
the trunk unless `DialPlan` says so, and it says so only for numbers it can read and that
the operator allowed:

    target ──▶ sip:/sips: URI ── at the trunk's host:port ──▶ its user part is a number ──┐
                  │ anywhere else: an operator's URI (flow, agent, admin): dialed as is   │
                  ▼                                                                      ▼
               number ──▶ read in `region` (phonenumbers) ──▶ valid? ──▶ deny list? ──▶ type
               allowed (`types`)? ──▶ a country in `countries`, or on the allow list? ──▶
               dialed as `sip:<E.164>@<trunk>` (what was checked is exactly what is sent)

Defaults (`DialPlanConfig()`): national fixed, mobile and toll-free numbers of the default
region; premium-rate, shared-cost, UAN, personal, VoIP, pager and voicemail-access ranges,
short codes and every other country are refused. `allow` entries open more (an E.164 prefix
such as "+4420", or a regular expression matched against the whole E.164 number); `deny`
entries close some (checked first); `types` and `countries` replace the defaults.

SIP URIs. A `sip:` target that is not the trunk costs nothing on the trunk and reaches only
what the URI names: when the operator wrote it (a flow's `transfer: sip:desk@pbx`, an
agent's contact, the admin's debug dial) it is dialed as written. A caller never supplies
one: callbacks take phone numbers only (`callback_refusal`), so a caller cannot make the
server call an address of their choosing. A flow that builds a `transfer` target out of
caller input gets it checked as a number here, as long as it is a number; do not build
`sip:` targets from caller input.

Trust. A `Call` knows whether it came through a configured trunk or from a phone with a live
authenticated registration (`voice.trust`). Only such a call may have the server call a
number for it: a callback to its own number or one it entered, a transfer through the
trunk. An INVITE from anywhere else reaches the IVR and queues but never makes the server
dial out through the trunk.

Reasons in `DialRefused` never hold the number (STYLE.md §12): they go to logs and onto the
case as the step's outcome.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from voice.call import Call
from voice.sip.errors import SipParseError
from voice.sip.headers import SipUri

# The number types a default plan dials: what a customer answers on, and free numbers.
DEFAULT_TYPES = frozenset({"fixed_line", "mobile", "fixed_line_or_mobile", "toll_free"})
# Every type phonenumbers knows, by the name the config uses.
NUMBER_TYPES: Mapping[str, int] = {
    name.lower(): value for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}
_TYPE_LABELS: Mapping[int, str] = {v: k.replace("_", "-") for k, v in NUMBER_TYPES.items()}
# What a number may be written with: digits, one leading +, and the usual separators. Letters
# (phonenumbers reads vanity numbers and "ext."), ';', '#', '*' and ',' are refused outright.
_NUMBER_TEXT = re.compile(r"\+?[0-9][0-9 ().\-]{0,39}")
_PREFIX = re.compile(r"\+[0-9]{1,15}")
DEFAULT_PORT = 5060
DEFAULT_TLS_PORT = 5061  # a sips: or ;transport=tls URI without a port


class DialRefused(Exception):
    """The dial plan refuses a target; `reason` says why, never what the number was."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DialPlanConfigError(ValueError):
    """A `dialplan:` / `default_region` setting is wrong; the message says which and where."""


@dataclass(frozen=True)
class NumberPattern:
    """One `allow`/`deny` entry: an E.164 prefix ("+3480") or a regex on the E.164 form."""

    text: str
    regex: re.Pattern[str] | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, text: str, where: str) -> NumberPattern:
        if _PREFIX.fullmatch(text):
            return cls(text)
        try:
            return cls(text, re.compile(text))
        except re.error as exc:
            raise DialPlanConfigError(
                f"{where}: {text!r} is neither an E.164 prefix (+ and digits) nor a regular "
                f"expression ({exc})") from exc

    def matches(self, e164: str) -> bool:
        if self.regex is None:
            return e164.startswith(self.text)
        return self.regex.fullmatch(e164) is not None


@dataclass(frozen=True)
class DialPlanConfig:
    """The `dialplan:` section. `countries` None means the default region's alone."""

    countries: frozenset[str] | None = None
    types: frozenset[str] = DEFAULT_TYPES
    allow: tuple[NumberPattern, ...] = ()
    deny: tuple[NumberPattern, ...] = ()


def parse_region(value: Any, where: str) -> str:
    """An ISO 3166 country code phonenumbers knows ("ES"), upper-cased."""
    if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise DialPlanConfigError(
            f"{where}: must be a two-letter country code (ISO 3166) such as ES, got {value!r}")
    return value.upper()


def parse_dialplan(value: Any, where: str) -> DialPlanConfig:
    """The `dialplan:` mapping: `countries`, `types`, `allow`, `deny` (all optional)."""
    if not isinstance(value, dict):
        raise DialPlanConfigError(f"{where} must be a mapping (countries, types, allow, deny)")
    unknown = set(value) - {"countries", "types", "allow", "deny"}
    if unknown:
        raise DialPlanConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    countries = None
    if "countries" in value:
        countries = frozenset(parse_region(c, f"{where}.countries[{i}]")
                              for i, c in enumerate(_list(value["countries"], f"{where}.countries")))
    types = DEFAULT_TYPES
    if "types" in value:
        names = _list(value["types"], f"{where}.types")
        for i, name in enumerate(names):
            if name not in NUMBER_TYPES:
                raise DialPlanConfigError(
                    f"{where}.types[{i}]: {name!r} is not a number type; one of "
                    f"{', '.join(sorted(NUMBER_TYPES))}")
        types = frozenset(names)
    return DialPlanConfig(
        countries=countries, types=types,
        allow=_patterns(value.get("allow", []), f"{where}.allow"),
        deny=_patterns(value.get("deny", []), f"{where}.deny"),
    )


def _list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DialPlanConfigError(f"{where} must be a list of text")
    return value


def _patterns(value: Any, where: str) -> tuple[NumberPattern, ...]:
    return tuple(NumberPattern.parse(text, f"{where}[{i}]")
                 for i, text in enumerate(_list(value, where)))


class DialPlan:
    """Decides what may be dialed, and turns it into the URI that is dialed.

    `region`: how a number without + is read (and the default plan's only country).
    `trunk`: `host:port` where numbers are sent; None and no number can be dialed.
    `trunk_params`: URI parameters after it (`;transport=tls`, `voice.trunk.TrunkConfig`).
    """

    def __init__(self, config: DialPlanConfig | None = None, *, region: str = "ES",
                 trunk: str | None = None, trunk_params: str = "") -> None:
        self.config = config or DialPlanConfig()
        self.region = parse_region(region, "default_region")
        self.countries = self.config.countries if self.config.countries is not None \
            else frozenset({self.region})
        self._types = frozenset(NUMBER_TYPES[name] for name in self.config.types)
        self.trunk = trunk
        self.trunk_params = trunk_params
        self._trunk_key = _host_port(trunk) if trunk is not None else None

    # -- numbers --------------------------------------------------------------------------------
    def check_number(self, text: str) -> str:
        """The number in E.164 form if the plan allows it; `DialRefused` saying why not."""
        if not _NUMBER_TEXT.fullmatch(text):
            raise DialRefused("not a phone number")
        try:
            parsed = phonenumbers.parse(text, self.region)
        except NumberParseException as exc:
            raise DialRefused("not a phone number") from exc
        if not phonenumbers.is_valid_number(parsed):
            raise DialRefused(f"not a valid number (one without + is read as {self.region})")
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if any(p.matches(e164) for p in self.config.deny):
            raise DialRefused("the number is on the dial plan's deny list")
        kind = phonenumbers.number_type(parsed)
        if kind not in self._types:
            raise DialRefused(f"{_TYPE_LABELS.get(kind, 'unknown')} numbers are not in the "
                              "dial plan")
        country = phonenumbers.region_code_for_number(parsed)
        if country not in self.countries and not any(p.matches(e164) for p in self.config.allow):
            raise DialRefused(f"numbers of another country ({country or 'international'}) "
                              "are not in the dial plan")
        return e164

    def refusal(self, text: str) -> str | None:
        """Why `check_number(text)` refuses it, or None when it is allowed."""
        try:
            self.check_number(text)
        except DialRefused as exc:
            return exc.reason
        return None

    # -- targets --------------------------------------------------------------------------------
    def route(self, target: str, *, call: Call | None = None) -> str:
        """The URI to dial for `target` (a number or a SIP URI), placed on behalf of `call`
        (None: the operator's own doing, e.g. the admin's debug dial). `DialRefused` if
        the plan refuses it, the trunk is missing or `call` may not reach the trunk."""
        if target.startswith(("sip:", "sips:")):
            try:
                uri = SipUri.parse(target)
            except SipParseError as exc:
                raise DialRefused(f"not a valid SIP URI ({exc.reason})") from exc
            tls = uri.scheme == "sips" or (uri.params.get("transport") or "").lower() == "tls"
            port = uri.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
            if self._trunk_key is None or (uri.host.strip("[]").lower(), port) != self._trunk_key:
                return target  # not the trunk: the operator's own URI
            number = uri.user or ""
        else:
            number = target
        if self.trunk is None:
            raise DialRefused("dialing a number needs a SIP trunk; none is configured")
        if call is not None and not call.trusted:
            raise DialRefused(UNTRUSTED)
        return f"sip:{self.check_number(number)}@{self.trunk}{self.trunk_params}"

    def customer_uri(self, number: str) -> str:
        """Where a callback's customer is called: numbers only, through the trunk."""
        if number.startswith(("sip:", "sips:", "tel:")):
            raise DialRefused(NOT_A_NUMBER_URI)
        return self.route(number)

    # -- callbacks (routing.callbacks.CallbackGate) ---------------------------------------------
    def callback_refusal(self, call: Call | None, number: str | None) -> str | None:
        """Why the server may not call back `number` for `call`, or None if it may.

        `number` None asks whether `call` may ask for a callback at all; `call` None checks
        a stored callback's number alone (its call is long gone)."""
        if call is not None and not call.trusted:
            return UNTRUSTED
        if number is None:
            return None
        if number.startswith(("sip:", "sips:", "tel:")):
            return NOT_A_NUMBER_URI
        return self.refusal(number)


UNTRUSTED = ("the call did not come through a trusted trunk or a registered phone, so the "
             "server places no call for it")
NOT_A_NUMBER_URI = "a callback goes to a phone number, not a URI"


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return text.strip("[]").lower(), DEFAULT_PORT
    return host.strip("[]").lower(), int(port)
