"""The event loop `serve` runs on (`server.event_loop`).

`asyncio` (the default) is Python's own loop; `uvloop` runs the loop's own work (sockets, timers,
callbacks) in C. Measured with bench/relay.py and bench/idle.py in the same runs: uvloop takes about
15% less CPU per event under load and about 2.5 MB more memory at idle, so it is the choice of a busy
daemon and not the default of a small one (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What asyncio.Runner gets as loop_factory: None means asyncio's default loop."""
    if choice != "uvloop":
        return None
    uvloop = importlib.import_module("uvloop")  # the config check made sure it is there
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """`uvloop` or `asyncio`, as the start-up log line says."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
