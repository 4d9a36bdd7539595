"""`whatshooked cache show ID | clear --yes`: one cached event in full, or all of them dropped."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from whatshooked.cli import exit_codes
from whatshooked.cli.client import Api, ClientError
from whatshooked.cli.commands import actions_of, command


def add_commands(commands: argparse._SubParsersAction) -> None:
    cache = actions_of(commands, "cache")
    show = command(cache, "show", "show one undelivered event in full (JSON)")
    show.add_argument("id", help="event id, as `cache list` shows")
    clear = command(cache, "clear", "delete every undelivered event from the cache (cannot be undone)")
    clear.add_argument("--yes", action="store_true", help="really delete them (required: there is no undo)")


def show(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    answer = api.call("GET", "/api/cache/event", query={"id": args.id})
    if not args.json:  # the event is JSON anyway: shown as it would be delivered
        print(json.dumps(answer, indent=2, ensure_ascii=False), file=out)
    return answer


def clear(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    if not args.yes:
        if not sys.stdin.isatty():
            raise ClientError("cache clear deletes every undelivered event: add --yes to confirm", exit_codes.USAGE)
        try:
            reply = input("Delete every undelivered event from the cache? This cannot be undone. [y/N] ")
        except EOFError:  # Ctrl-D: no
            reply = ""
        if reply.strip().lower() not in ("y", "yes"):
            raise ClientError("nothing deleted")
    answer = api.call("DELETE", "/api/cache", query={"confirm": "true"})
    if not args.json:
        cleared = answer.get("cleared", 0) if isinstance(answer, dict) else 0
        print(f"cleared {cleared} cached event{'s' if cleared != 1 else ''}", file=out)
    return answer


HANDLERS = {("cache", "show"): show, ("cache", "clear"): clear}
