"""One event owed to one hook (a Job), and what every hook's runner shares to settle one (Lanes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from whatshooked.config.model import Config, HookConfig
from whatshooked.delivery.health import Health
from whatshooked.delivery.hook_http import HookHttp
from whatshooked.delivery.owed_check import OwedCheck
from whatshooked.events import Event
from whatshooked.store.base import Store


@dataclass(slots=True, eq=False)
class Job:
    event: Event
    body: bytes
    attempts: int = 0  # failed attempts in this round of retries
    committed_at: float | None = None  # loop time of the commit, for the latency metric
    single: bool = False  # a manual replay: one attempt, no retries
    paused: bool = False  # it sat out a pause of its hook: its row may have been deleted meanwhile
    waiters: list[asyncio.Future[bool]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    vouched: tuple[int, float, bool] | None = None  # "still owed?" read ahead for it (owed_check.py)

    def settle(self, delivered: bool) -> None:
        """Tell whoever waits for this job's next attempt how it went."""
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(delivered)
        self.waiters.clear()


@dataclass(slots=True)
class Lanes:
    """Shared by every hook's runner: where attempts go out and fates are recorded. The dispatcher
    keeps `config` and `timeout` current (reloads) and routes what a runner reports back."""

    config: Config
    store: Store
    http: HookHttp
    wants_replies: bool
    on_reply: Callable[[Event, Any, str], None]  # a hook answered with a reply body: (event, reply, hook id)
    on_answering: Callable[[str], None]  # this hook, failing (or unknown) so far, answered 2xx again
    closing: Callable[[], bool]
    health: Health = field(default_factory=Health)  # every attempt's outcome, per hook (health.py)
    timeout: float = field(init=False)  # seconds
    owed: OwedCheck = field(init=False)  # "still owed?" before a retry, replay or resume: many in one read

    def __post_init__(self) -> None:
        self.owed = OwedCheck(self.store)
        self.follow(self.config)

    def follow(self, config: Config) -> None:
        self.config = config
        self.timeout = config.delivery.timeout

    def limits(self, hook: HookConfig) -> float:
        """The hook's own `timeout`, else delivery.timeout (seconds)."""
        return self.timeout if hook.timeout is None else hook.timeout

    def waits(self, hook: HookConfig) -> tuple[float, ...]:
        """The hook's own `retry`, else delivery.retry."""
        return self.config.delivery.retry if hook.retry is None else hook.retry
