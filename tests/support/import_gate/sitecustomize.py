"""Put this folder first on a child's PYTHONPATH to make its `import neonize` wait at a gate.

With IMPORT_GATE (a folder) in the child's environment, the first import of neonize creates
`IMPORT_GATE/neonize.importing` and then waits until `IMPORT_GATE/neonize.release` exists (at most
GATE_LIMIT seconds) before it goes on as usual: the real library is imported, only as late as a test
wants — a start-up whose WhatsApp Web backend takes long to load. Without IMPORT_GATE it does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

GATE_LIMIT = 60.0


class _Gate(importlib.abc.MetaPathFinder):
    """Waits where a slow import does: while the module runs (its own lock held), not while it is looked
    for (find_spec runs under Python's global import lock: waiting there would stop every import of
    every thread, the event loop's lazy ones too, which a slow neonize never does)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "neonize":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Waiting(spec.loader, self.folder)
        return spec


class _Waiting(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, folder: Path) -> None:
        self.loader = loader
        self.folder = folder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        (self.folder / "neonize.importing").touch()
        deadline = time.monotonic() + GATE_LIMIT
        while not (self.folder / "neonize.release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.loader.exec_module(module)


if os.environ.get("IMPORT_GATE"):
    sys.meta_path.insert(0, _Gate(Path(os.environ["IMPORT_GATE"])))
