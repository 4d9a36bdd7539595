"""What a manual replay selects (DESIGN §8.3 filters), and how it reports progress (replay jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from whatshooked.events import Event, event_matches


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Every field optional: the default selects every kept event, to every hook that matches it now."""

    event_type: str | None = None  # a type, or a pattern like message.* (as a hook's `events`)
    account_id: str | None = None
    hook_id: str | None = None  # only to this hook (and only the events it matches)
    since: datetime | None = None  # the event's own `timestamp`, inclusive
    until: datetime | None = None  # exclusive

    def selects(self, event: Event) -> bool:
        if self.event_type is not None and not event_matches((self.event_type,), event.type):
            return False
        if self.account_id is not None and event.account_id != self.account_id:
            return False
        if self.since is None and self.until is None:
            return True
        moment = event_time(event)
        if moment is None:
            return False
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)

    @property
    def by_event(self) -> bool:
        """It looks into the events (type, account, time), not only at where they go."""
        return any(value is not None for value in (self.event_type, self.account_id, self.since, self.until))

    def describe(self) -> str:
        """For the log: ` (event_type=…, hook_id=…)`, or nothing without filters."""
        parts = [f"{name}={value.isoformat() if isinstance(value, datetime) else value}"
                 for name, value in self.as_dict().items() if value is not None]
        return f" ({', '.join(parts)})" if parts else ""

    def as_dict(self) -> dict[str, str | datetime | None]:
        return {"event_type": self.event_type, "account_id": self.account_id, "hook_id": self.hook_id,
                "since": self.since, "until": self.until}


def event_time(event: Event) -> datetime | None:
    """The event's `timestamp` (ISO 8601 with a Z) as an aware datetime; None if it is not one."""
    try:
        moment = datetime.fromisoformat(event.timestamp)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Progress(Protocol):
    """Told the number of selected events once, then each one's outcome (delivered, failed or skipped)."""

    def start(self, total: int) -> None: ...

    def step(self, outcome: str) -> None: ...
