"""`whatshooked serve | init | check-config | version | backup | completion`: parse, load, hand over.

Exit codes (cli/exit_codes.py): 0 clean stop, 2 bad config or usage, 1 anything else; the client
commands add 3-5. Never a traceback. Only what every command needs is imported at the top: `serve`
may re-execute itself first thing (go_environment.py), and the new process imports it all again.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from whatshooked import __version__
from whatshooked.errors import ConfigError
from whatshooked.service.go_environment import ensure_go_environment

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    from whatshooked.cli import accounts_cmd, backup, cache_cmd, completion, hooks_cmd
    from whatshooked.cli import client as client_cli

    parser = argparse.ArgumentParser(prog="whatshooked", description="Bridge WhatsApp to HTTP hooks.")
    config_help = "config file (default: $WHATSHOOKED_CONFIG, else ./config.yaml)"
    parser.add_argument("-c", "--config", help=config_help)
    parser.add_argument("--version", action="version", version=f"whatshooked {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (
        ("serve", "run the daemon in the foreground (writes a starter config first if there is none)"),
        ("init", "write a starter config with a fresh API key (never overwrites)"),
        ("check-config", "validate the config: exit 0, or 2 with one line per problem"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("-c", "--config", default=argparse.SUPPRESS, help=config_help)
    commands.add_parser("version", help="print the version")
    client_cli.add_client_commands(commands)
    for module in (accounts_cmd, cache_cmd):
        module.add_commands(commands)
        client_cli.register(module.HANDLERS)
    backup.add_command(commands)
    completion.add_command(commands)
    hooks_cmd.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None and command_of(sys.argv[1:]) == "serve":
        ensure_go_environment()  # before the imports below (serve() asks again for other ways in)
    from whatshooked.cli import backup, completion
    from whatshooked.cli import client as client_cli
    from whatshooked.config.load import resolve_config_path

    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 here
    try:
        if args.command == "version":
            print(f"whatshooked {__version__}")
            return EXIT_OK
        if args.command == "completion":
            print(completion.script(parser, args.shell), end="")
            return EXIT_OK
        path = resolve_config_path(args.config)
        if args.command == "backup":
            return backup.run(path, args.path)
        if args.command in client_cli.COMMANDS:
            return client_cli.run_client_command(args, client_cli.load_client_config(path))
        if args.command == "init":
            return init(path)
        if args.command == "check-config":
            return check_config(path)
        return serve(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:  # one line, no traceback: the log has details at debug level
        log.debug("fatal error", exc_info=True)
        print(f"whatshooked: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_ERROR


def command_of(args: list[str]) -> str | None:
    """The command word of a command line, or None (help, version, nothing): the global options are
    only `-c/--config PATH` (as `-cPATH`, `--config=PATH` too). A word argparse would read otherwise
    (an abbreviated `--conf`) is only found later: serve() re-executes then."""
    words = iter(args)
    for word in words:
        if word in ("-c", "--config"):
            next(words, None)
        elif not word.startswith("-"):
            return word
        elif not word.startswith(("-c", "--config=")):
            return None
    return None


def init(path: Path) -> int:
    from whatshooked.config.write import write_starter

    try:
        api_key = write_starter(path)
    except FileExistsError:
        print(f"whatshooked: {path} already exists; init never overwrites a config", file=sys.stderr)
        return EXIT_ERROR
    _announce(path, api_key)
    return EXIT_OK


def check_config(path: Path) -> int:
    from whatshooked.cli.storage_check import storage_problem
    from whatshooked.config.load import load_config

    config = load_config(path, strict=True)
    problem = storage_problem(config)
    if problem is not None:
        raise ConfigError([problem])
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not (config.server.api_key or config.server.username):
        print(f"{path}: server.api_key: not set, so the API refuses every request (401)", file=sys.stderr)
    print(f"{path}: OK ({len(config.accounts)} account(s), {len(config.hooks)} hook(s))")
    return EXIT_OK


def serve(path: Path) -> int:
    ensure_go_environment()  # may re-execute this process once; nothing may run before it
    # Until the daemon's event loop watches signals, SIGTERM stops it the way Ctrl-C does (exit 0), not a kill.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    from whatshooked.config.load import load_config
    from whatshooked.config.model import LoggingConfig
    from whatshooked.config.settings import Settings
    from whatshooked.config.write import remove_leftovers, write_starter
    from whatshooked.service.daemon import serve as run
    from whatshooked.service.go_output import capture_go_output
    from whatshooked.service.logging_setup import configure_from, setup_logging

    setup_logging(LoggingConfig())
    capture_go_output()
    if not path.exists():
        _announce(path, write_starter(path))
    config = load_config(path)
    configure_from(config)
    remove_leftovers(path)
    for warning in config.warnings:
        log.warning("%s", warning)
    if not (config.server.api_key or config.server.username):
        log.warning("server.api_key is not set: the API will answer 401 to everything until it is "
                    "(whatshooked init writes a config with a generated key)")
    settings = Settings(config)

    async def relog(new_config: object) -> None:
        configure_from(settings.config)

    settings.listen(relog)
    run(settings)
    return EXIT_OK


def _announce(path: Path, api_key: str) -> None:
    print(f"wrote a starter config to {path}")
    print(f"API key: {api_key}")
    sys.stdout.flush()


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__
