"""Server settings: defaults, a YAML config file, then command-line overrides.

A wrong config file is reported as `ConfigError` naming the file and the key, before anything
starts listening.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from assist.config import AssistConfigError, AssistSettings, parse_assist
from centralita.metrics_config import MetricsConfigError, MetricsSettings, parse_metrics
from centralita.realtime import MediaConfigError, MediaSettings, parse_media
from centralita.routing_store_config import (
    RoutingStoreConfigError,
    RoutingStoreSettings,
    parse_routing_store,
)
from centralita.session_store_config import (
    SessionStoreConfigError,
    SessionStoreSettings,
    parse_session_store,
)
from channels.chat_config import ChatConfigError, ChatSettings, parse_chat_settings
from channels.email_config import EmailConfigError, EmailSettings, parse_email_settings
from channels.twilio_config import TwilioConfig, TwilioConfigError, parse_twilio
from recordings.config import RecordingConfig, RecordingConfigError, parse_recordings
from recordings.postcall_config import PostCallConfig, PostCallConfigError, parse_post_call
from voice.dialplan import DialPlanConfig, DialPlanConfigError, parse_dialplan, parse_region
from voice.sip.abuse import AbuseConfigError, AbuseSettings, parse_abuse
from voice.trunk import TrunkConfig, TrunkConfigError, parse_trunk
from voice.trust import DEMO_TRUSTED_SOURCES, Network, TrustConfigError, parse_sources
from web.auth.roles import ROLE_LABELS
from web.auth.tokens import digest
from web.ratelimit import ApiLimitSettings, RateLimitConfigError, parse_api_limits


class ConfigError(Exception):
    """The config file or a command-line value is wrong; the message says which and where."""


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, what: str) -> HostPort:
        host, sep, port = text.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError(f"{what}: expected HOST:PORT, got {text!r}")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass
class RegistrarSettings:
    realm: str = "centralita"
    users: dict[str, str] = field(default_factory=dict)
    # Most preferred first; phones that read only the first challenge may need ["MD5"].
    algorithms: tuple[str, ...] = ("SHA-256", "MD5")


# A bearer token from a file is at least this long: shorter ones can be guessed.
MIN_CONFIG_TOKEN_LENGTH = 32


@dataclass(frozen=True)
class ConfigTokenSettings:
    """`auth.tokens[i]`: a bearer token read from `token_file`; only its digest is kept."""

    name: str
    role: str
    digest: str


@dataclass
class AuthSettings:
    """Login for the HTTP API and pages (see web.auth)."""

    # The first admin's password, when the server starts with no users; None: a random one
    # written to DATA_DIR/admin-password.
    admin_password_file: Path | None = None
    tokens: tuple[ConfigTokenSettings, ...] = ()
    # Mark the session cookie Secure even over plain HTTP: set behind a TLS-terminating proxy.
    cookie_secure: bool = False


@dataclass
class CaseSettings:
    """Who reads which case (see web.case_access)."""

    # An agent reads the cases they worked on for this many seconds after (default 24 h).
    agent_recent_window: float = 24 * 3600.0


# Call recording (centralita.recording): off unless switched on; consent, retention,
# storage and the webhook are in the same section (recordings.config).
RecordingSettings = RecordingConfig


@dataclass
class Settings:
    sip_listen: HostPort = field(default_factory=lambda: HostPort("127.0.0.1", 5060))
    # TLS listens on its own port; None means "SIP port + 1".
    sip_tls_listen: HostPort | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    http_listen: HostPort = field(default_factory=lambda: HostPort("127.0.0.1", 8080))
    data_dir: Path = Path("data")
    public_host: str | None = None
    rtp_port_min: int = 20000
    rtp_port_max: int = 30000
    demo_prompt: Path | None = None
    demo_hangup_after: float = 30.0
    # Ring briefly before answering, as a real line does (and so a caller can CANCEL).
    demo_answer_after: float = 0.5
    debug_api: bool = False
    # Live calls bridged by the mixer (voice.conference): supervisors and conference
    # parties can join them. Off: the old two-party bridge (parties cannot join).
    live_mixer: bool = True
    # Where numbers (not SIP URIs) are dialed, e.g. a transfer to "+3491...": a carrier trunk
    # or PBX as HOST:PORT, or a mapping with transport, digest login and caller id
    # (voice.trunk). None: transfers to numbers are unavailable (and say so).
    trunk: TrunkConfig | None = None
    # A directory of IVR flows (YAML); None serves the built-in demo handler.
    flows_dir: Path | None = None
    # Queues and agents to load at start (YAML, see routing.config and routing/demo.yaml).
    routing_file: Path | None = None
    # Where the ACD keeps its live state: memory, or Redis shared by several nodes
    # (centralita.routing_store_config).
    routing: RoutingStoreSettings = field(default_factory=RoutingStoreSettings)
    # Where browser logins are kept: memory, or Redis so a restart logs nobody out
    # (centralita.session_store_config).
    sessions: SessionStoreSettings = field(default_factory=SessionStoreSettings)
    # Where cases live; None means SQLite in the data dir (the embedded default).
    cases_url: str | None = None
    # Speech on every call: whisper (default), vosk (needs transcription_model), pocketsphinx,
    # or off.
    transcription: str = "whisper"
    transcription_model: str | None = None
    vad: str = "webrtc"
    # In-band (Goertzel) DTMF: "on" always, "auto" only when the far end did not negotiate
    # telephone-event, "off" never (see voice.sip_leg.InbandDtmfMode).
    inband_dtmf: Literal["on", "auto", "off"] = "on"
    registrar: RegistrarSettings = field(default_factory=RegistrarSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    cases: CaseSettings = field(default_factory=CaseSettings)
    # ISO 3166 country: how a number without + is read (dial plan, caller identities).
    default_region: str = "ES"
    # What the server may dial out (voice.dialplan); default: the region's national numbers.
    dialplan: DialPlanConfig = field(default_factory=DialPlanConfig)
    # SIP sources whose calls may make the server dial (callbacks, transfers to numbers):
    # the trunk's / PBX's addresses or networks. Loopback is trusted in this default, the
    # embedded demo's; a server on a public address lists its trunk here (or [] for none).
    trusted_sources: tuple[Network, ...] = field(
        default_factory=lambda: parse_sources(DEMO_TRUSTED_SOURCES, "trusted_sources"))
    # SIP scanners: known scanner user agents dropped, INVITE/REGISTER rate per source with
    # a ban, OPTIONS answered to health checkers (voice.sip.abuse).
    sip_abuse: AbuseSettings = field(default_factory=AbuseSettings)
    # Requests per second per caller on each API route prefix, 429 past them (web.ratelimit).
    api_limits: ApiLimitSettings = field(default_factory=ApiLimitSettings)
    # SMS and WhatsApp through Twilio (channels.twilio_config); None: not offered.
    twilio: TwilioConfig | None = None
    # Email: the relay out, the SMTP listener in (channels.email_config); None: not offered.
    email: EmailSettings | None = None
    # The web chat widget (channels.chat_config); None: not offered.
    chat: ChatSettings | None = None
    # Stereo recordings of answered calls under DATA_DIR/recordings (recordings/).
    recordings: RecordingSettings = field(default_factory=RecordingSettings)
    # The post-call accuracy pass over each recording (recordings.postcall_config): off.
    post_call: PostCallConfig = field(default_factory=PostCallConfig)
    # Where /metrics is served and who may read it (centralita.metrics_config).
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    # Agent assist: a knowledge base searched from what callers say (assist.config); None: off.
    assist: AssistSettings | None = None
    # Log lines as text (default) or one JSON object each (centralita.logs).
    log_format: Literal["text", "json"] = "text"
    # Realtime scheduling for the media loop (centralita.realtime): off.
    media: MediaSettings = field(default_factory=MediaSettings)

    @property
    def tls_listen(self) -> HostPort:
        return self.sip_tls_listen or HostPort(self.sip_listen.host, self.sip_listen.port + 1)

    @property
    def database_url(self) -> str:
        return self.cases_url or f"sqlite:///{self.data_dir.resolve() / 'cases.db'}"

    @property
    def contact_host(self) -> str:
        return self.public_host or self.sip_listen.host


_HOSTPORT_KEYS = {"sip_listen", "sip_tls_listen", "http_listen"}
_PATH_KEYS = {"tls_cert", "tls_key", "data_dir", "demo_prompt", "flows_dir", "routing_file"}


def _coerce(key: str, value: Any, where: str) -> Any:
    if key in _HOSTPORT_KEYS:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be 'HOST:PORT'")
        return HostPort.parse(value, f"{where}: {key}")
    if key in _PATH_KEYS:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a path")
        return Path(value)
    if key in ("rtp_port_min", "rtp_port_max"):
        if not isinstance(value, int) or not 1024 <= value <= 65534:
            raise ConfigError(f"{where}: {key} must be a port number 1024-65534")
        return value
    if key == "demo_hangup_after":
        if not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{where}: {key} must be a positive number of seconds")
        return float(value)
    if key == "demo_answer_after":
        if not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{where}: {key} must be zero or more seconds")
        return float(value)
    if key in ("debug_api", "live_mixer"):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false")
        return value
    if key == "inband_dtmf":
        # YAML 1.1 reads a bare on/off as a boolean.
        if isinstance(value, bool):
            value = "on" if value else "off"
        if value not in ("on", "auto", "off"):
            raise ConfigError(f"{where}: {key} must be on, auto or off")
        return value
    if key == "transcription":
        if value not in ("whisper", "vosk", "pocketsphinx", "off"):
            raise ConfigError(f"{where}: transcription must be whisper, vosk, pocketsphinx or off")
        return value
    if key == "vad":
        if value not in ("webrtc", "silero"):
            raise ConfigError(f"{where}: vad must be webrtc or silero")
        return value
    if key in ("cases_url", "transcription_model"):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {key} must be text")
        return value
    if key == "public_host":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a host name")
        return value
    if key == "registrar":
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: registrar must be a mapping")
        realm = value.get("realm", "centralita")
        users = value.get("users", {})
        algorithms = value.get("algorithms", ["SHA-256", "MD5"])
        unknown = set(value) - {"realm", "users", "algorithms"}
        if unknown:
            raise ConfigError(f"{where}: registrar: unknown key {sorted(unknown)[0]!r}")
        if not isinstance(realm, str) or not isinstance(users, dict):
            raise ConfigError(f"{where}: registrar: realm is text, users a mapping")
        for user, password in users.items():
            if not isinstance(user, str) or not isinstance(password, str | int):
                raise ConfigError(f"{where}: registrar.users.{user}: password must be text")
        if (
            not isinstance(algorithms, list)
            or not algorithms
            or any(a not in ("SHA-256", "MD5") for a in algorithms)
        ):
            raise ConfigError(f"{where}: registrar.algorithms: a list of SHA-256 and/or MD5")
        return RegistrarSettings(
            realm, {u: str(p) for u, p in users.items()}, tuple(algorithms)
        )
    if key == "auth":
        return _auth(value, f"{where}: auth")
    if key == "trunk":
        try:
            return parse_trunk(value, f"{where}: trunk")
        except TrunkConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key in ("default_region", "dialplan", "trusted_sources"):
        try:
            if key == "default_region":
                return parse_region(value, f"{where}: default_region")
            if key == "dialplan":
                return parse_dialplan(value, f"{where}: dialplan")
            return parse_sources(value, f"{where}: trusted_sources")
        except (DialPlanConfigError, TrustConfigError) as exc:
            raise ConfigError(str(exc)) from exc
    if key == "api_limits":
        try:
            return parse_api_limits(value, f"{where}: api_limits")
        except RateLimitConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "sip_abuse":
        try:
            return parse_abuse(value, f"{where}: sip_abuse")
        except AbuseConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "email":
        try:
            return parse_email_settings(value, f"{where}: email")
        except EmailConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "chat":
        try:
            return parse_chat_settings(value, f"{where}: chat")
        except ChatConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "twilio":
        try:
            return parse_twilio(value, f"{where}: twilio")
        except TwilioConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "assist":
        try:
            return parse_assist(value, f"{where}: assist")
        except AssistConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "metrics":
        try:
            return parse_metrics(value, f"{where}: metrics")
        except MetricsConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "media":
        try:
            return parse_media(value, f"{where}: media")
        except MediaConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "routing":
        try:
            return parse_routing_store(value, f"{where}: routing")
        except RoutingStoreConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "sessions":
        try:
            return parse_session_store(value, f"{where}: sessions")
        except SessionStoreConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "log_format":
        if value not in ("text", "json"):
            raise ConfigError(f"{where}: log_format must be text or json")
        return value
    if key == "post_call":
        try:
            return parse_post_call(value, f"{where}: post_call")
        except PostCallConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "recordings":
        try:
            return parse_recordings(value, f"{where}: recordings")
        except RecordingConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if key == "cases":
        window = value.get("agent_recent_window") if isinstance(value, dict) else None
        if not isinstance(value, dict) or set(value) - {"agent_recent_window"} or isinstance(
                window, bool) or not isinstance(window, int | float) or window < 0:
            raise ConfigError(f"{where}: cases must be {{agent_recent_window: SECONDS >= 0}}")
        return CaseSettings(float(window))
    raise ConfigError(f"{where}: unknown key {key!r}")


def _auth(value: Any, where: str) -> AuthSettings:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    unknown = set(value) - {"admin_password_file", "tokens", "cookie_secure"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    password_file = value.get("admin_password_file")
    if password_file is not None and not isinstance(password_file, str):
        raise ConfigError(f"{where}.admin_password_file must be a path")
    cookie_secure = value.get("cookie_secure", False)
    if not isinstance(cookie_secure, bool):
        raise ConfigError(f"{where}.cookie_secure must be true or false")
    tokens = value.get("tokens", [])
    if not isinstance(tokens, list):
        raise ConfigError(f"{where}.tokens must be a list of {{name, role, token_file}}")
    return AuthSettings(
        admin_password_file=Path(password_file) if password_file else None,
        tokens=tuple(_config_token(t, f"{where}.tokens[{i}]") for i, t in enumerate(tokens)),
        cookie_secure=cookie_secure,
    )


def _config_token(value: Any, where: str) -> ConfigTokenSettings:
    if not isinstance(value, dict) or set(value) != {"name", "role", "token_file"}:
        raise ConfigError(f"{where} must have exactly name, role and token_file")
    name, role, token_file = value["name"], value["role"], value["token_file"]
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name must be text")
    if role not in ROLE_LABELS:
        raise ConfigError(f"{where}.role must be one of {', '.join(ROLE_LABELS)}")
    if not isinstance(token_file, str):
        raise ConfigError(f"{where}.token_file must be a path")
    try:
        text = Path(token_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}.token_file: cannot read {token_file}: {exc.strerror}") from exc
    token = text.splitlines()[0].strip() if text else ""
    if len(token) < MIN_CONFIG_TOKEN_LENGTH:
        raise ConfigError(
            f"{where}.token_file: the token must have at least {MIN_CONFIG_TOKEN_LENGTH} characters"
        )
    return ConfigTokenSettings(name, role, digest(token))


def load_settings(config: Path | None, overrides: dict[str, Any]) -> Settings:
    """Defaults, then the YAML file, then non-None overrides (already typed or text)."""
    settings = Settings()
    known = {f.name for f in fields(Settings)}
    if config is not None:
        try:
            raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"{config}: cannot read: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            raise ConfigError(f"{config}{at}: not valid YAML") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{config}: the top level must be a mapping")
        for key, value in raw.items():
            if key not in known:
                raise ConfigError(f"{config}: unknown key {key!r}")
            setattr(settings, key, _coerce(key, value, str(config)))
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, str) and key in _HOSTPORT_KEYS:
            value = HostPort.parse(value, f"--{key.replace('_', '-')}")
        elif isinstance(value, str) and key in _PATH_KEYS:
            value = Path(value)
        elif isinstance(value, str) and key == "trunk":
            value = _coerce(key, value, "--trunk")
        setattr(settings, key, value)
    if settings.transcription == "vosk" and not settings.transcription_model:
        raise ConfigError("transcription: vosk needs transcription_model (a model directory)")
    if settings.rtp_port_min >= settings.rtp_port_max:
        raise ConfigError("rtp_port_min must be below rtp_port_max")
    return settings
