"""One owner thread for the Go calls that add, remove or look up neonize's clients.

neonize's Go side keeps every session in plain Go maps (`clients`, `StopSignal`, `eventChannel`) with
no lock: two accounts starting or stopping at once abort the whole process with `fatal error:
concurrent map writes` (exit 134), which no Python code can catch. So every Go call that writes
those maps (`Neonize` registering a client, `Stop`, `StopAll`) or that the lifecycle makes while
others may write them (`Disconnect`, `Logout`, `IsConnected`, `IsLoggedIn`, `PairPhone`, our probe
`SetProxyAddress`) runs on one thread, one at a time.

`Neonize` is special: it registers the client in its first milliseconds and then blocks for the
session's whole life, so it runs on its own thread while the owner thread waits for its
registration to be over: the first of the call returning, Go calling back for this session (an
event, a QR code, a login status), or `REGISTRATION_WINDOW` passing (opening a session database
takes milliseconds). Long network calls (sends, uploads, downloads) only read the map once at their
start; they are not serialised, so a stop never waits for a two-minute upload.
A daemon thread (not an executor's) owns the calls, so a Go call that never returns cannot hold up
the interpreter's exit, and waiting never takes a thread from the loop's default executor.
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

EXCLUSIVE = frozenset({"Stop", "StopAll", "Disconnect", "Logout", "IsConnected", "IsLoggedIn", "PairPhone",
                       "SetProxyAddress"})
"""Go functions (by export name) run by the owner thread; `Neonize` is covered by `hold_for_registration`."""

REGISTRATION_WINDOW = 2.0
"""Longest a starting session keeps the owner thread while Go registers its client."""

_jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], concurrent.futures.Future[Any]]] = (
    queue.SimpleQueue())
_owner: threading.Thread | None = None
_owner_lock = threading.Lock()


def _serve() -> None:
    while True:
        function, args, future = _jobs.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(function(*args))
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
    ones run on the owner thread, the others in the loop's default executor as neonize runs them."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        function = getattr(nz.gocode, name)

        def call(*args: Any) -> Any:
            if name in EXCLUSIVE:
                return asyncio.wrap_future(submit(function, *args))
            return asyncio.to_thread(function, *args)

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


class _OwnedGocode:
    """What neonize's client module calls `gocode`: lifecycle calls go through the owner thread.

    neonize itself calls `gocode.Stop` directly when a connect task is cancelled (asyncio.run
    cancelling what is left at exit); ungated, that could race another session's Stop.
    """

    def __getattr__(self, name: str) -> Any:
        function = getattr(nz.gocode, name)
        if name not in EXCLUSIVE:
            return function
        return lambda *args: owned(function, *args)


nz.aio_client.gocode = _OwnedGocode()
