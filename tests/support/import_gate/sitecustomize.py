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
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "neonize":
            return None
        sys.meta_path.remove(self)
        (self.folder / "neonize.importing").touch()
        deadline = time.monotonic() + GATE_LIMIT
        while not (self.folder / "neonize.release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return None  # the usual finders import it


if os.environ.get("IMPORT_GATE"):
    sys.meta_path.insert(0, _Gate(Path(os.environ["IMPORT_GATE"])))
