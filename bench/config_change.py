"""Config write-back benchmark: one hook added through Settings.change on a config with many hooks.

    .venv/bin/python bench/config_change.py [--hooks 1500] [--rounds 3]

"before" replays the old way in the same process: every step on the event loop, difflib over the
whole file (quadratic in repeated lines) and PyYAML's pure-Python loader. "after" is Settings.change
as it is: the same steps in a worker thread, difflib only between the common head and tail, libyaml.
Printed per run: how long the add took, and the longest gap a 10 ms heartbeat task on the loop saw
while it ran (what a webhook arriving meanwhile would wait). Medians of --rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whatshooked.config import edit as config_edit  # noqa: E402
from whatshooked.config import load as config_module  # noqa: E402
from whatshooked.config.load import load_config, parse_config  # noqa: E402
from whatshooked.config.settings import Settings  # noqa: E402
from whatshooked.config.write import write_atomically  # noqa: E402


def config_text(hooks: int) -> str:
    entries = "".join(f"  - id: hook-{i}\n    name:   Hook {i}    # team {i % 7}\n    url: http://127.0.0.1:9/h{i}\n"
                      f"    events: [message.received]\n    headers: {{X-Team: blue}}\n" for i in range(hooks))
    return f"server:\n  api_key: bench-key\naccounts: []\nhooks:\n{entries}"


def add(raw: dict[str, Any]) -> None:
    raw["hooks"].append({"id": "new", "url": "http://127.0.0.1:9/new"})


def whole_file_opcodes(a: list[str], b: list[str]) -> Any:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


async def before(path: Path) -> None:
    """The old Settings.change: only the read and the write left the loop."""
    saved = config_edit._opcodes, config_module.SAFE_LOADER, config_edit.SAFE_LOADER
    config_edit._opcodes = whole_file_opcodes
    config_module.SAFE_LOADER = config_edit.SAFE_LOADER = yaml.SafeLoader
    try:
        document = await asyncio.to_thread(config_edit.Document.read, path)
        add(document.data)
        text = document.render()
        assert text is not None
        parse_config(text, path, env={})
        await asyncio.to_thread(write_atomically, path, text)
    finally:
        config_edit._opcodes, config_module.SAFE_LOADER, config_edit.SAFE_LOADER = saved


async def after(path: Path) -> None:
    await Settings(load_config(path, env={}), env={}).change(add)


async def measure(run: Any, path: Path) -> tuple[float, float]:
    """(seconds the add took, longest gap between heartbeats in seconds)."""
    gaps = [0.0]
    stop = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps[0] = max(gaps[0], now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await run(path)
    took = time.perf_counter() - started
    stop.set()
    await beat
    return took, gaps[0]


async def main(args: argparse.Namespace) -> int:
    results: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        for _ in range(args.rounds):
            for name, run in (("before", before), ("after", after)):
                path.write_text(config_text(args.hooks))
                results[name].append(await measure(run, path))
    for name, runs in results.items():
        took = statistics.median(r[0] for r in runs)
        gap = statistics.median(r[1] for r in runs)
        print(f"{name:6}  {args.hooks} hooks: add {took:6.2f} s   longest loop stall {gap * 1000:7.0f} ms")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hooks", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
