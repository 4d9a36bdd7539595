"""Modules that neonize's dependencies import but only features the daemon never calls use, made lazy.

importlib's LazyLoader puts such a module in sys.modules at once and runs it at its first attribute
access, so an `import x` that is never used costs nothing (idle RSS: issue 14). It only helps where
the importer does not touch the module while it is being imported itself (a `from x import y` does).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType


class _LazyFinder(importlib.abc.MetaPathFinder):
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


@contextlib.contextmanager
def lazily(*names: str) -> Iterator[None]:
    """Within the block, these modules (when first imported) are made lazy."""
    finder = _LazyFinder(frozenset(names))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
