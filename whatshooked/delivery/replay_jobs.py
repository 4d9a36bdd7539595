"""Manual replays as jobs: each runs in the background and tells its progress (`GET /api/replays/{id}`).

`POST /api/cache/replay` starts one and, unless `wait=false`, waits for it; either way the job can be
followed by id. The dispatcher owns the tasks (cancelled at shutdown). Finished jobs are remembered,
the last `KEEP` of them, so a client polling a little late still reads the outcome.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from whatshooked.delivery.replay import DELIVERED, FAILED, Replayer, ReplayResult
from whatshooked.delivery.replay_filter import ReplayFilter
from whatshooked.errors import StoreError

KEEP = 100  # finished jobs remembered
Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


@dataclass(eq=False)
class ReplayJob:
    id: str
    wanted: ReplayFilter
    state: str = "counting"  # counting -> running -> done | failed | cancelled
    total: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0  # no hook matches the event now
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    result: ReplayResult | None = None
    task: asyncio.Task[ReplayResult] | None = None

    def start(self, total: int) -> None:
        self.total = total
        self.state = "running"

    def step(self, outcome: str) -> None:
        if outcome == DELIVERED:
            self.delivered += 1
        elif outcome == FAILED:
            self.failed += 1
        else:
            self.skipped += 1

    @property
    def remaining(self) -> int:
        return max(self.total - self.delivered - self.failed - self.skipped, 0)

    def to_json(self) -> dict[str, Any]:
        filters = {name: value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else value
                   for name, value in self.wanted.as_dict().items() if value is not None}
        return {"job_id": self.id, "state": self.state, "total": self.total, "delivered": self.delivered,
                "failed": self.failed, "skipped": self.skipped, "remaining": self.remaining, "filters": filters,
                "error": self.error}


class ReplayJobs:
    def __init__(self, replayer: Replayer, spawn: Spawn) -> None:
        self._replayer = replayer
        self._spawn = spawn
        self._jobs: OrderedDict[str, ReplayJob] = OrderedDict()

    def start(self, wanted: ReplayFilter) -> ReplayJob:
        job = ReplayJob(f"rpl_{secrets.token_hex(8)}", wanted)
        self._jobs[job.id] = job
        job.task = self._spawn(self._run(job), f"whatshooked-replay-{job.id}")
        self._forget_old()
        return job

    def get(self, job_id: str) -> ReplayJob | None:
        return self._jobs.get(job_id)

    async def _run(self, job: ReplayJob) -> ReplayResult:
        try:
            job.result = await self._replayer.replay_matching(job.wanted, job)
        except asyncio.CancelledError:
            job.state = "cancelled"
            raise
        except StoreError as exc:
            job.state, job.error = "failed", str(exc)
            raise
        finally:
            job.finished_at = time.time()
        job.state = "done"
        return job.result

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.finished_at is not None]
        for job_id in finished[:max(len(finished) - KEEP, 0)]:
            del self._jobs[job_id]
