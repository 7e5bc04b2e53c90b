"""The `centralita` command: `serve` runs the server, `call` dials it with pjsua2, `users` and
`tokens` manage who may use the HTTP API, `customers` exports or erases one customer's data."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from centralita.logs import apply_format, setup_logging
from centralita.settings import ConfigError, HostPort, load_settings


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="centralita", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (SIP + RTP + HTTP)")
    serve.add_argument("--config", type=Path, help="YAML config file")
    serve.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="debug logging")
    serve.add_argument("--log-format", choices=("text", "json"),
                       help="log lines as text or one JSON object each (default text; "
                       "config key log_format)")
    serve.add_argument("--sip-listen", metavar="HOST:PORT", help="SIP UDP+TCP (default 127.0.0.1:5060)")
    serve.add_argument("--sip-tls-listen", metavar="HOST:PORT", help="SIP TLS (default SIP port + 1)")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate for SIP TLS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key for SIP TLS")
    serve.add_argument("--http-listen", metavar="HOST:PORT", help="HTTP (default 127.0.0.1:8080)")
    serve.add_argument("--data-dir", type=Path, help="where recordings and the database live")
    serve.add_argument("--rtp-ports", metavar="MIN-MAX", help="RTP port range (default 20000-30000)")
    serve.add_argument("--demo-hangup-after", type=float, metavar="S",
                       help="the demo handler hangs up after S seconds (default 30)")
    serve.add_argument("--demo-answer-after", type=float, metavar="S",
                       help="the demo handler rings S seconds before answering (default 0.5)")
    serve.add_argument("--inband-dtmf", choices=("on", "auto", "off"),
                       help="detect DTMF tones in the audio: always, only without "
                       "telephone-event, or never (default on)")
    serve.add_argument("--trunk", metavar="HOST:PORT",
                       help="where numbers are dialed (transfers to a number); SIP URIs go direct")
    serve.add_argument("--flows", type=Path, metavar="DIR",
                       help="directory of IVR flows (YAML); without it, the demo handler")
    serve.add_argument("--routing", type=Path, metavar="FILE",
                       help="queues and agents to load at start (YAML, e.g. routing/demo.yaml)")
    serve.add_argument("--cases-url", metavar="URL",
                       help="case database (default sqlite:///DATA_DIR/cases.db; postgresql://...)")
    serve.add_argument("--transcription", choices=("whisper", "vosk", "pocketsphinx", "off"),
                       help="speech engine for live transcripts (default whisper)")
    serve.add_argument("--transcription-model", metavar="PATH",
                       help="model for the engine (vosk: a model directory; whisper: base)")
    serve.add_argument("--vad", choices=("webrtc", "silero"),
                       help="voice activity detector (silero for noisy lines)")
    serve.add_argument("--realtime", action="store_true",
                       help="run the media loop thread at realtime priority (SCHED_RR; config "
                       "media.realtime_priority, default 10 here); needs CAP_SYS_NICE or "
                       "RLIMIT_RTPRIO")
    serve.add_argument("--debug-api", action="store_true", default=None,
                       help="expose GET /api/debug/calls (decoded audio, digits, RTP stats)")

    from centralita.customers_cli import add_customers_parser
    from centralita.demo import add_demo_parser
    from ivr.cli import add_flows_parser
    from media.asr.transcribe import add_transcribe_parser
    from web.auth.cli import add_auth_parsers

    add_transcribe_parser(sub)
    add_flows_parser(sub)
    add_demo_parser(sub)
    add_customers_parser(sub)
    for auth_parser in add_auth_parsers(sub):
        auth_parser.add_argument("--config", type=Path, help="YAML config file (as for serve)")
        auth_parser.add_argument("--data-dir", type=Path, help="the server's data directory")
        auth_parser.add_argument("--cases-url", metavar="URL", help="the server's database URL")
    try:
        from voice.pjsua.client import add_call_parser
    except ImportError:  # pragma: no cover - pjsua2 is a hard dependency; keep serve usable
        pass
    else:
        add_call_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    setup_logging(getattr(args, "log_format", None) or "text", debug=args.verbose)
    if args.command == "serve":
        return _serve(args)
    if args.command == "call":
        from voice.pjsua.client import run_call_command

        return run_call_command(args)
    if args.command == "demo":
        from centralita.demo import run_demo_command

        return run_demo_command(args)
    if args.command == "flows":
        from ivr.cli import run_flows_command

        return run_flows_command(args)
    if args.command == "customers":
        from centralita.customers_cli import run_customers_command

        return run_customers_command(args)
    if args.command in ("users", "tokens"):
        return _auth_command(args)
    if args.command == "transcribe":
        from media.asr.transcribe import run_transcribe_command

        return run_transcribe_command(args)
    return 2


def _auth_command(args: argparse.Namespace) -> int:
    from web.auth.cli import run_auth_command

    try:
        settings = load_settings(
            args.config, {"data_dir": args.data_dir, "cases_url": args.cases_url}
        )
    except ConfigError as exc:
        print(f"centralita: {exc}", file=sys.stderr)
        return 2
    if settings.cases_url is None:
        from cases.db import private_dir

        private_dir(settings.data_dir)
    return run_auth_command(args, settings.database_url)


def _serve(args: argparse.Namespace) -> int:
    from centralita.server import run_server

    overrides: dict[str, object] = {
        "sip_listen": args.sip_listen,
        "sip_tls_listen": args.sip_tls_listen,
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
        "http_listen": args.http_listen,
        "data_dir": args.data_dir,
        "demo_hangup_after": args.demo_hangup_after,
        "demo_answer_after": args.demo_answer_after,
        "debug_api": args.debug_api,
        "cases_url": args.cases_url,
        "flows_dir": args.flows,
        "routing_file": args.routing,
        "trunk": args.trunk,
        "transcription": args.transcription,
        "transcription_model": args.transcription_model,
        "vad": args.vad,
        "inband_dtmf": args.inband_dtmf,
    }
    try:
        if args.rtp_ports:
            lo, sep, hi = args.rtp_ports.partition("-")
            if not sep or not lo.isdigit() or not hi.isdigit():
                raise ConfigError(f"--rtp-ports: expected MIN-MAX, got {args.rtp_ports!r}")
            overrides["rtp_port_min"], overrides["rtp_port_max"] = int(lo), int(hi)
        if args.demo_answer_after is not None and args.demo_answer_after < 0:
            raise ConfigError("--demo-answer-after: must be zero or more seconds")
        if args.demo_hangup_after is not None and args.demo_hangup_after <= 0:
            raise ConfigError("--demo-hangup-after: must be a positive number of seconds")
        settings = load_settings(args.config, overrides)
    except ConfigError as exc:
        print(f"centralita: {exc}", file=sys.stderr)
        return 2
    if args.realtime and settings.media.realtime_priority is None:
        from dataclasses import replace

        from centralita.realtime import DEFAULT_PRIORITY

        settings.media = replace(settings.media, realtime_priority=DEFAULT_PRIORITY)
    if args.log_format is None:
        apply_format(settings.log_format)
    try:
        asyncio.run(run_server(settings))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"centralita: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


__all__ = ["main", "HostPort"]
