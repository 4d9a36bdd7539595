"""`whatshooked cache list`: the cache a page at a time (GET /api/cache), with what each hook still owes.

One page (`--limit`, default the server's 100) and a last line telling how to get the next one;
`--all` walks every page. A line per event: id, time, type, account, then each hook it is still owed
with that delivery's state and last error.
"""

from __future__ import annotations

import argparse
from typing import Any, Protocol, TextIO

FILTERS = (("event_type", "event_type"), ("account", "account_id"), ("hook", "hook_id"))


class Caller(Protocol):
    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any: ...


def add_arguments(listing: argparse.ArgumentParser) -> None:
    listing.add_argument("--type", dest="event_type", help="only events of this type")
    listing.add_argument("--account", help="only events of this account")
    listing.add_argument("--hook", help="only events this hook is still owed")
    listing.add_argument("--limit", type=int, help="events per page (1-1000; the daemon's default is 100)")
    listing.add_argument("--after", help="start after this event id (the `more:` line of the page before)")
    listing.add_argument("--all", action="store_true", help="every page, not just the first")


def cache_list(api: Caller, args: argparse.Namespace, out: TextIO) -> Any:
    query = {name: str(getattr(args, attr)) for attr, name in FILTERS if getattr(args, attr, None)}
    if getattr(args, "limit", None):
        query["limit"] = str(args.limit)
    after, pages, shown = getattr(args, "after", None), [], 0
    while True:
        answer = api.call("GET", "/api/cache", query={**query, **({"after": after} if after else {})})
        pages.append(answer)
        events = answer.get("cached_events") or []
        if not args.json:
            for item in events:
                print(_line(item), file=out)
        shown += len(events)
        after = answer.get("next_after")
        if not after or not getattr(args, "all", False):
            break
    if args.json:
        return pages[0] if len(pages) == 1 else {"cached_events": [e for p in pages for e in p["cached_events"]]}
    if not shown:
        print("no cached events", file=out)
    if after:
        print(f"more: whatshooked cache list --after {after}", file=out)
    return None


def _line(item: dict[str, Any]) -> str:
    event = item.get("event") or {}
    account = (event.get("data") or {}).get("account_id", "")
    line = f"{item['id']}  {item.get('timestamp', '')}  {event.get('type', '?'):<22} {account}"
    owed = [d for d in item.get("deliveries") or [] if d.get("state") != "delivered"]
    for row in owed:
        why = f": {row['last_error']}" if row.get("last_error") else ""
        line += f"  {row.get('hook_id')}({row.get('state')}{why})"
    return line
