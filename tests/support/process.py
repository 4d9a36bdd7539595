"""`python -m whatshooked …` in a child process, as a user (or systemd) runs it.

Output goes to files in the test's folder (no pipe can fill up); the source tree is put first on
PYTHONPATH so the child runs this checkout whether or not the package is installed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSHOOKED_", "NOTIFY_SOCKET", "WATCHDOG_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """A short command (version, init, check-config) to completion."""
    return subprocess.run([sys.executable, "-m", "whatshooked", *args], cwd=cwd, env=child_env(env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


async def run_to_end(*argv: str, within: float, **options: object) -> tuple[int, bytes, bytes]:
    """Any program to completion with piped output; killed if it outlives `within` seconds."""
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE, **options)  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(within):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, out, err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """One `whatshooked serve` child; `await start()`, `await healthy()`, then stop or kill it."""

    def __init__(self, config: Path, port: int, env: dict[str, str] | None = None, name: str = "serve") -> None:
        self.config = config
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.stdout = config.parent / f"{name}.out"
        self.stderr = config.parent / f"{name}.err"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.stdout.open("ab") as out, self.stderr.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "whatshooked", "serve", "-c", str(self.config),
                cwd=self.config.parent, env=child_env(self.env), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )

    async def healthy(self, within: float = 20.0) -> None:
        """Poll /health until it answers (or fail, showing the child's output)."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    raise AssertionError(f"whatshooked exited with {self.proc.returncode}:\n{self.output()}")
                try:
                    async with http.get(f"{self.url}/health") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"whatshooked did not answer /health within {within}s:\n{self.output()}")

    def send(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    async def wait(self, within: float) -> int:
        assert self.proc is not None
        async with asyncio.timeout(within):
            return await self.proc.wait()

    async def stop(self) -> None:
        """Clean-up for tests that end early: SIGKILL whatever is still running."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    def output(self) -> str:
        return f"--- stdout\n{_read(self.stdout)}--- stderr\n{_read(self.stderr)}"


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
