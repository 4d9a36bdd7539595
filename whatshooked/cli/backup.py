"""`whatshooked backup PATH`: a consistent copy of the store, the config and the WhatsApp Web sessions.

The store is copied with SQLite's online backup API (one read transaction over the whole file, so
the copy is the store as of one moment, every committed event in it; the daemon keeps writing
meanwhile, WAL readers do not block it); each WhatsApp Web account's session file (SQLite too) the
same way, to `sessions/<account id>.db`. The config is copied byte for byte. Every copy is 0600 in
folders made 0700: they hold message contents, API keys, tokens and device keys.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

import yaml

from whatshooked.accounts.backends import default_type
from whatshooked.cli import exit_codes
from whatshooked.config.load import parse_config, read_raw
from whatshooked.errors import ConfigError
from whatshooked.private_files import make_private_dir, write_private
from whatshooked.store.open import scheme_of

WEB_TYPE = "whatsmeow"
"""The account type whose session is a file of its own (WhatsApp Web)."""
BUSY_TIMEOUT_S = 30.0
"""How long to wait for the daemon's writer when the backup needs a lock (a checkpoint, say)."""


class BackupError(exit_codes.CommandError):
    """The backup failed: one line on stderr, exit `code`."""


def add_command(commands: argparse._SubParsersAction) -> None:
    text = "copy the store (consistently, also while serve runs) and the config into a new folder"
    sub = commands.add_parser("backup", help=text, description=text)
    sub.add_argument("-c", "--config", default=argparse.SUPPRESS,
                     help="config file (default: $WHATSHOOKED_CONFIG, else ./config.yaml)")
    sub.add_argument("path", type=Path, metavar="PATH", help="folder to write into (made if missing; must be empty)")


def run(config_path: Path, target: Path) -> int:
    try:
        store = store_path(config_path)
        copies = backup(config_path, store, target, session_files(config_path))
    except BackupError as exc:
        print(f"whatshooked: {exc}", file=sys.stderr)
        return exc.code
    for copy in copies:
        print(f"wrote {copy}")
    return exit_codes.OK


def store_path(config_path: Path) -> Path:
    """storage.path from the file (only `storage.path` is read: no account secrets are needed)."""
    if not config_path.exists():
        raise ConfigError([f"{config_path}: file not found (pass the daemon's config with -c)"])
    storage = read_raw(config_path).get("storage") or {}
    location = storage.get("path") if isinstance(storage, dict) else None
    text = yaml.safe_dump({"storage": {"path": location}} if isinstance(location, str) else {})
    path = parse_config(text, config_path).storage.path
    scheme = scheme_of(location if isinstance(location, str) else str(path))
    if scheme != "sqlite":
        raise BackupError(f"{config_path}: storage.path is a {scheme}:// database: back it up with that "
                          f"database's own tool (for PostgreSQL: pg_dump) and copy the config by hand",
                          exit_codes.USAGE)
    if isinstance(location, str) and location.startswith("sqlite:/"):
        path = Path("/" + location.removeprefix("sqlite:").lstrip("/"))
    if not path.is_file():
        raise BackupError(f"{config_path}: storage.path: no store at {path} (has serve run with this config?)",
                          exit_codes.USAGE)
    return path


def session_files(config_path: Path) -> dict[str, Path]:
    """{account id: session file} of the WhatsApp Web accounts whose session exists (only their
    id, type and session_path are read, so other accounts' secrets need not be in the environment)."""
    accounts = read_raw(config_path).get("accounts")
    kept = [{key: entry[key] for key in ("id", "type", "session_path") if key in entry}
            for entry in accounts if isinstance(entry, dict)] if isinstance(accounts, list) else []
    web = [entry for entry in kept if entry.get("type", default_type()) == WEB_TYPE]
    config = parse_config(yaml.safe_dump({"accounts": web}), config_path)
    found = {account.id: getattr(account.settings, "session_path", None) for account in config.accounts}
    return {account_id: path for account_id, path in found.items() if path is not None and path.is_file()}


def backup(config_path: Path, store: Path, target: Path, sessions: dict[str, Path] | None = None) -> list[Path]:
    """Write `target/<store name>`, `target/<config name>` and `target/sessions/<id>.db`; never overwrites."""
    try:
        make_private_dir(target)
    except OSError as exc:
        raise BackupError(f"cannot make the folder {target}: {exc.strerror or exc}") from None
    store_copy, config_copy = target / store.name, target / config_path.name
    databases = {store: store_copy, **{path: target / "sessions" / f"{account_id}.db"
                                       for account_id, path in (sessions or {}).items()}}
    for copy in (*databases.values(), config_copy):
        if copy.exists():
            raise BackupError(f"{copy} exists already: back up into a new or empty folder", exit_codes.USAGE)
    made: list[Path] = []
    try:
        for source, copy in databases.items():
            make_private_dir(copy.parent)
            write_private(copy, b"")  # created 0600 first: SQLite then writes into it
            made.append(copy)
            _copy_store(source, copy)
        write_private(config_copy, config_path.read_bytes())
        made.append(config_copy)
    except (OSError, sqlite3.Error) as exc:
        for copy in made:  # no half backup left to be mistaken for a whole one
            copy.unlink(missing_ok=True)
        if isinstance(exc, sqlite3.Error):
            source = next(source for source, copy in databases.items() if copy == made[-1])
            raise BackupError(f"backup of {source} failed: {exc}") from None
        where = f" ({exc.filename})" if exc.filename else ""
        raise BackupError(f"backup failed: {exc.strerror or exc}{where}") from None
    return [store_copy, *made[1:-1], config_copy]


def _copy_store(store: Path, copy: Path) -> None:
    # mode=rw: never create a store that is not there; the daemon's own WAL settings are left alone.
    source = sqlite3.connect(f"{store.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # pages=-1: the whole file in one step, one consistent snapshot
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
            if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("the copy fails SQLite's integrity check")
        finally:
            target.close()
    finally:
        source.close()
