"""The wheel and sdist build and pass `twine check`; the wheel carries its data and runs as the container would.

No container engine runs here (the docker client has no daemon), so the Dockerfile is checked by
reading it, and its commands — the install, `whatshooked --version`, neonize's Go library, the
entry point's first start, check-config of the container config, serve with its HEALTHCHECK — are
run from the built wheel in a temporary folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.process import ROOT, ServeProcess, child_env, free_port

SKIP = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", "data"}


@dataclass
class Built:
    wheel: Path
    sdist: Path
    source: Path


def _copy_source(target: Path) -> None:
    """The checkout without caches, venvs or local state, so building leaves nothing in it."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        local = Path(folder) == ROOT  # the checkout's own config.yaml (and .bak) is local state
        return {n for n in names if n in SKIP or n.endswith(".egg-info") or (local and n.startswith("config.yaml"))}
    shutil.copytree(ROOT, target, ignore=ignore)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    folder = tmp_path_factory.mktemp("packaging")
    source = folder / "src"
    _copy_source(source)
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(folder / "dist"), "."],
                          cwd=source, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    wheels, sdists = list((folder / "dist").glob("*.whl")), list((folder / "dist").glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    yield Built(wheels[0], sdists[0], source)


def test_twine_check_passes(built: Built) -> None:
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(built.wheel), str(built.sdist)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_the_wheel_carries_every_file_of_the_package(built: Built) -> None:
    names = set(zipfile.ZipFile(built.wheel).namelist())
    package = ROOT / "whatshooked"
    wanted = {p.relative_to(ROOT).as_posix() for p in package.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert wanted - names == set()
    for data in ("whatshooked/api/openapi_contract.json", "whatshooked/api/openapi_extra.json",
                 "whatshooked/api/docs/index.html", "whatshooked/api/docs/init.js"):
        assert data in names
    info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "whatshooked = whatshooked.cli.main:main" in zipfile.ZipFile(built.wheel).read(info).decode()


def test_the_sdist_carries_docs_examples_and_container_files(built: Built) -> None:
    with tarfile.open(built.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for wanted in ("README.md", "config.example.yaml", "Dockerfile", "compose.yaml", "docker/config.yaml",
                   "docker/entrypoint.sh", "docs/operations.md", "docs/container.md", "pyproject.toml",
                   "tests/conftest.py"):
        assert wanted in names, wanted
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


# -- the Dockerfile -----------------------------------------------------------
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    joined = text.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_dockerfile_sanity() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    kinds = [kind for kind, _ in steps]
    assert "ADD" not in kinds  # COPY only
    users = [args for kind, args in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0") and kinds.index("USER") > max(
        i for i, kind in enumerate(kinds) if kind == "RUN")  # everything after the last RUN runs unprivileged
    assert ("VOLUME", '["/data"]') in steps and ("EXPOSE", "8825") in steps
    health = next(args for kind, args in steps if kind == "HEALTHCHECK")
    assert "http://127.0.0.1:8825/health" in health and "CMD [" in health
    for kind, args in steps:
        if kind == "COPY":
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source
        if kind == "RUN" and "pip install" in args:
            assert "--no-cache-dir" in args
        if kind in ("ENTRYPOINT", "CMD"):
            json.loads(args)  # exec form: signals reach the daemon
    env = next(args for kind, args in steps if kind == "ENV")
    assert "WHATSHOOKED_CONFIG=/data/config.yaml" in env


def test_compose_file() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["whatshooked"]
    assert service["build"] == "."
    assert "whatshooked-data:/data" in service["volumes"] and "whatshooked-data" in compose["volumes"]
    assert service["ports"] == ["127.0.0.1:8825:8825"]
    assert "WHATSHOOKED_API_KEY" in service["environment"]


@dataclass
class Container:
    """The built wheel installed into a folder of its own, with the image's entry point and /data."""

    data: Path
    entrypoint: Path
    site: Path
    env: dict[str, str]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=self.data.parent, env=self.env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def site(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir", "--quiet",
                              "--target", str(site), str(built.wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    return site


@pytest.fixture
def container(built: Built, site: Path, tmp_path: Path) -> Container:
    entrypoint = tmp_path / "entrypoint.sh"  # the image's, reading the template from the built source
    entrypoint.write_text((ROOT / "docker" / "entrypoint.sh").read_text().replace(
        "/opt/whatshooked/config.yaml", str(built.source / "docker" / "config.yaml")))
    data = tmp_path / "data"
    env = dict(child_env(), PYTHONPATH=str(site), PATH=f"{site / 'bin'}{os.pathsep}{os.environ['PATH']}",
               WHATSHOOKED_CONFIG=str(data / "config.yaml"))
    return Container(data, entrypoint, site, env)


def test_the_wheel_installs_and_the_entry_point_writes_the_container_config(container: Container) -> None:
    version = container.run(str(container.site / "bin" / "whatshooked"), "--version")
    assert version.returncode == 0 and version.stdout.startswith("whatshooked ")
    imported = container.run(sys.executable, "-c", "import whatshooked, neonize.client; print(whatshooked.__file__)")
    assert imported.returncode == 0 and imported.stdout.strip().startswith(str(container.site)), imported
    config = container.data / "config.yaml"
    first = container.run("sh", str(container.entrypoint), "check-config")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"wrote the container config to {config}")
    assert "OK (1 account(s), 0 hook(s))" in first.stdout and config.stat().st_mode & 0o777 == 0o600
    again = container.run("sh", str(container.entrypoint), "check-config")
    assert again.returncode == 0 and not again.stdout.startswith("wrote")  # never overwritten


async def test_serve_through_the_entry_point_answers_the_healthcheck(container: Container) -> None:
    assert (await asyncio.to_thread(container.run, "sh", str(container.entrypoint), "check-config")).returncode == 0
    port = free_port()
    config = container.data / "config.yaml"
    config.write_text(config.read_text().replace("port: 8825", f"port: {port}"))
    serve = ServeProcess(config, port)  # started through the entry point, as the image's CMD does
    try:
        with serve.stdout.open("ab") as out, serve.stderr.open("ab") as err:
            serve.proc = await asyncio.create_subprocess_exec(
                "sh", str(container.entrypoint), "serve", cwd=container.data,
                env=container.env | {"WHATSHOOKED_API_KEY": "container-key"},
                stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        await serve.healthy(within=30)
        health = next(args for kind, args in instructions() if kind == "HEALTHCHECK").split("CMD ", 1)[1]
        check = [part.replace(":8825/", f":{port}/") for part in json.loads(health)]
        assert (await asyncio.to_thread(container.run, sys.executable, *check[1:])).returncode == 0
        assert (container.data / "whatshooked.db").exists()  # state in the volume
        serve.send(signal.SIGTERM)
        assert await serve.wait(15) == 0
    finally:
        await serve.stop()
