"""The current config, changed by the API or reloaded on SIGHUP, written back to the YAML file.

API changes edit the RAW document (no interpolation) through config_edit.Document, so only the
lines of the entries a change touches differ afterwards: comments, key order, quoting and `${VAR}`
references elsewhere stay as written. The new text is validated as a whole before it replaces the
file; the file is replaced atomically and the previous version kept as `PATH.bak`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from whatshooked.config.load import load_config, parse_config
from whatshooked.config.model import Config
from whatshooked.config.write import write_atomically
from whatshooked.errors import ConfigError, RequestError

log = logging.getLogger(__name__)

Listener = Callable[[Config], Awaitable[None]]
Edit = Callable[[dict[str, Any]], Any]


class SaveError(RequestError):
    """The config could not be written back; the change is not applied."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"failed to save config to {path}: {reason}", status=500)


class Settings:
    """Owner of `config`; every change goes through `change()` or `reload()`, one at a time."""

    def __init__(self, config: Config, env: dict[str, str] | None = None) -> None:
        self._config = config
        self._env = env
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []

    @property
    def config(self) -> Config:
        return self._config

    @property
    def path(self) -> Path:
        return self._config.path

    def listen(self, listener: Listener) -> None:
        """Called with the new config after every change or reload, in the order added."""
        self._listeners.append(listener)

    async def change(self, edit: Edit) -> Any:
        """Apply `edit` to the raw YAML document, validate, write back, then tell the listeners.

        `edit` mutates the dict it is given and may return a value (passed back to the caller);
        it raises RequestError to refuse the change. An edit that changes nothing writes nothing.
        `edit` runs in a worker thread: it must only touch the document (and read `config`).
        """
        async with self._lock:
            # The read, render, validation and write of a big file take a while: a thread does them,
            # one change at a time (the lock), so the loop keeps answering webhooks meanwhile.
            result, config = await asyncio.to_thread(self._write_back, edit)
            if config is not None:
                log.info("config written back to %s", self.path)
                await self._apply(config)
            return result

    def _write_back(self, edit: Edit) -> tuple[Any, Config | None]:
        """In a worker thread: edit the document, validate it and replace the file; None when nothing changed."""
        from whatshooked.config.edit import Document  # ruamel.yaml: only once something is changed

        try:
            document = Document.read(self.path)
        except ConfigError as exc:  # the file was broken by hand since it was loaded
            reason = "; ".join(_without_path(p, self.path) for p in exc.problems)
            raise SaveError(self.path, f"{reason} (fix the file first)") from None
        result = edit(document.data)
        text = document.render()
        if text is None:  # nothing to write: keep the file as it is
            return result, None
        try:
            config = parse_config(text, self.path, env=self._env)
        except ConfigError as exc:
            raise RequestError("; ".join(_without_path(p, self.path) for p in exc.problems)) from None
        try:
            write_atomically(self.path, text)
        except OSError as exc:
            raise SaveError(self.path, exc.strerror or str(exc)) from None
        return result, config

    async def reload(self) -> bool:
        """Re-read the file (SIGHUP). A broken file is logged and the running config kept."""
        async with self._lock:
            try:
                config = await asyncio.to_thread(load_config, self.path, self._env)
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("reload refused: %s", problem)
                return False
            for warning in config.warnings:
                log.warning("%s", warning)
            log.info("config reloaded from %s", self.path)
            await self._apply(config)
            return True

    async def _apply(self, config: Config) -> None:
        self._config = config
        for listener in self._listeners:
            try:
                await listener(config)
            except Exception:
                log.exception("applying the new config failed in %r", listener)


def _without_path(problem: str, path: Path) -> str:
    prefix = f"{path}: "
    return problem[len(prefix):] if problem.startswith(prefix) else problem
