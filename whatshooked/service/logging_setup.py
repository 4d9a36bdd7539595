"""Logging for the daemon: one handler on the root logger, text or JSON, secrets scrubbed.

Calling `setup_logging` again (SIGHUP reload) updates that same handler in place, so it is
idempotent. It also removes the plain stream handlers `logging.basicConfig` puts on the root logger
— neonize's import calls it with its own coloured handler, which would print every line twice — but
leaves handlers of other kinds (a test's capture handler, an operator's file handler) alone.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from whatshooked.config.model import Config, LoggingConfig

MASK = "***"
SHORT_SECRET = 8
"""Secrets shorter than this are masked as whole words only (see `ScrubbingHandler.set_secrets`)."""

NOISY_LOGGERS = ("neonize", "neonize.utils.log", "whatsmeow", "Whatsmeow", "aiohttp.access")
"""Libraries that talk a lot at INFO: kept at WARNING unless the configured level is DEBUG.
`neonize.utils.log`'s own level is also what neonize hands to whatsmeow's Go logger."""
ALWAYS_QUIET = ("aiosqlite",)
"""Loggers that are noise even when debugging whatshooked (aiosqlite logs every statement)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"  # journald stamps every line itself

# syslog priorities: journald reads a leading <N> as the line's priority (`journalctl -p warning`)
_PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class JournalFormatter(logging.Formatter):
    """No timestamp, and the syslog priority as a `<N>` prefix journald understands."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITIES.get(record.levelno, 6)}>" + super().format(record)


class ScrubbingHandler(logging.StreamHandler):
    """Writes each formatted line (tracebacks included) with every known secret replaced by ***."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self._secrets: tuple[str, ...] = ()
        self._short: re.Pattern[str] | None = None

    def set_secrets(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms.add(secret)
                forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])  # as it appears inside JSON
                forms.add(json.dumps(secret)[1:-1])
        forms.discard("")
        # longest first, so a secret that contains another is masked whole
        self._secrets = tuple(sorted((f for f in forms if len(f) >= SHORT_SECRET), key=len, reverse=True))
        # a short secret (`api_key: k` while trying things out) is masked only where it stands alone:
        # masking it inside every word would garble each line ("whatshoo***ed")
        short = sorted((f for f in forms if len(f) < SHORT_SECRET), key=len, reverse=True)
        self._short = re.compile(rf"(?<![\w-])(?:{'|'.join(map(re.escape, short))})(?![\w-])") if short else None

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return self._short.sub(MASK, text) if self._short is not None else text

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(super().format(record))


def setup_logging(
    config: LoggingConfig,
    secrets: Iterable[str] = (),
    *,
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ScrubbingHandler:
    """Install (or update) our root handler; returns it. Safe to call again on every reload."""
    root = logging.getLogger()
    ours = next((h for h in root.handlers if isinstance(h, ScrubbingHandler)), None)
    if ours is None or (stream is not None and ours.stream is not stream):
        ours = ScrubbingHandler(stream)
    for handler in list(root.handlers):
        if handler is not ours and (type(handler) is logging.StreamHandler or isinstance(handler, ScrubbingHandler)):
            root.removeHandler(handler)
    if ours not in root.handlers:
        root.addHandler(ours)

    ours.set_secrets(secrets)
    ours.setFormatter(_formatter(config.format, _under_journald(ours.stream, environ)))
    level = logging.getLevelName(config.level.upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    library_level = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    for name in ALWAYS_QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return ours


def configure_from(config: Config, **kwargs: Any) -> ScrubbingHandler:
    """`setup_logging` with the config's level, format and every secret it holds."""
    return setup_logging(config.logging, secrets_for_logs(config), **kwargs)


def secrets_for_logs(config: Config) -> list[str]:
    """`Config.secrets()` plus the forms they take on the wire (Basic auth token, a hook key's base64)."""
    secrets = list(config.secrets())
    for hook in config.hooks:
        value = hook.secret.reveal()
        if value.startswith("whsec_"):
            secrets.append(value.removeprefix("whsec_"))
    password = config.server.password.reveal()
    if config.server.username and password:
        secrets.append(base64.b64encode(f"{config.server.username}:{password}".encode()).decode())
    return secrets


def _formatter(fmt: str, journal: bool) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if journal:
        return JournalFormatter()
    return logging.Formatter(TEXT_FORMAT)


def _under_journald(stream: IO[str], environ: Mapping[str, str] | None) -> bool:
    """$JOURNAL_STREAM is `dev:inode` of the journal socket; honour it only if it is our stream."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return True  # not a real file (tests): trust the environment
    return value == f"{stat.st_dev}:{stat.st_ino}"


def _utc_iso(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"
