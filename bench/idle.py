"""Idle memory and start-up time (issue 14, goal 4): RSS <= 45 MB with no WhatsApp Web account,
<= 85 MB with one, and /health answering within 1 s of start.

    .venv/bin/python bench/idle.py [--rounds 5] [--settle 3] [--cases starter,cloud,web] [--env NAME=VALUE ...]

Each round spawns `python -m whatshooked serve -c config.yaml` (as a user runs it: no NEONIZE_BOT_TAG
in the environment, so `serve` decides itself whether to re-execute) on a generated config and measures
the time from the spawn to the first 200 of GET /health (polled every 5 ms) and the CPU time the
process took until then (what a loaded machine does not stretch), then the RSS (VmRSS of
/proc/PID/status: the re-executed process keeps its PID), the highest of readings every 250 ms over
--settle seconds, taken after one second of rest. Cases:

- starter: what `whatshooked init` writes (no account, no hook);
- cloud: one Cloud API account (its Graph is a stand-in in this process, which answers its start-up
  check) and one hook at a sink in this process;
- web: one WhatsApp Web account whose session file is paired but can never connect (the real neonize
  library; HTTPS_PROXY points at a closed port, so whatsmeow fails at the dial), and the same hook.

A first, unmeasured round compiles every module into a bytecode cache the children share (as an
installed package has its .pyc files; PYTHONDONTWRITEBYTECODE is dropped for them).

The reference in the same run: a bare `python -c "import aiohttp"` process (the floor any aiohttp
daemon starts from). Medians of --rounds are printed with the goals. --env adds a variable to every
serve's environment (e.g. NEONIZE_BOT_TAG=off as the systemd unit sets it, or MALLOC_ARENA_MAX=2).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from aiohttp import web  # noqa: E402

from tests.support.cloud_daemon import TOKEN, config_text  # noqa: E402
from tests.support.graph_standin import GraphStandin  # noqa: E402
from tests.support.process import child_env, free_port  # noqa: E402

GOALS_MB = {"starter": 45.0, "cloud": 45.0, "web": 85.0}
HEALTH_GOAL_S = 1.0
POLL_S = 0.005
DEAD_PROXY = "http://127.0.0.1:9"


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process (all its threads; exec keeps counting)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def settled_rss(pid: int, settle: float) -> float:
    await asyncio.sleep(1.0)
    readings = []
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        readings.append(rss_mb(pid))
        await asyncio.sleep(0.25)
    return max(readings)


BYTECODE = Path(tempfile.gettempdir()) / "whatshooked-idle-bench-pycache"
"""Children compile into (and then read from) this cache, as an installed package has its .pyc files."""


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    env = child_env(extra)
    if "NEONIZE_BOT_TAG" not in extra:
        env.pop("NEONIZE_BOT_TAG", None)  # as a user starts it; the systemd unit sets it
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(BYTECODE)
    return env


async def one_serve(config: Path, port: int, env: dict[str, str], settle: float) -> tuple[float, float, float]:
    """(seconds from spawn to the first /health 200, CPU seconds it took until then, settled RSS in MB)."""
    url = f"http://127.0.0.1:{port}/health"
    timeout = aiohttp.ClientTimeout(total=1)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        with (config.parent / "serve.out").open("ab") as out, (config.parent / "serve.err").open("ab") as err:
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "whatshooked", "serve", "-c", str(config), cwd=config.parent,
                env=child_environment(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            while True:
                if proc.returncode is not None or time.monotonic() - started > 30:
                    raise RuntimeError(f"serve did not answer /health (exit {proc.returncode}); see {config.parent}")
                try:
                    async with http.get(url) as response:
                        if response.status == 200:
                            break
                except (TimeoutError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(POLL_S)
            health = time.monotonic() - started
            cpu = cpu_s(proc.pid)
            rss = await settled_rss(proc.pid, settle)
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                await proc.wait()
            return health, cpu, rss
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def reference_rss(settle: float) -> float:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import aiohttp, sys; print(flush=True); sys.stdin.read()",
        env=child_environment({}), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        await proc.stdout.readline()
        return await settled_rss(proc.pid, settle)
    finally:
        proc.kill()
        await proc.wait()


async def start_sink() -> tuple[web.AppRunner, str]:
    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/hook"


def starter_config(folder: Path, port: int) -> str:
    return (f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: bench-key\n"
            f"storage:\n  path: {folder / 'whatshooked.db'}\naccounts: []\nhooks: []\n")


def web_config(folder: Path, port: int, session: Path, hook_url: str) -> str:
    return (f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: bench-key\n"
            f"storage:\n  path: {folder / 'whatshooked.db'}\n"
            f"hooks:\n  - id: rx\n    url: {hook_url}\n"
            f"accounts:\n  - id: personal\n    session_path: {session}\n")


async def paired_session(path: Path) -> None:
    """Made in a child process so this one never loads neonize's Go runtime."""
    code = ("import asyncio, pathlib, sys; from tests.support.paired_session import make_paired_session; "
            "asyncio.run(make_paired_session(pathlib.Path(sys.argv[1])))")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, str(path), cwd=ROOT,
                                                env=child_environment({"HTTPS_PROXY": DEAD_PROXY}),
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if await proc.wait() != 0:
        raise RuntimeError("could not make the paired session")


