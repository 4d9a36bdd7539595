"""Log formats, journald mode, library loggers and secret scrubbing — read from the real output."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from whatshooked.config.load import parse_config
from whatshooked.config.model import Config, LoggingConfig
from whatshooked.service.logging_setup import (
    ALWAYS_QUIET,
    NOISY_LOGGERS,
    ScrubbingHandler,
    configure_from,
    setup_logging,
)

SECRETS = {
    "api_key": "ak_7Hq2LmVx93kPz",
    "password": "pw-Swordfish-0415",
    "access_token": "EAAGm0PX4ZCpsBAKZCtoken123",
    "app_secret": "appsecret8c1d9e2f7a",
    "verify_token": "verify-me-4242",
    "hook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}

CONFIG = f"""
server:
  api_key: {SECRETS["api_key"]}
  username: admin
  password: {SECRETS["password"]}
accounts:
  - id: shop
    type: business-api
    business_api:
      phone_number_id: "1065"
      access_token: {SECRETS["access_token"]}
      app_secret: {SECRETS["app_secret"]}
      verify_token: {SECRETS["verify_token"]}
hooks:
  - id: crm
    url: https://crm.example.com/hook
    secret: {SECRETS["hook_secret"]}
logging:
  level: info
  format: json
"""


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in (*NOISY_LOGGERS, *ALWAYS_QUIET)}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def config(tmp_path: Path, fmt: str = "json") -> Config:
    return parse_config(CONFIG.replace("format: json", f"format: {fmt}"), tmp_path / "config.yaml")


def test_json_lines_parse_with_extras_and_tracebacks() -> None:
    out = io.StringIO()
    setup_logging(LoggingConfig(level="INFO", format="json"), stream=out, environ={})
    log = logging.getLogger("whatshooked.test")
    log.info("delivered %s to %s", "evt_1", "crm", extra={"event_id": "evt_1", "attempt": 2})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("delivery to %s failed", "crm")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["level"] == "INFO" and first["logger"] == "whatshooked.test"
    assert first["message"] == "delivered evt_1 to crm"
    assert first["event_id"] == "evt_1" and first["attempt"] == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc_info"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_configured_secret_is_scrubbed(tmp_path: Path, fmt: str) -> None:
    out = io.StringIO()
    cfg = config(tmp_path, fmt)
    configure_from(cfg, stream=out, environ={})
    log = logging.getLogger("whatshooked.test")
    for kind, secret in SECRETS.items():
        log.warning("%s is %s", kind, secret)
        log.warning(f"inline {kind}={secret}")
        log.info("as extra", extra={"leak": secret})
        try:
            raise RuntimeError(f"request failed with {kind} {secret!r}")
        except RuntimeError:
            log.exception("traceback for %s", kind)
    log.info("basic header %s", "Basic YWRtaW46cHctU3dvcmRmaXNoLTA0MTU=")
    log.info("the key alone %s", SECRETS["hook_secret"].removeprefix("whsec_"))
    text = out.getvalue()
    assert text.count("***") >= 3 * len(SECRETS)
    for secret in [*cfg.secrets(), "YWRtaW46cHctU3dvcmRmaXNoLTA0MTU=", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]:
        assert secret not in text
    assert "api_key is ***" in text


def test_reload_updates_the_secret_list(tmp_path: Path) -> None:
    out = io.StringIO()
    first = setup_logging(LoggingConfig(), ["old-secret-1"], stream=out, environ={})
    second = setup_logging(LoggingConfig(), ["new-secret-2"], stream=out, environ={})
    assert first is second  # updated in place
    logging.getLogger("whatshooked.test").warning("%s %s", "old-secret-1", "new-secret-2")
    assert "old-secret-1 ***" in out.getvalue()


def test_a_short_secret_is_masked_where_it_stands_alone_not_inside_words() -> None:
    out = io.StringIO()
    setup_logging(LoggingConfig(), ["k", "s3cr"], stream=out, environ={})
    logging.getLogger("whatshooked.test").warning("whatshooked key=%s Bearer %s \"%s\" ks3cr", "k", "s3cr", "k")
    assert out.getvalue().rstrip().endswith('whatshooked key=*** Bearer *** "***" ks3cr')


def test_journal_mode_has_no_timestamp_but_a_priority() -> None:
    out = io.StringIO()
    setup_logging(LoggingConfig(level="INFO", format="text"), stream=out, environ={"JOURNAL_STREAM": "8:12345"})
    logging.getLogger("whatshooked.service.daemon").info("listening on %s", "127.0.0.1:8825")
    logging.getLogger("whatshooked.service.daemon").warning("careful")
    assert out.getvalue().splitlines() == [
        "<6>INFO whatshooked.service.daemon: listening on 127.0.0.1:8825",
        "<4>WARNING whatshooked.service.daemon: careful",
    ]


def test_terminal_text_has_a_timestamp() -> None:
    out = io.StringIO()
    setup_logging(LoggingConfig(level="INFO", format="text"), stream=out, environ={})
    logging.getLogger("whatshooked.service.daemon").info("hello")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO whatshooked.service.daemon: hello\n",
                        out.getvalue())


def test_journal_stream_of_another_file_is_ignored(tmp_path: Path) -> None:
    with open(tmp_path / "log.txt", "w") as out:
        setup_logging(LoggingConfig(format="text"), stream=out, environ={"JOURNAL_STREAM": "1:1"})
        logging.getLogger("whatshooked.x").info("hello")
    assert not (tmp_path / "log.txt").read_text().startswith("<6>")


def test_idempotent_and_replaces_basic_config_handlers() -> None:
    root = logging.getLogger()
    neonize_style = logging.StreamHandler(io.StringIO())  # what logging.basicConfig (neonize's import) adds
    root.addHandler(neonize_style)
    out = io.StringIO()
    setup_logging(LoggingConfig(), stream=out, environ={})
    setup_logging(LoggingConfig(), stream=out, environ={})
    assert neonize_style not in root.handlers
    assert [h for h in root.handlers if isinstance(h, ScrubbingHandler)] == [root.handlers[-1]]
    assert len([h for h in root.handlers if isinstance(h, ScrubbingHandler)]) == 1
    logging.getLogger("whatshooked.x").info("once")
    assert out.getvalue().count("once") == 1


def test_library_loggers_are_quiet_unless_debug() -> None:
    out = io.StringIO()
    setup_logging(LoggingConfig(level="INFO"), stream=out, environ={})
    logging.getLogger("whatsmeow.Client").info("chatty")
    logging.getLogger("neonize.client").info("chatty")
    logging.getLogger("aiohttp.access").info("GET /health 200")
    logging.getLogger("whatsmeow.Client").warning("worth seeing")
    assert "chatty" not in out.getvalue() and "GET /health" not in out.getvalue()
    assert "worth seeing" in out.getvalue()
    assert logging.getLogger("neonize.utils.log").level == logging.WARNING  # what neonize gives whatsmeow
    setup_logging(LoggingConfig(level="DEBUG"), stream=out, environ={})
    logging.getLogger("whatsmeow.Client").debug("now visible")
    logging.getLogger("aiosqlite").debug("executing COMMIT")
    assert "now visible" in out.getvalue() and "COMMIT" not in out.getvalue()
