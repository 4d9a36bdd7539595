"""A readers/writer gate for the Go calls that add, remove or look up neonize's clients.

neonize's Go side keeps every session in plain Go maps (`clients`, `StopSignal`, `eventChannel`) with
no lock. Two writers at once abort the whole process (`fatal error: concurrent map writes`, exit
134), and so does a *read* while another thread writes (`concurrent map read and map write`): no
Python code can catch either. Every exported call that serves one session starts with
`clients[C.GoString(id)]` (checked in neonize's goneonize/main.go: sends, uploads, downloads,
mark-read, presence, lookups), so every one of them is a reader.

The gate: the calls that write the maps (`Neonize` registering a client, `Stop`, `StopAll`) and the
lifecycle calls made around them (`EXCLUSIVE`) run on one owner thread, one at a time, each holding
the gate's write side; every other Go call holds the read side for its whole run. Readers share it, so
long network calls never wait for each other; a writer waits until the readers in flight are done, and
readers that come while a writer waits queue behind it (else a steady stream of sends would starve a
stop forever). Provably safe: Python cannot see when Go has passed its map lookup, so the read side
is held for the whole call, never released early on a guess.
The cost: a writer waits for the longest read in flight (a two-minute upload holds a start or stop
of another account, and the sends queued behind it, that long). Callers never wait for it without
a bound: a session's stop waits `STOP_WAIT` for its Go `Stop` and returns; the queue keeps the order,
so a later start of the same session still comes after that Stop.

`Neonize` is special: it registers the client in its first milliseconds and then blocks for the
session's whole life, so it runs ungated on its own thread while the owner thread holds the write
side until its registration is over: the first of the call returning, Go calling back for this
session (an event, a QR code, a login status), or `REGISTRATION_WINDOW` passing.
The owner is a daemon thread (not an executor's), so a Go call that never returns (a `Stop` waiting
for a dial into a silent network) cannot hold up the interpreter's exit, and neonize's own `Stop` at
exit (a cancelled connect task) is queued, never waited for (`_OwnedGocode`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import queue
import threading
from collections.abc import Callable
from typing import Any

from whatshooked.accounts.whatsapp_web import bindings as nz

UNGATED = frozenset({"Neonize"})
"""Go functions that take no part of the gate: `Neonize` is covered by `hold_for_registration`."""

EXCLUSIVE = frozenset({"Stop", "StopAll", "Disconnect", "Logout", "IsConnected", "IsLoggedIn", "PairPhone",
                       "SetProxyAddress"})
"""Go functions (by export name) run by the owner thread; `Neonize` is covered by `hold_for_registration`."""

REGISTRATION_WINDOW = 2.0
"""Longest a starting session keeps the owner thread while Go registers its client."""

_jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], concurrent.futures.Future[Any]]] = (
    queue.SimpleQueue())
_owner: threading.Thread | None = None
_owner_lock = threading.Lock()


class ReadWriteGate:
    """Readers share, a writer is alone; waiting writers go before new readers."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    def read(self, function: Callable[..., Any], *args: Any) -> Any:
        with self._changed:
            self._changed.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            return function(*args)
        finally:
            with self._changed:
                self._readers -= 1
                if not self._readers:
                    self._changed.notify_all()

    def write(self, function: Callable[..., Any], *args: Any) -> Any:
        with self._changed:
            self._writers_waiting += 1
            try:
                self._changed.wait_for(lambda: not self._writing and not self._readers)
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            return function(*args)
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()


gate = ReadWriteGate()


def _serve() -> None:
    while True:
        function, args, future = _jobs.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(gate.write(function, *args))
        except BaseException as exc:  # handed to the caller
            future.set_exception(exc)


def submit(function: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
    """Run `function(*args)` on the owner thread, after every call submitted before it."""
    global _owner
    with _owner_lock:
        if _owner is None:
            _owner = threading.Thread(target=_serve, name="whatshooked-go-owner", daemon=True)
            _owner.start()
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    _jobs.put((function, args, future))
    return future


def owned(function: Callable[..., Any], *args: Any) -> Any:
    """Blocking form of `submit` (never call it from the owner thread itself)."""
    return submit(function, *args).result()


class GatedGoCode:
    """Stands in for neonize's `async_gocode` on one client: the same calls, awaitable; the lifecycle
    ones run on the owner thread, the others as readers in the loop's default executor."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        function = getattr(nz.gocode, name)

        def call(*args: Any) -> Any:
            if name in EXCLUSIVE:
                return asyncio.wrap_future(submit(function, *args))
            if name in UNGATED:
                return asyncio.to_thread(function, *args)
            return asyncio.to_thread(gate.read, function, *args)

        return call


async def hold_for_registration(registered: threading.Event) -> None:
    """Occupy the owner thread until `registered` is set (or the window passes); returns once it is held."""
    loop = asyncio.get_running_loop()
    held: asyncio.Future[None] = loop.create_future()

    def mark_held() -> None:
        if not held.done():
            held.set_result(None)

    def hold() -> None:
        loop.call_soon_threadsafe(mark_held)
        registered.wait(REGISTRATION_WINDOW)

    submit(hold)
    await held


def stop_client(uuid: bytes) -> concurrent.futures.Future[Any]:
    """Remove a client from Go's maps (disconnecting it); harmless when it is not there."""
    return submit(nz.gocode.Stop, uuid)


def is_registered(uuid: bytes) -> bool:
    """Whether Go still holds a client under `uuid`: `SetProxyAddress(id, NULL)` only looks it up. Blocking."""
    answer = owned(nz.gocode.SetProxyAddress, uuid, ctypes.POINTER(nz.ProxySettingsStruct)())
    return bool(answer != b"client not found")


NOT_WAITED = frozenset({"Stop", "StopAll"})
"""Lifecycle calls neonize makes itself and ignores the answer of: queued, never waited for."""


class _OwnedGocode:
    """What neonize's client module calls `gocode`: lifecycle calls go through the owner thread,
    the others through the read side of the gate.

    neonize itself calls `gocode.Stop` directly when a connect task is cancelled (asyncio.run
    cancelling what is left at exit); ungated, that could race another session's Stop; waited for,
    it would hold the exit behind a Stop stuck in a dial (the owner thread may be in one already).
    """

    def __getattr__(self, name: str) -> Any:
        function = getattr(nz.gocode, name)
        if name in UNGATED:
            return function
        if name in NOT_WAITED:
            return lambda *args: _queue(function, *args)
        if name in EXCLUSIVE:
            return lambda *args: owned(function, *args)
        return lambda *args: gate.read(function, *args)


def _queue(function: Callable[..., Any], *args: Any) -> None:
    submit(function, *args)


nz.aio_client.gocode = _OwnedGocode()
