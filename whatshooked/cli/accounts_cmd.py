"""`whatshooked accounts enable | disable | qr | pair | logout`: an account's life from the shell."""

from __future__ import annotations

import argparse
import os
import urllib.parse
from pathlib import Path
from typing import Any, TextIO

from whatshooked.accounts.qr_render import PNG_SCALE
from whatshooked.cli import qr_terminal
from whatshooked.cli.client import Api, ClientError
from whatshooked.cli.commands import actions_of, command


def add_commands(commands: argparse._SubParsersAction) -> None:
    accounts = actions_of(commands, "accounts")
    for name, text in (
        ("enable", "enable an account (or restart an enabled one, e.g. after a QR timeout)"),
        ("disable", "disable an account: it disconnects and stays off until enabled"),
        ("logout", "log a WhatsApp Web account out: unlinks this device; it pairs again with a new QR"),
    ):
        command(accounts, name, text).add_argument("id", help="account id")
    qr = command(accounts, "qr", "show the pairing QR code of a WhatsApp Web account in the terminal",
                 json_flag=False)
    qr.add_argument("id", help="account id")
    qr.add_argument("-o", "--output", type=Path, metavar="FILE", help="save the QR code as a PNG image instead")
    pair = command(accounts, "pair", "pair a WhatsApp Web account by a code typed on the phone instead of a QR")
    pair.add_argument("id", help="account id")
    pair.add_argument("--phone", required=True, help="the phone's number in international format, e.g. +15551234567")


def switch(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    answer = api.call("POST", f"/api/accounts/{args.action}", {"id": args.id})
    if not args.json:
        done = {"enable": "enabled", "disable": "disabled", "logout": "logged out"}[args.action]
        print(f"{done} account {args.id}", file=out)
    return answer


def qr(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    png = api.fetch("GET", f"/api/qr/{urllib.parse.quote(args.id, safe='')}.png")
    if args.output is not None:
        _save(args.output, png)
        print(f"saved the QR code of account {args.id} to {args.output}", file=out)
        return None
    try:
        art = qr_terminal.draw(png, PNG_SCALE)
    except (qr_terminal.NotDrawable, ValueError, IndexError) as exc:
        raise ClientError(f"cannot draw this QR code in the terminal ({exc}); save it with --output qr.png") from None
    out.write(art)
    print("On the phone: WhatsApp → Settings → Linked devices → Link a device, and scan this code "
          "(it changes every 20 s: run this again if it expired).", file=out)
    return None


def pair(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    answer = api.call("POST", "/api/accounts/pair-phone", {"id": args.id, "phone": args.phone})
    if not args.json:
        code = answer.get("code") if isinstance(answer, dict) else None
        print(f"pairing code: {code}", file=out)
        print("On the phone: WhatsApp → Settings → Linked devices → Link a device → "
              "Link with phone number instead, and type this code.", file=out)
    return answer


def _save(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb") as file:  # noqa: PTH123 - plain open: the error names the path
            file.write(data)
    except OSError as exc:
        raise ClientError(f"cannot write {path}: {exc.strerror}") from None
    os.chmod(path, 0o600)  # a pairing code links a device: not for other users' eyes


HANDLERS = {
    ("accounts", "enable"): switch,
    ("accounts", "disable"): switch,
    ("accounts", "logout"): switch,
    ("accounts", "qr"): qr,
    ("accounts", "pair"): pair,
}
