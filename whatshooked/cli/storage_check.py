"""check-config's look at storage.path: what serve would fail to create, found without creating it."""

from __future__ import annotations

from whatshooked.config.model import Config
from whatshooked.store.open import scheme_of


def storage_problem(config: Config) -> str | None:
    """One line naming the file, `storage.path` and why, when the store cannot be made there."""
    path = config.storage.path
    if scheme_of(str(path)) != "sqlite" or str(path).startswith("sqlite:"):
        return None  # a database URL: only connecting tells
    where = f"{config.path}: storage.path: cannot create the store {path}"
    if path.is_dir():
        return f"{where}: it is a folder"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{where}: {folder} is not a folder"
    return None

