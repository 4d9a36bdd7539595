"""A throwaway PostgreSQL cluster for the test session, from Debian's `postgresql` binaries.

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` system user (or
`nobody`), through `runuser`; otherwise to whoever runs the tests. The data folder and the unix socket live in a temp
folder, the server listens on a free port on 127.0.0.1 with `trust` auth, fsync off (a crash of the
test machine loses nothing we care about). Each test gets a fresh database (`pg_url`); the cluster
is stopped at the end of the session. Without the binaries, tests that need it skip, loudly.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import free_port
from whatshooked.config.model import StorageConfig
from whatshooked.store.base import Store
from whatshooked.store.open import open_store

INSTALL_HINT = (
    "PostgreSQL tests SKIPPED: no initdb/pg_ctl under /usr/lib/postgresql/*/bin "
    "(install Debian's `postgresql` package: apt-get install postgresql; .ci/run does)"
)


def binaries() -> Path | None:
    """The newest installed server's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _unprivileged_user() -> str:
    """Who owns the cluster when the tests run as root (initdb refuses root): Debian's `postgres`, else nobody."""
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root with neither a `postgres` nor a `nobody` user to own the test cluster")


class Cluster:
    """One server: `start()`, `new_database()` → a URL, `stop()`."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="whatshooked-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.owner = _unprivileged_user() if os.geteuid() == 0 else None

    def _run(self, *argv: str) -> None:
        command = [*(("runuser", "-u", self.owner, "--") if self.owner else ()), *argv]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        if self.owner:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-sync")
        self.start_again()

    def start_again(self) -> None:
        """Start the server on its data folder (after start() made it, and a stop)."""
        options = f"-k {self.root} -h 127.0.0.1 -p {self.port} -F -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip(INSTALL_HINT)
    cluster = Cluster(bin_dir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return pg_cluster.new_database()


BACKENDS = ("sqlite", "postgres")
"""The persistent store backends every store contract test runs on."""


async def open_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **storage: Any) -> Store:
    """A fresh store of `kind`: a SQLite file in `tmp_path`, or a fresh database on the session's cluster."""
    if kind == "sqlite":
        return await open_store(StorageConfig(path=tmp_path / "data" / "store.db", **storage))
    return await open_store(StorageConfig(url=request.getfixturevalue("pg_url"), **storage))


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each persistent backend in turn, fresh: the store's contract is the same on both."""
    opened = await open_backend(request.param, tmp_path, request)
    yield opened
    await opened.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if binaries() is None:
        terminalreporter.write_line(INSTALL_HINT, red=True, bold=True)
