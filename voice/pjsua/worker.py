"""Command line of the pjsua2 worker process: ``python -m voice.pjsua.worker``.

Modes::

    call SIP_URI [--play WAV] [--record WAV] [--dtmf DIGITS] [--dtmf-delay S]
                 [--duration S] [--timeout S] [--bind HOST:PORT]
                 [--transport udp|tcp] [--from USER]
    listen --bind HOST:PORT [--record WAV] [--play WAV] [--answer-after S]
           [--reject CODE] [--max-calls N] [--duration S] [--transport udp|tcp]

Stdout carries only the JSON lines of :mod:`voice.pjsua.protocol`; PJSIP's
own logging goes to stderr.  ``call`` exits 0 when the call connected, 1
otherwise; ``listen`` exits 0 on SIGTERM/SIGINT or after ``--max-calls``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from voice.pjsua.endpoint import claim_stdout
from voice.pjsua.signals import StopFlag


def parse_hostport(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (or ``HOST`` or ``:PORT``); port 0 means any free port."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "0"
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range in {text!r}")
    return host or "127.0.0.1", number


def _wav(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such WAV file: {text}")
    return str(Path(text).resolve())


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"negative duration: {text}")
    return value


def _timed_digits(text: str) -> tuple[float, str]:
    at, sep, digits = text.partition(":")
    if not sep or not digits or any(d not in "0123456789*#ABCD" for d in digits):
        raise argparse.ArgumentTypeError(f"expected S:DIGITS, got {text!r}")
    return _seconds(at), digits


def build_parser() -> argparse.ArgumentParser:
    """The worker's argument parser (both modes)."""
    parser = argparse.ArgumentParser(prog="python -m voice.pjsua.worker")
    modes = parser.add_subparsers(dest="mode", required=True)

    call = modes.add_parser("call", help="place one call and print its outcome")
    call.add_argument("uri", metavar="SIP_URI")
    call.add_argument("--play", type=_wav, help="WAV to play into the call once answered")
    call.add_argument("--record", help="WAV to record what the far end sends")
    call.add_argument("--dtmf", default="", help="digits to send as RFC 4733 events")
    call.add_argument("--dtmf-delay", type=_seconds, default=1.0, metavar="S")
    call.add_argument("--dtmf-at", type=_timed_digits, action="append", default=[],
                      metavar="S:DIGITS", help="also send DIGITS S seconds after answer")
    call.add_argument("--duration", type=_seconds, default=5.0, metavar="S")
    call.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="give up if not answered within S seconds",
    )
    call.add_argument("--bind", type=parse_hostport, default=("127.0.0.1", 0), metavar="HOST:PORT")
    call.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    call.add_argument("--from", dest="from_user", default="caller", metavar="USER")

    listen = modes.add_parser("listen", help="answer incoming calls until SIGTERM")
    listen.add_argument("--bind", type=parse_hostport, required=True, metavar="HOST:PORT")
    listen.add_argument("--record", help="WAV path; {n} is replaced by the call number")
    listen.add_argument("--play", type=_wav, help="WAV to play into each answered call")
    listen.add_argument("--answer-after", type=_seconds, default=0.0, metavar="S")
    listen.add_argument(
        "--reject",
        type=int,
        default=0,
        metavar="CODE",
        help="answer every call with this final status instead",
    )
    listen.add_argument(
        "--max-calls",
        type=int,
        default=0,
        metavar="N",
        help="exit after N calls have ended (0: never)",
    )
    listen.add_argument(
        "--duration",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="hang up S seconds after answering (0: let the caller)",
    )
    listen.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.mode == "listen" and args.reject and not 300 <= args.reject <= 699:
        print("--reject must be a final error status (300-699)", file=sys.stderr)
        return 2
    out = claim_stdout()
    stop = StopFlag().install()

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    # Imported late: loading pjsua2 is only worth it once the arguments are good.
    if args.mode == "call":
        from voice.pjsua.uac import CallOptions, run_call

        host, port = args.bind
        result = run_call(
            CallOptions(
                uri=args.uri,
                host=host,
                port=port,
                transport=args.transport,
                from_user=args.from_user,
                play=args.play,
                record=args.record,
                dtmf=args.dtmf,
                dtmf_delay=args.dtmf_delay,
                dtmf_at=tuple(args.dtmf_at),
                duration=args.duration,
                timeout=args.timeout,
            ),
            stop,
        )
        emit(result.to_json())
        return 0 if result.connected else 1

    from voice.pjsua.uas import ListenOptions, run_listen

    host, port = args.bind
    return run_listen(
        ListenOptions(
            host=host,
            port=port,
            transport=args.transport,
            record=args.record,
            play=args.play,
            answer_after=args.answer_after,
            reject=args.reject,
            max_calls=args.max_calls,
            duration=args.duration,
        ),
        stop,
        emit,
    )


if __name__ == "__main__":
    sys.exit(main())