async def main(args: argparse.Namespace) -> int:
    cases = args.cases.split(",")
    graph = GraphStandin(TOKEN)
    await graph.start()
    sink, hook_url = await start_sink()
    results: dict[str, list[tuple[float, float, float]]] = {case: [] for case in cases}
    reference: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="idle-bench-") as tmp:
            root = Path(tmp)
            session = root / "sessions" / "paired.db"
            if "web" in cases:
                session.parent.mkdir()
                await paired_session(session)
            for round_ in range(-1, args.rounds):  # round -1 warms the bytecode cache and the page cache
                if round_ >= 0:
                    reference.append(await reference_rss(args.settle))
                for case in cases:
                    folder = root / f"{case}-{round_ + 1}"
                    folder.mkdir()
                    port = free_port()
                    env = dict(item.partition("=")[::2] for item in args.env)
                    if case == "starter":
                        text = starter_config(folder, port)
                    elif case == "cloud":
                        text = config_text(folder, port, graph.url, hook_url, business={})
                    else:
                        text = web_config(folder, port, session, hook_url)
                        env["HTTPS_PROXY"] = DEAD_PROXY
                    if args.event_loop:  # server.event_loop as asked (not set: asyncio)
                        text = text.replace("server:\n", f"server:\n  event_loop: {args.event_loop}\n", 1)
                    config = folder / "config.yaml"
                    config.write_text(text)
                    health, cpu, rss = await one_serve(config, port, env, args.settle if round_ >= 0 else 0.25)
                    if round_ < 0:
                        continue
                    results[case].append((health, cpu, rss))
                    print(f"round {round_ + 1} {case:8} /health after {health:.3f} s ({cpu:.2f} s CPU), "
                          f"RSS {rss:.1f} MB", flush=True)
    finally:
        await sink.cleanup()
        await graph.close()
    extra = f" with {' '.join(args.env)}" if args.env else ""
    extra += f" on server.event_loop: {args.event_loop}" if args.event_loop else ""
    print(f"\nmedians of {args.rounds} rounds{extra} (python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(f"reference `python -c 'import aiohttp'`: RSS {statistics.median(reference):.1f} MB")
    for case in cases:
        health, cpu, rss = (statistics.median(figures) for figures in zip(*results[case], strict=True))
        goal = GOALS_MB[case]
        print(f"{case:8} /health after {health:.3f} s, {cpu:.2f} s CPU (goal <= {HEALTH_GOAL_S:.1f} s: "
              f"{'met' if health <= HEALTH_GOAL_S else 'NOT met'}), RSS {rss:.1f} MB (goal <= {goal:.0f} MB: "
              f"{'met' if rss <= goal else 'NOT met'})")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of RSS readings (after 1 s of rest)")
    parser.add_argument("--cases", default="starter,cloud,web")
    parser.add_argument("--event-loop", default="", help="server.event_loop in every config (not set: asyncio)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set in every serve's environment (repeatable)")
    sys.exit(asyncio.run(main(parser.parse_args())))
