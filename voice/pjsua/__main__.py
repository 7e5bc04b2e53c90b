"""``python -m voice.pjsua call SIP_URI ...``: the ``call`` command without the main CLI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from voice.pjsua.client import add_call_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` as the ``call`` subcommand and run it; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m voice.pjsua")
    add_call_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
