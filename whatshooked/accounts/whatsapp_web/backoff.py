"""Capped exponential backoff with ±20 % jitter, so many sessions do not reconnect in lockstep."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MAX_EXPONENT = 62
"""Far past any cap, far below float overflow: after ~85 hours offline the account still retries."""


@dataclass
class Backoff:
    base: float = 2.0
    cap: float = 300.0
    factor: float = 2.0
    jitter: float = 0.2
    """Each wait is the nominal delay scaled by a random factor in [1 - jitter, 1 + jitter]."""
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def nominal(self) -> float:
        """The un-jittered delay before the next attempt (grows, then stays at `cap`)."""
        exponent = min(max(0, self.attempts - 1), MAX_EXPONENT)  # 2.0 ** 1024 would raise OverflowError
        return min(self.cap, self.base * self.factor ** exponent)

    def next_delay(self) -> float:
        self.attempts += 1
        delay = self.nominal()
        return max(0.0, delay * self.rng.uniform(1 - self.jitter, 1 + self.jitter))

    def reset(self) -> None:
        self.attempts = 0
