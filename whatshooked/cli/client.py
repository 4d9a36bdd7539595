"""`whatshooked status | send | hooks | accounts | cache`: a client of the running daemon's API.

URL and credentials come from the daemon's own config file, so on the server no flags are needed.
Standard library HTTP (a CLI makes one request at a time). Every failure is one line on stderr with an
exit code scripts can rely on (cli/exit_codes.py; argparse's usage errors are 2).
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from whatshooked.cli import cache_list as cache_list_command
from whatshooked.cli import exit_codes
from whatshooked.cli.commands import command
from whatshooked.cli.secrets import new_secret
from whatshooked.config.load import parse_config, read_raw
from whatshooked.config.model import Config, ServerConfig
from whatshooked.errors import ConfigError

COMMANDS = ("status", "send", "hooks", "accounts", "cache")
TIMEOUT = 60.0
"""Seconds to wait for the daemon (a send with a large file may take a while)."""
MEDIA_FLAGS = ("image", "video", "document", "audio")
DEFAULT_MIME = {"image": "image/jpeg", "video": "video/mp4", "document": "application/octet-stream",
                "audio": "audio/mpeg"}


class ClientError(exit_codes.CommandError):
    """A client command failed: one line on stderr, exit `code`."""


def add_client_commands(commands: argparse._SubParsersAction) -> None:
    """Register the client commands on cli.py's subparsers (dest="command")."""
    command(commands, "status", "health, account states and cache size of the running daemon")

    send = command(commands, "send", "send a message through the running daemon")
    send.add_argument("--account", required=True, help="account id")
    send.add_argument("--to", required=True, help="phone number (international format) or JID")
    what = send.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="a text message")
    for flag in MEDIA_FLAGS:
        what.add_argument(f"--{flag}", metavar="FILE", type=Path, help=f"send this file as {flag}")
    send.add_argument("--caption", help="caption for --image, --video or --document")
    send.add_argument("--filename", help="file name shown for --document (default: the file's name)")
    send.add_argument("--mime-type", help="override the MIME type guessed from the file name")

    hooks = commands.add_parser("hooks", help="list, add or remove hooks").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    command(hooks, "list", "list hooks")
    add = command(hooks, "add", "add a hook (written back to the config file)")
    add.add_argument("--id", required=True)
    add.add_argument("--url", required=True)
    add.add_argument("--name")
    add.add_argument("--method", choices=("GET", "POST", "PUT", "PATCH"), type=str.upper)
    add.add_argument("--events", help="comma-separated event names or patterns, e.g. message.received,message.*")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--secret", help="whsec_… signing secret")
    secret.add_argument("--generate-secret", action="store_true",
                        help="sign with a fresh random whsec_ secret, printed once (give it to the receiver)")
    remove = command(hooks, "remove", "remove a hook")
    remove.add_argument("id")

    accounts = commands.add_parser("accounts", help="list, enable, disable, pair or log out accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    command(accounts, "list", "list accounts with their state")

    cache = commands.add_parser("cache", help="inspect, replay or clear undelivered events").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    command(cache, "stats", "how many undelivered events, by type")
    cache_list_command.add_arguments(command(cache, "list", "list undelivered events, a page at a time"))
    replay = command(cache, "replay", "replay every cached event, or the one given, to the hooks")  # cli/hooks_cmd.py
    replay.add_argument("id", nargs="?")


def load_client_config(path: Path) -> Config:
    """Only the `server:` section is read, so secrets of accounts need not be in this shell's env."""
    if not path.exists():
        raise ConfigError([f"{path}: file not found (pass the daemon's config with -c)"])
    server = read_raw(path).get("server") or {}
    return parse_config(yaml.safe_dump({"server": server}), path)


def run_client_command(args: argparse.Namespace, config: Config, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    api = Api.for_server(config.server)
    try:
        handler = getattr(args, "handler", None) or _HANDLERS[(args.command, getattr(args, "action", None))]
        answer = handler(api, args, out)
        if getattr(args, "json", False) and answer is not None:
            print(json.dumps(answer, indent=2, ensure_ascii=False), file=out)
    except ClientError as exc:
        print(f"whatshooked: {exc}", file=sys.stderr)
        return exc.code
    if args.command == "status" and not_connected(answer):
        return EXIT_NOT_CONNECTED
    return exit_codes.OK


def register(handlers: dict[tuple[str, str | None], Any]) -> None:
    """Commands defined in other modules (cli/accounts_cmd.py, …) add their handlers here."""
    _HANDLERS.update(handlers)


EXIT_NOT_CONNECTED = exit_codes.NOT_CONNECTED
"""`status`: an enabled account is not connected (scripts and health checks can tell)."""
FINE_STATES = frozenset({"connected", "disabled", "standby"})


def not_connected(answer: Any) -> list[str]:
    """Ids of enabled accounts that are not connected, from `status`'s answer."""
    accounts = answer.get("accounts") if isinstance(answer, dict) else None
    return [a.get("id", "?") for a in accounts or [] if isinstance(a, dict) and a.get("state") not in FINE_STATES]


@dataclass(frozen=True)
class Api:
    base_url: str
    headers: dict[str, str]

    @classmethod
    def for_server(cls, server: ServerConfig) -> Api:
        headers = {"Accept": "application/json"}
        if server.api_key:
            headers["x-api-key"] = server.api_key.reveal()
        elif server.username:
            token = base64.b64encode(f"{server.username}:{server.password.reveal()}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return cls(server.local_url, headers)

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        raw = self.fetch(method, path, body, query)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def fetch(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> bytes:
        """The answer's bytes as sent (an image, say); an error status is a ClientError."""
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers, **({"Content-Type": "application/json"} if data is not None else {}))
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            text = " ".join(exc.read().decode("utf-8", "replace").split()) or exc.reason
            raise ClientError(f"{method} {path}: {exc.code} {text}", exit_codes.for_status(exc.code)) from None
        except (urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise ClientError(f"the daemon at {self.base_url} did not answer within {TIMEOUT:.0f}s",
                                  exit_codes.UNREACHABLE) from None
            raise ClientError(f"cannot reach the daemon at {self.base_url} (is it running?)",
                              exit_codes.UNREACHABLE) from None
        except TimeoutError:
            raise ClientError(f"the daemon at {self.base_url} did not answer within {TIMEOUT:.0f}s",
                              exit_codes.UNREACHABLE) from None
        return raw


# -- commands -----------------------------------------------------------------
def status(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    health = api.call("GET", "/health")
    accounts = api.call("GET", "/api/accounts/status")
    cache = api.call("GET", "/api/cache/stats")
    answer = {"health": health, "accounts": accounts, "cache": cache}
    if args.json:
        return answer
    print(f"whatshooked at {api.base_url}: {health.get('status', 'unknown')}", file=out)
    print(f"accounts: {len(accounts)}", file=out)
    for account in accounts:
        error = f" ({account['last_error']})" if account.get("last_error") else ""
        print(f"  {account['id']:<20} {account.get('type', ''):<13} {account.get('state', '?')}{error}", file=out)
    print(_cache_line(cache), file=out)
    return answer


def send(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    body: dict[str, Any] = {"account_id": args.account, "to": args.to}
    if args.text is not None:
        path = "/api/send"
        body["text"] = args.text
    else:
        kind = next(flag for flag in MEDIA_FLAGS if getattr(args, flag) is not None)
        file: Path = getattr(args, kind)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ClientError(f"cannot read {file}: {exc.strerror}") from None
        path = f"/api/send/{kind}"
        body[f"{kind}_data"] = base64.b64encode(data).decode()
        body["mime_type"] = args.mime_type or mimetypes.guess_type(file.name)[0] or DEFAULT_MIME[kind]
        if args.caption and kind != "audio":
            body["caption"] = args.caption
        if kind == "document":
            body["filename"] = args.filename or file.name
    answer = api.call("POST", path, body)
    if not args.json:
        message_id = answer.get("message_id") if isinstance(answer, dict) else None
        print(f"sent to {args.to}" + (f" (message id {message_id})" if message_id else ""), file=out)
    return answer


def hooks_list(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    hooks = api.call("GET", "/api/hooks")
    if args.json:
        return hooks
    if not hooks:
        print("no hooks", file=out)
    for hook in hooks:
        state = "active" if hook.get("active", True) else "inactive"
        events = ",".join(hook.get("events") or []) or "all events"
        print(f"{hook['id']:<20} {state:<8} {hook.get('method', 'POST'):<5} {hook['url']}  [{events}]", file=out)
    return None


def hooks_add(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    body: dict[str, Any] = {"id": args.id, "name": args.name or args.id, "url": args.url, "active": True}
    if args.method:
        body["method"] = args.method
    if args.events:
        body["events"] = [event.strip() for event in args.events.split(",") if event.strip()]
    if args.secret or args.generate_secret:
        body["secret"] = args.secret or new_secret()
    answer = api.call("POST", "/api/hooks/add", body)
    if args.generate_secret and isinstance(answer, dict):
        answer = dict(answer, secret=body["secret"])  # shown once: the API never lists it again
    if not args.json:
        print(f"added hook {answer.get('hook_id', args.id) if isinstance(answer, dict) else args.id}", file=out)
        if args.generate_secret:
            print(f"signing secret (shown once; give it to the receiver): {body['secret']}", file=out)
    return answer


def hooks_remove(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    answer = api.call("POST", "/api/hooks/remove", {"id": args.id})
    if not args.json:
        print(f"removed hook {args.id}", file=out)
    return answer


def accounts_list(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    accounts = api.call("GET", "/api/accounts")
    states = {a["id"]: a for a in api.call("GET", "/api/accounts/status")}
    if args.json:
        return accounts
    if not accounts:
        print("no accounts", file=out)
    for account in accounts:
        state = states.get(account["id"], {}).get("state", "disabled" if account.get("disabled") else "?")
        phone = account.get("phone_number") or "-"
        print(f"{account['id']:<20} {account.get('type', 'whatsmeow'):<13} {phone:<16} {state}", file=out)
    return None


def cache_stats(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    stats = api.call("GET", "/api/cache/stats")
    if not args.json:
        print(_cache_line(stats), file=out)
    return stats




def _cache_line(stats: dict[str, Any]) -> str:
    if not stats.get("enabled", True):
        return "cache: disabled"
    by_type = ", ".join(f"{name}: {count}" for name, count in sorted((stats.get("by_event_type") or {}).items()))
    total = stats.get("total_count", 0)
    return f"cache: {total} undelivered event{'s' if total != 1 else ''}" + (f" ({by_type})" if by_type else "")


_HANDLERS = {
    ("status", None): status,
    ("send", None): send,
    ("hooks", "list"): hooks_list,
    ("hooks", "add"): hooks_add,
    ("hooks", "remove"): hooks_remove,
    ("accounts", "list"): accounts_list,
    ("cache", "stats"): cache_stats,
    ("cache", "list"): cache_list_command.cache_list,
}
