"""`centralita customers export ID` and `centralita customers erase ID`: GDPR export and
erasure from the command line, over the stores the configuration names.

    centralita customers export 42 [--out customer-42.zip] [--config FILE] [--data-dir DIR]
    centralita customers erase 42 --yes [--actor NAME]

The command line reaches the database and the files, not a running server's memory: erase
through `DELETE /api/customers/{id}` while the server runs (it also withdraws a waiting
callback from the live line and forgets the debug API's records of the calls).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from cases.errors import CaseError
from cases.gdpr import ErasureRefused, MergedAway


def add_customers_parser(sub: Any) -> argparse.ArgumentParser:
    """The `customers` command and its `export` / `erase` actions."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "customers", help="GDPR: export or erase everything held about one customer")
    actions = parser.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write one zip of the customer's data")
    export.add_argument("customer_id", type=int, metavar="ID",
                        help="the customer's id (customer.id in a case timeline)")
    export.add_argument("--out", type=Path, help="the zip to write (default customer-ID.zip)")
    erase = actions.add_parser("erase", help="erase the customer's data in every store")
    erase.add_argument("customer_id", type=int, metavar="ID")
    erase.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")
    erase.add_argument("--actor", help="who asked, for the audit (default: the OS user)")
    for each in (export, erase):
        each.add_argument("--config", type=Path, help="YAML config file (as for serve)")
        each.add_argument("--data-dir", type=Path, help="the server's data directory")
        each.add_argument("--cases-url", metavar="URL", help="the server's database URL")
    return parser


def run_customers_command(args: argparse.Namespace) -> int:
    from centralita.settings import ConfigError, load_settings

    try:
        settings = load_settings(
            args.config, {"data_dir": args.data_dir, "cases_url": args.cases_url})
    except ConfigError as exc:
        print(f"centralita: {exc}", file=sys.stderr)
        return 2
    if args.action == "erase" and not args.yes:
        print("centralita: erasing cannot be undone; add --yes", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, settings))
    except ErasureRefused as exc:
        print(f"centralita: not erased: {exc}", file=sys.stderr)
        return 1
    except MergedAway as exc:
        print(f"centralita: {exc}: use {exc.target_id}", file=sys.stderr)
        return 1
    except CaseError as exc:
        print(f"centralita: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Any) -> int:
    from centralita.gdpr_setup import open_gdpr_offline

    gdpr, close = await open_gdpr_offline(settings)
    try:
        if args.action == "export":
            out: Path = args.out or Path(f"customer-{args.customer_id}.zip")
            names = await gdpr.export(args.customer_id, out)
            print(f"{out}: {len(names)} entries")
            return 0
        actor = args.actor or f"cli:{getpass.getuser()}"
        record = await gdpr.erase(args.customer_id, actor=actor)
        print(json.dumps(record.to_json(), indent=2, sort_keys=True))
        return 0
    finally:
        await close()
