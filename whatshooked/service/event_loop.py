"""The event loop `serve` runs on (`server.event_loop`).

`auto`, the default, is uvloop when it is installed (it is a dependency on Linux and macOS) and
asyncio's own loop otherwise; `uvloop` insists on it (a config error when missing), `asyncio` never
uses it. uvloop runs the loop's own work (sockets, timers, callbacks) in C: measured in bench/relay.py.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What asyncio.Runner gets as loop_factory: None means asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """`uvloop` or `asyncio`, as the start-up log line says."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
