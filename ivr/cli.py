"""`centralita flows check PATH...`: validate flow files; wired by centralita/cli.py.

    add_flows_parser(subparsers)      # adds `flows check`
    run_flows_command(args) -> int    # 0: every flow is fine, 1: problems were printed
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Any


def add_flows_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `flows` command (with `check`) to the `centralita` subparsers."""
    flows = subparsers.add_parser("flows", help="IVR flow documents")
    sub = flows.add_subparsers(dest="flows_command", required=True)
    check = sub.add_parser("check", help="validate flow files; print file:line:column: message")
    check.add_argument("paths", nargs="+", type=pathlib.Path, metavar="PATH",
                       help="flow files or directories of *.yaml / *.yml")
    schema = sub.add_parser("schema", help="print the flow document JSON Schema")
    schema.set_defaults(flows_command="schema")
    parser: argparse.ArgumentParser = flows
    return parser


def run_flows_command(args: argparse.Namespace) -> int:
    """Run `flows check` / `flows schema`; returns the process exit code."""
    if args.flows_command == "schema":
        from ivr.schema import render
        from ivr.verbs.all import load_all

        sys.stdout.write(render(load_all()))
        return 0
    from ivr.validator import check_paths

    missing = [p for p in args.paths if not p.exists()]
    for path in missing:
        print(f"{path}:1:1: no such file or directory")
    flows, problems = check_paths([p for p in args.paths if p.exists()])
    for line in problems.lines():
        print(line)
    if problems or missing:
        return 1
    print(f"{len(flows)} flow(s) OK", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m ivr.cli check PATH...` (the same as `centralita flows check`)."""
    parser = argparse.ArgumentParser(prog="centralita")
    add_flows_parser(parser.add_subparsers(dest="command", required=True))
    return run_flows_command(parser.parse_args(["flows", *(argv or sys.argv[1:])]))


if __name__ == "__main__":
    sys.exit(main())
