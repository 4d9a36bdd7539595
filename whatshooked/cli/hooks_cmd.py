"""`whatshooked hooks status|update|test` and `cache replay` with filters and progress (DESIGN §8.4).

Registered by cli/main.py on the client commands (cli/client.py): each sub-command carries its
handler (`set_defaults(handler=…)`). `cache replay` starts a job (`wait=false`) and polls it, printing
progress as it changes, so a replay to a slow hook shows it is moving and never gives up while the
daemon goes on (before: nothing for 60 s, then a timeout).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, TextIO

from whatshooked.cli.client import Api, ClientError

POLL = 0.5  # seconds between progress polls of a replay job
CONFIG_HELP = "config file of the daemon to talk to (default: $WHATSHOOKED_CONFIG, else ./config.yaml)"


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    """The sub-commands of a client command (`hooks`, `cache`) as cli/client.py made them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError(f"{parser.prog} has no sub-commands")


def _command(parent: Any, name: str, text: str, handler: Any) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = parent.add_parser(name, help=text, description=text)
    sub.add_argument("-c", "--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    sub.add_argument("--json", action="store_true", help="print the API's JSON answer as is")
    sub.set_defaults(handler=handler)
    return sub


def add_commands(commands: Any) -> None:
    """Add to the `hooks` and `cache` commands that cli/client.py registered on `commands`."""
    hooks = _subcommands(commands.choices["hooks"])
    _command(hooks, "status", "each hook's state (healthy, failing, paused) and what it is owed", hooks_status)
    update = _command(hooks, "update", "change some fields of a hook (written back to the config file)",
                      hooks_update)
    update.add_argument("id")
    update.add_argument("--url")
    update.add_argument("--name")
    update.add_argument("--method", choices=("GET", "POST", "PUT", "PATCH"), type=str.upper)
    update.add_argument("--events", help="comma-separated event names or patterns (empty: every event)")
    update.add_argument("--secret", help="whsec_… signing secret (empty: none)")
    update.add_argument("--description")
    state = update.add_mutually_exclusive_group()
    state.add_argument("--pause", dest="active", action="store_false", default=None,
                       help="stop delivering to it (its events wait)")
    state.add_argument("--resume", dest="active", action="store_true", help="deliver to it again")
    test = _command(hooks, "test", "send a hook.test event to one hook now and tell what it answered", hooks_test)
    test.add_argument("id")

    replay = _subcommands(commands.choices["cache"]).choices["replay"]
    replay.set_defaults(handler=cache_replay)
    replay.add_argument("--type", dest="event_type", help="only events of this type (or pattern, e.g. message.*)")
    replay.add_argument("--account", help="only events of this account")
    replay.add_argument("--hook", help="only to this hook")
    replay.add_argument("--since", help="only events from this time on (ISO 8601 UTC, e.g. 2026-12-01T00:00:00Z)")
    replay.add_argument("--until", help="only events before this time (ISO 8601 UTC)")


# -- handlers: (api, args, out) -> what --json prints -------------------------------------------------
def hooks_status(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    hooks = api.call("GET", "/api/hooks/status")
    if args.json:
        return hooks
    if not hooks:
        print("no hooks", file=out)
    for hook in hooks:
        age = hook.get("oldest_pending_age_s")
        owed = f"{hook.get('pending', 0)} owed" + (f" (oldest {age:.0f}s)" if age is not None else "")
        error = f"  last error: {hook['last_error']}" if hook.get("state") == "failing" and hook.get("last_error") \
            else ""
        print(f"{hook['id']:<20} {hook.get('state', '?'):<8} {owed}{error}", file=out)
    return None


def hooks_update(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    body: dict[str, Any] = {"id": args.id}
    for name in ("url", "name", "method", "secret", "description", "active"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    if args.events is not None:
        body["events"] = [event.strip() for event in args.events.split(",") if event.strip()]
    if len(body) == 1:
        raise ClientError("nothing to change: give at least one of --url, --name, --method, --events, --secret, "
                          "--description, --pause, --resume")
    answer = api.call("POST", "/api/hooks/update", body)
    if not args.json:
        print(f"updated hook {args.id}", file=out)
    return answer


def hooks_test(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    answer = api.call("POST", "/api/hooks/test", {"id": args.id})
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False), file=out)
    else:
        status = answer.get("http_status")
        how = f"HTTP {status}" if status is not None else answer.get("error") or "no answer"
        print(f"hook {args.id}: {answer.get('status')} ({how}, {answer.get('latency_ms', 0):.0f} ms)", file=out)
    if answer.get("status") != "ok":
        raise ClientError(f"hook {args.id} did not take the test event: {answer.get('error') or 'no 2xx answer'}")
    return None


def cache_replay(api: Api, args: argparse.Namespace, out: TextIO) -> Any:
    filters = {name: value for name, value in (("event_type", args.event_type), ("account_id", args.account),
                                               ("hook_id", args.hook), ("since", args.since),
                                               ("until", args.until)) if value is not None}
    if args.id:
        if filters:
            raise ClientError("give an event id or filters, not both")
        answer = api.call("POST", "/api/cache/event/replay", {"id": args.id})
        if not args.json:
            print(answer.get("message") or f"replayed {args.id}", file=out)
        return answer
    started = api.call("POST", "/api/cache/replay", {**filters, "wait": False})
    job = follow(api, started["job_id"], None if args.json else out)
    if job.get("state") != "done":
        raise ClientError(f"replay {job.get('job_id')} ended {job.get('state')}: {job.get('error') or 'see the log'}")
    return job


def follow(api: Api, job_id: str, out: TextIO | None, poll: float = POLL) -> Any:
    """Poll the job until it ends; print its progress when it changes (a line each, or in place on a TTY)."""
    live = out is not None and out.isatty()
    shown = None
    while True:
        job = api.call("GET", f"/api/replays/{job_id}")
        line = (f"replay {job_id}: {job['delivered'] + job['failed'] + job.get('skipped', 0)}/{job['total']} "
                f"({job['delivered']} delivered, {job['failed']} failed, {job['remaining']} remaining)")
        if out is not None and line != shown and job["state"] != "counting":
            print(("\r" + line) if live else line, end="" if live else "\n", file=out, flush=True)
            shown = line
        if job["state"] not in ("counting", "running"):
            if live and out is not None:
                print(file=out)
            return job
        time.sleep(poll)

