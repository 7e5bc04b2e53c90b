"""The `recordings:` section of the config file, read into `RecordingConfig`.

    recordings:
      enabled: true                # off by default: a recording is personal data
      compress: true               # Opus in Ogg after the call (default true)
      retention_days: 90           # default for every queue; absent: kept until deleted
      retention_interval: 3600     # seconds between retention sweeps
      record: true                 # default consent decision for calls no setting names
      flows:                       # by flow name: record or not, and what the caller hears
        sales: {record: true, announcement: "This call may be recorded."}
      queues:                      # by queue name
        billing: {record: false}
        support: {retention_days: 30}
      storage:                     # default {kind: filesystem}
        kind: s3                   # credentials from boto3's usual chain (env, files)
        bucket: recordings
        endpoint_url: http://127.0.0.1:9000
        region: us-east-1
        prefix: centralita/
      webhook:
        url: https://hooks.example/recordings
        secret_file: /etc/centralita/recording-hook.secret

Every mistake is a `RecordingConfigError` naming the key (the settings loader prefixes the
file and line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class RecordingConfigError(ValueError):
    """A bad `recordings:` section; the message names the key."""


@dataclass(frozen=True)
class FlowPolicy:
    """Per flow: whether its calls are recorded, and the announcement played first."""

    record: bool | None = None
    announcement: str | None = None


@dataclass(frozen=True)
class QueuePolicy:
    """Per queue: whether its calls are recorded, and how long recordings are kept."""

    record: bool | None = None
    retention_days: float | None = None


@dataclass(frozen=True)
class S3Config:
    """An S3-compatible bucket (credentials: boto3's chain, never in this file)."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = ""


@dataclass(frozen=True)
class WebhookConfig:
    """Where saved/failed notices go, and the HMAC key they are signed with."""

    url: str
    secret: bytes = field(repr=False)
    attempts: int = 6


@dataclass(frozen=True)
class RecordingConfig:
    """Recording, all of it (see the module doc); `RecordingConfig()` is off."""

    enabled: bool = False
    compress: bool = True
    record: bool = True
    retention_days: float | None = None
    retention_interval: float = 3600.0
    flows: dict[str, FlowPolicy] = field(default_factory=dict)
    queues: dict[str, QueuePolicy] = field(default_factory=dict)
    s3: S3Config | None = None
    webhook: WebhookConfig | None = None


_KEYS = {"enabled", "compress", "record", "retention_days", "retention_interval", "flows",
         "queues", "storage", "webhook"}


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise RecordingConfigError(f"{where} must be true or false")
    return value


def _days(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise RecordingConfigError(f"{where} must be a number of days > 0")
    return float(value)


def _text(value: Any, where: str, max_len: int = 500) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise RecordingConfigError(f"{where} must be a non-empty string (at most {max_len})")
    return value


def _mapping(value: Any, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordingConfigError(f"{where} must be a mapping")
    unknown = set(value) - keys
    if unknown:
        raise RecordingConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    return value


def _flows(value: Any, where: str) -> dict[str, FlowPolicy]:
    out = {}
    for name, item in _mapping(value, where, set(value) if isinstance(value, dict) else set()
                               ).items():
        at = f"{where}.{name}"
        item = _mapping(item, at, {"record", "announcement"})
        out[_text(name, f"{where} key", 100)] = FlowPolicy(
            _bool(item["record"], f"{at}.record") if "record" in item else None,
            _text(item["announcement"], f"{at}.announcement")
            if "announcement" in item else None)
    return out


def _queues(value: Any, where: str) -> dict[str, QueuePolicy]:
    out = {}
    for name, item in _mapping(value, where, set(value) if isinstance(value, dict) else set()
                               ).items():
        at = f"{where}.{name}"
        item = _mapping(item, at, {"record", "retention_days"})
        out[_text(name, f"{where} key", 100)] = QueuePolicy(
            _bool(item["record"], f"{at}.record") if "record" in item else None,
            _days(item["retention_days"], f"{at}.retention_days")
            if "retention_days" in item else None)
    return out


def _storage(value: Any, where: str) -> S3Config | None:
    item = _mapping(value, where, {"kind", "bucket", "endpoint_url", "region", "prefix"})
    kind = item.get("kind", "filesystem")
    if kind == "filesystem":
        if set(item) - {"kind"}:
            raise RecordingConfigError(f"{where}: a filesystem storage takes no other keys")
        return None
    if kind != "s3":
        raise RecordingConfigError(f"{where}.kind must be filesystem or s3, got {kind!r}")
    if "bucket" not in item:
        raise RecordingConfigError(f"{where}.bucket is required for s3")
    return S3Config(
        _text(item["bucket"], f"{where}.bucket", 63),
        _text(item["endpoint_url"], f"{where}.endpoint_url") if "endpoint_url" in item else None,
        _text(item["region"], f"{where}.region", 64) if "region" in item else None,
        _text(item["prefix"], f"{where}.prefix", 200) if "prefix" in item else "")


def _webhook(value: Any, where: str) -> WebhookConfig:
    item = _mapping(value, where, {"url", "secret_file", "attempts"})
    url = _text(item.get("url"), f"{where}.url", 2000)
    if not url.startswith(("http://", "https://")):
        raise RecordingConfigError(f"{where}.url must be an http(s) URL")
    path = Path(_text(item.get("secret_file"), f"{where}.secret_file", 4096))
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise RecordingConfigError(
            f"{where}.secret_file: cannot read it ({type(exc).__name__})") from exc
    if len(secret) < 16:
        raise RecordingConfigError(f"{where}.secret_file must hold at least 16 bytes")
    attempts = item.get("attempts", 6)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 20:
        raise RecordingConfigError(f"{where}.attempts must be 1-20")
    return WebhookConfig(url, secret, attempts)


def parse_recordings(value: Any, where: str) -> RecordingConfig:
    """`recordings:` as read from YAML (see the module doc)."""
    item = _mapping(value, where, _KEYS)
    interval = item.get("retention_interval", 3600.0)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise RecordingConfigError(f"{where}.retention_interval must be seconds > 0")
    return RecordingConfig(
        enabled=_bool(item.get("enabled", False), f"{where}.enabled"),
        compress=_bool(item.get("compress", True), f"{where}.compress"),
        record=_bool(item.get("record", True), f"{where}.record"),
        retention_days=_days(item["retention_days"], f"{where}.retention_days")
        if "retention_days" in item else None,
        retention_interval=float(interval),
        flows=_flows(item.get("flows", {}), f"{where}.flows"),
        queues=_queues(item.get("queues", {}), f"{where}.queues"),
        s3=_storage(item["storage"], f"{where}.storage") if "storage" in item else None,
        webhook=_webhook(item["webhook"], f"{where}.webhook") if "webhook" in item else None,
    )
