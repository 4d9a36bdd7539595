"""The daemon's lifecycle: open the parts in order, serve the API, close them in reverse.

Order: store, HTTP client, media store, dispatcher, accounts, then the API (and READY=1 to
systemd); WhatsApp Web accounts finish starting meanwhile (AccountManager.start: neonize loads in a
thread). A stop (SIGTERM/SIGINT, heeded from the start) closes the API first (no new requests),
then accounts, the dispatcher (which keeps undelivered work in the store), media, the HTTP client
and the store.
SIGHUP reloads hooks, accounts and delivery settings from the file. The dispatcher prunes the cache.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web

from whatshooked.accounts.manager import DISCONNECT_TIMEOUT, AccountManager, Lent
from whatshooked.accounts.registry import Registry
from whatshooked.accounts.seams import Seams
from whatshooked.api.app import build_app
from whatshooked.api.connections import CONNECTIONS, GuardedSite, quiet_fd_exhaustion
from whatshooked.config.model import Config, ServerConfig
from whatshooked.config.settings import Settings
from whatshooked.delivery.dispatcher import Dispatcher
from whatshooked.errors import ConfigError, ListenError
from whatshooked.events import Event
from whatshooked.executors import default_executor, set_default_executor
from whatshooked.media.store import MediaStore
from whatshooked.service.config_sync import ConfigSync
from whatshooked.service.event_loop import loop_factory, loop_name
from whatshooked.service.go_output import release_go_output
from whatshooked.service.metrics import Metrics
from whatshooked.service.systemd_notify import Notifier, status_line
from whatshooked.service.takeover import take_over_forever
from whatshooked.store.base import Store, StoreUnreadable
from whatshooked.store.open import open_store
from whatshooked.store.postgres import node_id

log = logging.getLogger(__name__)

STOP_BUDGET = 10.0
"""DESIGN §2: a stop finishes within this many seconds."""
REQUESTS_GRACE = 1.5
"""Open API requests get this long to finish once the listener is closed, and aiohttp waits as long
again after asking them to stop: the API's close takes up to twice this."""
DELIVERY_GRACE = STOP_BUDGET - 2 * REQUESTS_GRACE - DISCONNECT_TIMEOUT - 2.0
"""Of the budget: how long deliveries in flight get to finish (the rest stay in the store)."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
THREADS_GRACE = 0.5
"""Once everything is closed, how long threads still running get to end before they are left behind."""


class Daemon:
    """Owner of every long-lived part. `await open()`, then `build_app(daemon)`, then `await close()`."""

    def __init__(self, settings: Settings, registry: Registry | None = None, notifier: Notifier | None = None,
                 seams: Seams | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.notifier = notifier
        self.seams = seams or Seams()
        """Lent to every adapter as `ctx.seams` (backend-typed test seams, e.g. a WhatsApp Web session factory)."""
        self.metrics = Metrics()
        self.store: Store
        self.http: aiohttp.ClientSession
        self.media: MediaStore
        self.dispatcher: Dispatcher
        self.accounts: AccountManager
        self._stack = contextlib.AsyncExitStack()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def open(self) -> None:
        config = self.settings.config
        stack = self._stack
        try:
            try:
                self.store = await open_store(config.storage, config.message_cache.enabled)
            except StoreUnreadable as exc:  # exit 2 with one line, like any other config problem
                raise ConfigError([f"{config.path}: {config.storage.key}: {exc}"]) from None
            except OSError as exc:  # its folder cannot be made (under a file, a read-only place, …)
                why = f"{exc.strerror} ({exc.filename})" if exc.strerror and exc.filename else str(exc)
                raise ConfigError([f"{config.path}: storage.path: cannot create the store {config.storage.path}: "
                                   f"{why}"]) from None
            stack.push_async_callback(self.store.close)
            self.http = aiohttp.ClientSession()
            stack.push_async_callback(self.http.close)
            self.media = MediaStore.from_config(config)
            self.media.start()
            stack.push_async_callback(self.media.close)
            self.dispatcher = Dispatcher(config, self.store, self.metrics, reply_handler=self._reply)
            await self.dispatcher.start()
            stack.push_async_callback(self._close_dispatcher)
            leases = self.store.account_leases
            lent = Lent(emit=self.dispatcher.publish, http=self.http, media=self.media, metrics=self.metrics,
                        seams=self.seams, node=leases.node if leases is not None else node_id(config.storage),
                        leases=leases)
            self.accounts = AccountManager(lent, self.registry)
            stack.push_async_callback(self.accounts.close)
            await self.accounts.start(config, background=True)  # a slow backend loads while the API listens
            if self.store.lease is not None:  # a database shared with other daemons
                self._spawn(take_over_forever(self.store, self.dispatcher, self.store.lease), "takeover")
                self._spawn(self.accounts.hold_forever(), "account-leases")
                sync = ConfigSync(self.store, self.settings.path, self.settings.reload, self._spawn)
                self.settings.listen(sync.applied)
                self.store.on_announcement(sync.heard)
        except BaseException:
            await stack.aclose()
            raise
        self.settings.listen(self._apply)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stack.aclose()
        log.info("whatshooked stopped")

    async def _close_dispatcher(self) -> None:
        await self.dispatcher.close(DELIVERY_GRACE)

    # -- behaviour ------------------------------------------------------------
    async def _reply(self, event: Event, items: list[dict[str, Any]]) -> None:
        await self.accounts.handle_reply(event, items)

    async def _apply(self, config: Config) -> None:
        """A changed config (API write-back or SIGHUP): hooks and accounts follow it."""
        self.dispatcher.apply_config(config)
        await self.accounts.apply(config)

    def reload(self) -> None:
        """SIGHUP: re-read the file in the background; events keep flowing meanwhile."""
        log.info("SIGHUP: reloading %s", self.settings.path)
        self._spawn(self._reload(), "reload")

    async def _reload(self) -> None:
        before = self.settings.config
        if self.notifier is not None:
            self.notifier.reloading()
        reloaded = await self.settings.reload()
        if self.notifier is not None:
            self.notifier.ready(self.status_line())
        if reloaded:
            after = self.settings.config
            for section in ("server", "storage", "media"):
                if getattr(before, section) != getattr(after, section):
                    log.warning("config section %s changed: it takes effect at the next restart", section)
            if before.message_cache.enabled != after.message_cache.enabled:
                log.warning("message_cache.enabled changed: it takes effect at the next restart")

    def status_line(self) -> str:
        """One line for `systemctl status`: accounts connected, events cached."""
        states = [adapter.state.value for adapter in self.accounts.adapters()]
        return status_line(states, self.store.count if self.store.persistent else None)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"whatshooked-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())


def serve(settings: Settings, registry: Registry | None = None, seams: Seams | None = None) -> None:
    """Run until SIGTERM/SIGINT (then return: exit 0). Startup failures propagate.

    A stop never waits for executor threads without a limit. asyncio.run() would end by joining every
    default-executor thread with no timeout (Python 3.11), and the interpreter joins them again at exit,
    so one neonize Go call that never returns (a network silently dropping traffic) would hold the stop
    until systemd's SIGKILL. So the executor is shut down without waiting, and if threads are still
    busy once everything we own is closed (store, sessions, sockets), they are named in one warning and,
    with logs and stdout flushed, the process ends at once with exit 0 (`os._exit`). A normal stop, with
    no such thread, exits the normal way.
    """
    runner = asyncio.Runner(loop_factory=loop_factory(settings.config.server.event_loop))
    set_default_executor(runner.get_loop(), concurrent.futures.ThreadPoolExecutor(thread_name_prefix="whatshooked"))
    try:
        runner.run(run(settings, registry, seams=seams))
    finally:
        _release_default_executor(runner.get_loop())
        runner.close()
    stuck = _busy_threads(THREADS_GRACE)
    if stuck:
        log.warning("stopped, but %d thread(s) are still inside calls that never returned (%s; WhatsApp Web "
                    "sessions' Go calls hang like this when the network drops traffic): exiting without them",
                    len(stuck), ", ".join(stuck))
        release_go_output()  # os._exit skips atexit: log what Go printed last before the log closes
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None when started with the descriptor closed (`>&-`)
                stream.flush()
        os._exit(0)


def _release_default_executor(loop: asyncio.AbstractEventLoop) -> None:
    """Shut the loop's default executor down without waiting for its threads.

    An idle replacement stays behind for the loop's own final join (which then has nothing to wait for).
    """
    executor = default_executor(loop)
    if executor is not None:
        executor.shutdown(wait=False, cancel_futures=True)
        set_default_executor(loop, concurrent.futures.ThreadPoolExecutor(max_workers=1))


def _busy_threads(grace: float) -> list[str]:
    """Names of the threads (other than this one) that the interpreter would wait for, after `grace` seconds."""
    deadline = time.monotonic() + grace
    busy = []
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            busy.append(thread.name)
    return busy


async def run(settings: Settings, registry: Registry | None = None, notifier: Notifier | None = None,
              seams: Seams | None = None) -> None:
    """Open the daemon, listen, tell systemd READY=1, wait for a stop signal, close in reverse.

    SIGTERM/SIGINT are watched before anything opens: accounts may take a while to connect, and a stop
    asked for meanwhile is still a clean stop (what was opened is closed; exit 0), not a kill.
    """
    notifier = notifier or Notifier.from_env()
    loop = asyncio.get_running_loop()
    stop, early_reload = asyncio.Event(), asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, early_reload.set)  # kept for when the daemon can reload
    try:
        await _check_port(settings.config.server)
        daemon = Daemon(settings, registry, notifier, seams)
        if not await _open_unless_stopped(daemon, stop):
            log.info("stopped while starting up")
            return
        try:
            await _listen(daemon, notifier, stop, early_reload)
        finally:
            await daemon.close()
    finally:
        await notifier.close()
        for signum in (*STOP_SIGNALS, signal.SIGHUP):
            loop.remove_signal_handler(signum)



async def _check_port(server: ServerConfig) -> None:
    """Fail before opening anything (accounts, sessions) when the API's address cannot be listened on:
    bound the same way the API binds it, then let go."""
    try:
        probe = await asyncio.get_running_loop().create_server(asyncio.Protocol, server.host, server.port,
                                                                reuse_address=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = " (is another whatshooked running?)" if exc.errno == errno.EADDRINUSE else ""
        raise ListenError(f"cannot listen on {server.host}:{server.port} (server.host / server.port): "
                          f"{reason}{hint}") from None
    probe.close()
    await probe.wait_closed()


async def _open_unless_stopped(daemon: Daemon, stop: asyncio.Event) -> bool:
    """Open the daemon unless a stop comes first (then the opening is cancelled and closes what it had
    opened); a stop that comes as the opening ends closes it again, before the API listens. True: open."""
    opening = asyncio.ensure_future(daemon.open())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((opening, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        opening.cancel()  # no-op once it is done
        stopped.cancel()
        await asyncio.wait((opening, stopped))
    if opening.cancelled():
        return False
    opening.result()  # a start-up failure propagates
    if stop.is_set():
        await daemon.close()
        return False
    return True


async def _listen(daemon: Daemon, notifier: Notifier, stop: asyncio.Event, early_reload: asyncio.Event) -> None:
    """Serve the API (and SIGHUP reloads, including one asked for while starting) until `stop` is set."""
    server = daemon.settings.config.server
    loop = asyncio.get_running_loop()
    app = build_app(daemon)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=REQUESTS_GRACE, handle_signals=False)
    await runner.setup()
    loop.set_exception_handler(quiet_fd_exhaustion)
    try:
        await GuardedSite(runner, server.host, server.port, app[CONNECTIONS]).start()
        log.info("API listening on http://%s:%d (event loop: %s)", server.host, server.port, loop_name(loop))
        config = daemon.settings.config
        log.info("whatshooked ready: %d account(s), %d hook(s), cache %s", len(config.accounts),
                 len(config.hooks), "on" if daemon.store.persistent else "off")
        loop.add_signal_handler(signal.SIGHUP, daemon.reload)
        if early_reload.is_set():
            daemon.reload()
        notifier.start(daemon.status_line)
        notifier.ready(daemon.status_line())
        await stop.wait()
        log.info("stopping")
        notifier.stopping()
    finally:
        await runner.cleanup()
