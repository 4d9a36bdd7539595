"""The loop's default executor, kept where it can be found again.

asyncio keeps it in a private attribute and uvloop in none Python can see, yet the daemon must find
it: WhatsApp Web sessions size it (a Go call per session holds a thread for the session's life) and a
stop shuts it down without waiting. So whoever sets it does so here, and here it is looked up.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import Executor

_EXECUTORS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Executor] = weakref.WeakKeyDictionary()


def set_default_executor(loop: asyncio.AbstractEventLoop, executor: Executor) -> None:
    loop.set_default_executor(executor)
    _EXECUTORS[loop] = executor


def default_executor(loop: asyncio.AbstractEventLoop) -> Executor | None:
    """The executor set through this module; else asyncio's own (its private attribute), if any."""
    found = _EXECUTORS.get(loop)
    return found if found is not None else getattr(loop, "_default_executor", None)
