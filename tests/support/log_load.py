"""A hook that is down for N events, then answers again: how many log lines does that cost?

Used by tests/test_hook_health.py, and runnable against any checkout to measure (issue 12):
    python -m tests.support.log_load 3000
prints the number of log lines at INFO and above the daemon wrote, and their size. The hook answers
500 to every attempt, retried twice (10 ms waits), then 200: new traffic starts the automatic replay.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.harness import Running, config, hook, running, until
from tests.support.receiver import HookReceiver, Reply

ACCOUNT = "  - id: personal\n"
DELIVERY = "delivery:\n  retry: [10ms, 10ms]\n  timeout: 5s\n"


@dataclass(eq=False)
class Lines(logging.Handler):
    """Every record of whatshooked's loggers at `level` and above, formatted as the daemon's log would be."""

    records: list[logging.LogRecord] = field(default_factory=list)
    recovery: float = 0.0  # seconds from the first 2xx until the cache was empty

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("whatshooked"):
            self.records.append(record)

    @property
    def size(self) -> int:
        return sum(len(record.getMessage()) + 1 for record in self.records)


async def down_then_back(tmp_path: Path, events: int, receiver: HookReceiver, extra_hooks: str = "",
                         during: Lines | None = None) -> Running | None:
    """Run the load; `during` collects the lines. Returns nothing: the daemon is closed when done."""
    receiver.default = Reply(status=500)
    lines = during or Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(lines)
    root.setLevel(logging.INFO)
    try:
        text = config(hooks=hook("crm", receiver.url) + extra_hooks, accounts=ACCOUNT, extra=DELIVERY)
        async with running(tmp_path, text) as run:
            adapter = run.adapter("personal")
            for index in range(events):
                await adapter.receive(f"m{index}")
            runner = run.daemon.dispatcher.hooks["crm"]
            await until(lambda: len(receiver.requests) >= 3 * events and not runner.jobs, within=120)
            receiver.default = Reply(status=200)
            started = time.monotonic()
            await adapter.receive("back")
            await until(lambda: run.daemon.store.count == 0, within=600)
            lines.recovery = time.monotonic() - started
    finally:
        root.removeHandler(lines)
        root.setLevel(level)
    return None


async def _measure(events: int) -> None:
    receiver = HookReceiver()
    await receiver.start()
    lines = Lines()
    try:
        with tempfile.TemporaryDirectory() as folder:
            await down_then_back(Path(folder), events, receiver, during=lines)
    finally:
        await receiver.close()
    print(f"{events} events to a down hook, then recovery: {len(lines.records)} log lines "
          f"({lines.size} bytes of messages), {len(receiver.requests)} requests to the hook, "
          f"recovery (replay of all of them) in {lines.recovery:.1f}s")


if __name__ == "__main__":
    asyncio.run(_measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
