"""`ordered: true` hooks: the events of one chat reach the hook one at a time, in the order they came.

Each chat has a line of the jobs the hook owns for it, in the order the runner took them. Only a
line's first job may be attempted; the others are parked when they become due and start when
the one before leaves (delivered or given up; a retry keeps its place at the front). Events with
no chat (routing.ordering_key) wait for nothing.
"""

from __future__ import annotations

from collections import deque

from whatshooked.delivery.job import Job
from whatshooked.delivery.routing import ordering_key


class ChatLines:
    def __init__(self) -> None:
        self._lines: dict[str, deque[Job]] = {}
        self._line_of: dict[int, str] = {}  # id(job) -> its chat's key
        self._parked: set[int] = set()  # ids of jobs that are due but wait for the one before

    def join(self, job: Job) -> None:
        """Take the job's place at the end of its chat's line (once)."""
        key = ordering_key(job.event)
        if key is None or id(job) in self._line_of:
            return
        self._line_of[id(job)] = key
        self._lines.setdefault(key, deque()).append(job)

    def hold(self, job: Job) -> bool:
        """The job is due: True when it must wait for the one before it (it is parked until then)."""
        key = self._line_of.get(id(job))
        if key is None or self._lines[key][0] is job:
            return False
        self._parked.add(id(job))
        return True

    def leave(self, job: Job) -> Job | None:
        """The job is done; the next one of its chat when that one was parked (to be queued now)."""
        key = self._line_of.pop(id(job), None)
        self._parked.discard(id(job))
        if key is None:
            return None
        line = self._lines[key]
        was_first = line[0] is job
        line.remove(job)
        if not line:
            del self._lines[key]
            return None
        follower = line[0]
        if was_first and id(follower) in self._parked:
            self._parked.discard(id(follower))
            return follower
        return None

    def release(self) -> list[Job]:
        """Forget every line (the hook is no longer ordered): the parked jobs, to be queued now."""
        parked = [job for line in self._lines.values() for job in line if id(job) in self._parked]
        self._lines.clear()
        self._line_of.clear()
        self._parked.clear()
        return parked

    def __len__(self) -> int:
        return len(self._line_of)
