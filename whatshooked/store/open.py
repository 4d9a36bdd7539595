"""Pick the store's backend from the scheme of `storage.url` or `storage.path` (as mautrix's `Database.create` does).

Every module or package beside this one that declares `SCHEMES` (a tuple of URL schemes) and an
`open(location, storage)` coroutine is a backend, found by walking this package: adding one (say
`store/postgres/`) touches nothing outside its own folder. A plain path has the scheme `sqlite`;
`message_cache.enabled: false` is the scheme `memory`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import cast

from whatshooked import store as _package
from whatshooked.config.model import StorageConfig
from whatshooked.errors import StoreError
from whatshooked.store.base import Store

DEFAULT_SCHEME = "sqlite"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")  # `://`, or `:/` once a Path collapsed it
_NOT_BACKENDS = frozenset({"base", "open", "seal"})

Opener = Callable[[str, StorageConfig], Awaitable[Store]]


def scheme_of(location: str) -> str:
    match = _SCHEME.match(location)
    return match.group(1).lower() if match else DEFAULT_SCHEME


def backends() -> dict[str, str]:
    """{scheme: module name} for every backend beside this module (their `__init__` is imported)."""
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(_package.__path__):
        if info.name in _NOT_BACKENDS:
            continue
        module = importlib.import_module(f"{_package.__name__}.{info.name}")
        for scheme in getattr(module, "SCHEMES", ()):
            found[scheme] = module.__name__
    return found


def _backend(scheme: str, key: str = "storage.path") -> ModuleType:
    found = backends()
    if scheme not in found:
        raise StoreError(f"{key}: no store backend for {scheme}:// (known: {', '.join(sorted(found))})")
    return importlib.import_module(found[scheme])


async def open_store(storage: StorageConfig, enabled: bool = True) -> Store:
    """Open the configured backend; `enabled` is `message_cache.enabled` (False: the memory backend)."""
    location = storage.location
    opener = cast(Opener, _backend(scheme_of(location) if enabled else "memory", storage.key).open)
    return await opener(location, storage)
