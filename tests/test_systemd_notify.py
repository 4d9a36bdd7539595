"""The notify protocol read from a real Unix datagram socket standing in for systemd."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from whatshooked.service.systemd_notify import Notifier, status_line


class FakeSystemd:
    """A bound AF_UNIX datagram socket: what systemd listens on at $NOTIFY_SOCKET."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.sock.setblocking(False)

    async def receive(self, within: float = 5.0) -> list[str]:
        data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 4096), within)
        return data.decode().split("\n")

    async def wait_for(self, line: str, within: float = 5.0) -> list[list[str]]:
        """Every datagram up to and including the first containing `line`."""
        seen = []
        deadline = time.monotonic() + within
        while True:
            message = await self.receive(max(deadline - time.monotonic(), 0.01))
            seen.append(message)
            if line in message:
                return seen

    def drain(self) -> list[list[str]]:
        messages = []
        while True:
            try:
                messages.append(self.sock.recv(4096).decode().split("\n"))
            except BlockingIOError:
                return messages


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    path = str(tmp_path / "notify.sock")
    if len(path) >= 100:  # AF_UNIX paths are limited to ~108 bytes
        path = f"@whatshooked-test-{os.getpid()}-{time.monotonic_ns()}"
    fake = FakeSystemd(path)
    yield fake
    fake.sock.close()


async def test_ready_status_stopping_arrive(systemd: FakeSystemd) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": systemd.address})
    notifier.start()
    assert notifier.ready(status="starting done")
    assert await systemd.receive() == ["READY=1", "STATUS=starting done"]
    assert notifier.status("1/2 accounts connected,\n3 events cached")
    assert await systemd.receive() == ["STATUS=1/2 accounts connected, 3 events cached"]
    assert notifier.reloading()
    reloading, monotonic = await systemd.receive()
    assert reloading == "RELOADING=1" and monotonic.startswith("MONOTONIC_USEC=")
    assert 0 < int(monotonic.split("=")[1]) <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.stopping()
    assert await systemd.receive() == ["STOPPING=1"]
    await notifier.close()


async def test_abstract_namespace_address() -> None:
    fake = FakeSystemd(f"@whatshooked-test-{os.getpid()}-{time.monotonic_ns()}")
    try:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": fake.address})
        assert notifier.ready()
        assert await fake.receive() == ["READY=1"]
        await notifier.close()
    finally:
        fake.sock.close()


async def test_watchdog_pings_from_the_loop_and_stop_when_it_is_stuck(systemd: FakeSystemd) -> None:
    env = {"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier.from_env(env)
    assert notifier.watchdog_interval() == pytest.approx(0.1)
    notifier.start()
    await systemd.wait_for("WATCHDOG=1")
    await systemd.wait_for("WATCHDOG=1")  # a second ping: it repeats
    systemd.drain()
    time.sleep(0.3)  # noqa: ASYNC251 -- the loop is stuck on purpose: three ping periods, no ping
    assert systemd.drain() == []
    await systemd.wait_for("WATCHDOG=1")  # and it resumes once the loop runs again
    await notifier.close()


async def test_status_source_is_sent_periodically(systemd: FakeSystemd) -> None:
    calls = []

    async def source() -> str:
        calls.append(1)
        return status_line(["connected", "qr"], 4)

    notifier = Notifier.from_env({"NOTIFY_SOCKET": systemd.address})
    notifier.start(source, status_every=0.01)
    await systemd.wait_for("STATUS=1/2 accounts connected, 4 events cached")
    await systemd.wait_for("STATUS=1/2 accounts connected, 4 events cached")
    await notifier.close()
    assert len(calls) >= 2


def test_watchdog_for_another_process_is_ignored() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier.from_env(env).watchdog_interval() is None
    env["WATCHDOG_PID"] = str(os.getpid())
    assert Notifier.from_env(env).watchdog_interval() == 30.0
    assert Notifier.from_env({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "junk"}).watchdog_interval() is None


async def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier.from_env({"WATCHDOG_USEC": "1000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval() is None
    notifier.start(lambda: "x")
    assert not notifier.ready()
    assert not notifier.stopping()
    await notifier.close()


async def test_a_missing_socket_is_reported_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert not notifier.ready()
    assert not notifier.status("x")
    assert len([r for r in caplog.records if "cannot notify systemd" in r.getMessage()]) == 1
    await notifier.close()


def test_status_line() -> None:
    assert status_line([], None) == "0/0 accounts connected, cache off"
    assert status_line(["connected"], 1) == "1/1 accounts connected, 1 event cached"
    # A disabled account is not one that should be connected (it was counted as down).
    assert status_line(["connected", "disabled"], 0) == "1/1 accounts connected, 1 disabled, 0 events cached"
