"""The sd_notify protocol over `$NOTIFY_SOCKET`, standard library only.

systemd's `Type=notify` waits for READY=1, shows STATUS= in `systemctl status`, and with
`WatchdogSec=` restarts the service when WATCHDOG=1 stops arriving. The pings are sent by a task on
the event loop, not a thread, so a loop that is stuck stops pinging and gets restarted.
Without `$NOTIFY_SOCKET` (a terminal, tests, another supervisor) every call is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

log = logging.getLogger(__name__)

StatusSource = Callable[[], "str | Awaitable[str]"]

STATUS_EVERY = 30.0
"""Seconds between STATUS= refreshes when a status source is given to `start`."""


class Notifier:
    """One per daemon: `from_env()`, `start()` once the loop runs, `ready()`, …, `await close()`."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self._watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._failed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        return cls(address, _watchdog_usec(env))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def watchdog_interval(self) -> float | None:
        """`WatchdogSec=` in seconds when systemd expects pings from this process, else None."""
        return self._watchdog_usec / 1_000_000 if self._watchdog_usec and self.enabled else None

    # -- messages ---------------------------------------------------------
    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        """Send `ready()` again once the reload is done; MONOTONIC_USEC is what notify-reload wants."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def notify(self, *lines: str) -> bool:
        """Send one datagram; False (logged once) when systemd cannot be told."""
        if self.address is None or not lines:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(lines).encode(), _socket_address(self.address))
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify systemd through %s: %s", self.address, exc)
                self._failed = True
            return False
        self._failed = False
        return True

    # -- owned tasks ------------------------------------------------------
    def start(self, status_source: StatusSource | None = None, status_every: float = STATUS_EVERY) -> None:
        """Start the watchdog pings (if systemd asked for them) and the STATUS= refresher (if given)."""
        if not self.enabled or self._tasks:
            return
        interval = self.watchdog_interval()
        if interval:
            log.info("systemd watchdog: pinging every %.1fs", interval / 2)
            self._tasks.append(asyncio.create_task(self._ping_forever(interval / 2), name="systemd-watchdog"))
        if status_source is not None:
            self._tasks.append(
                asyncio.create_task(self._status_forever(status_source, status_every), name="systemd-status")
            )

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _ping_forever(self, every: float) -> None:
        while True:
            self.watchdog()
            await asyncio.sleep(every)

    async def _status_forever(self, source: StatusSource, every: float) -> None:
        while True:
            try:
                text = source()
                if not isinstance(text, str):
                    text = await text
                self.status(text)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cannot build the systemd status line")
            await asyncio.sleep(every)


def status_line(states: Iterable[str], cache_size: int | None) -> str:
    """`2/3 accounts connected, 5 events cached` — what `systemctl status` shows (disabled accounts, and those
    another daemon drives, aside)."""
    every = [str(state) for state in states]
    enabled = [state for state in every if state not in ("disabled", "standby")]
    connected = sum(1 for state in enabled if state == "connected")
    cache = "cache off" if cache_size is None else f"{cache_size} event{'s' if cache_size != 1 else ''} cached"
    tail = "".join(f", {count} {state}" for state in ("disabled", "standby") if (count := every.count(state)))
    return f"{connected}/{len(enabled)} accounts connected{tail}, {cache}"


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """$WATCHDOG_USEC, ignored when $WATCHDOG_PID names another process (as sd_watchdog_enabled does)."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    return usec if usec > 0 else None


def _socket_address(address: str) -> str | bytes:
    """'@name' is Linux's abstract namespace: a leading NUL byte instead of a file."""
    return b"\0" + address[1:].encode() if address.startswith("@") else address


def _one_line(text: str) -> str:
    return " ".join(text.split())
