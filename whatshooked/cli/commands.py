"""Adding client subcommands from their own modules to the parsers client.py builds."""

from __future__ import annotations

import argparse
from typing import Any

CONFIG_HELP = "config file of the daemon to talk to (default: $WHATSHOOKED_CONFIG, else ./config.yaml)"


def actions_of(commands: argparse._SubParsersAction, name: str) -> argparse._SubParsersAction:
    """The ACTION subparsers of an existing command group (`accounts`, `cache`, …)."""
    group: argparse.ArgumentParser = commands.choices[name]
    for action in group._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError(f"command {name!r} has no actions")


def command(parent: Any, name: str, text: str, *, json_flag: bool = True) -> argparse.ArgumentParser:
    """A client subcommand with the usual -c/--config and --json flags."""
    sub: argparse.ArgumentParser = parent.add_parser(name, help=text, description=text)
    sub.add_argument("-c", "--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    if json_flag:
        sub.add_argument("--json", action="store_true", help="print the API's JSON answer as is")
    return sub
