"""The config loader (DESIGN §3): interpolation, defaults, durations, sizes, paths and every error form."""

from __future__ import annotations

from pathlib import Path

import pytest

from whatshooked.config.load import load_config, parse_config, resolve_config_path
from whatshooked.config.model import Config
from whatshooked.config.values import Secret, parse_duration, parse_size
from whatshooked.errors import ConfigError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def parse(text: str, env: dict[str, str] | None = None, strict: bool = False, path: str = "/etc/wh/config.yaml"
          ) -> Config:
    return parse_config(text, Path(path), env=env or {}, strict=strict)


def problems(text: str, env: dict[str, str] | None = None, strict: bool = False) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, env, strict)
    return info.value.problems


def test_empty_file_gives_every_default() -> None:
    config = parse("")
    assert config.server.host == "127.0.0.1" and config.server.port == 8825
    assert config.server.max_body == 64 * 1024 * 1024
    assert config.storage.path == Path("/etc/wh/data/whatshooked.db")
    assert config.message_cache.enabled and config.message_cache.max_age == 7 * 86400
    assert config.message_cache.max_events == 100_000
    assert config.delivery.timeout == 10 and config.delivery.retry == (1, 5, 30, 120, 600)
    assert config.delivery.concurrency == 16
    assert config.media.mode == "url" and config.media.dir == Path("/etc/wh/data/media")
    assert config.accounts == () and config.hooks == ()


def test_interpolation_with_defaults_anywhere_in_a_string() -> None:
    config = parse(
        "server:\n  api_key: ${KEY}\n  public_url: https://${HOST:-bridge.example.com}/wh\n"
        "  username: ${USER_NAME:-admin}\n  password: pre-${PASSWORD}-post\n",
        env={"KEY": "k1", "PASSWORD": "pw"},
    )
    assert config.server.api_key.reveal() == "k1"
    assert config.server.public_url == "https://bridge.example.com/wh"
    assert config.server.username == "admin"
    assert config.server.password.reveal() == "pre-pw-post"


def test_an_unset_variable_without_default_is_empty() -> None:
    assert parse("server:\n  api_key: ${NOT_SET}\n").server.api_key == ""


def test_interpolated_numbers_are_converted() -> None:
    config = parse("server:\n  port: ${PORT:-9000}\nmessage_cache:\n  enabled: ${CACHE:-false}\n")
    assert config.server.port == 9000 and config.message_cache.enabled is False


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("30s", 30), ("10m", 600), ("2h", 7200), ("7d", 604800), (12, 12), (1.5, 1.5), ("45", 45),
])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["soon", "10 minutes", "-5s", True, -1, [1]])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(("text", "size"), [
    ("64MB", 64 * 1024**2), ("512kb", 512 * 1024), ("1GiB", 1024**3), (2048, 2048), ("10", 10), ("1.5k", 1536),
])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["huge", "-1MB", 0, True, "5 parsecs"])
def test_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)


def format_duration(seconds: float) -> str:
    """A duration as the config writes it: the largest whole unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"


def test_format_duration_round_trips() -> None:
    assert [format_duration(s) for s in (0.5, 30, 600, 7200, 86400)] == ["500ms", "30s", "10m", "2h", "1d"]


def test_durations_and_sizes_in_the_file() -> None:
    config = parse("server: {max_body: 1MB}\ndelivery: {timeout: 500ms, retry: [1s, 2m]}\nmedia: {ttl: 2h}\n"
                   "message_cache: {max_age: 1d}\n")
    assert config.server.max_body == 1024**2
    assert config.delivery.timeout == 0.5 and config.delivery.retry == (1, 120)
    assert config.media.ttl == 7200 and config.message_cache.max_age == 86400


def test_relative_paths_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    config = parse(
        "storage: {path: state/db.sqlite}\nmedia: {dir: /var/media}\n"
        "accounts:\n  - id: a\n  - id: b\n    session_path: s/b.db\n",
        path=str(tmp_path / "conf" / "c.yaml"),
    )
    assert config.storage.path == tmp_path / "conf" / "state" / "db.sqlite"
    assert config.media.dir == Path("/var/media")
    assert config.accounts[0].settings.session_path == tmp_path / "conf" / "data" / "sessions" / "a.db"
    assert config.accounts[1].settings.session_path == tmp_path / "conf" / "s" / "b.db"


def test_accounts_and_hooks() -> None:
    config = parse(f"""
accounts:
  - id: personal
    phone_number: "+15551234567"
    show_qr: true
  - id: shop
    type: business-api
    business_api:
      phone_number_id: "106540352242922"
      access_token: ${{TOKEN}}
      app_secret: s3cret
hooks:
  - id: crm
    url: https://crm.example.com/wa
    method: put
    headers: {{Authorization: "Bearer abc", X-Num: 5}}
    events: [message.received, "message.*"]
    secret: {SECRET}
""", env={"TOKEN": "EAAtoken"})
    personal, shop = config.accounts
    assert personal.type == "whatsmeow" and personal.settings.show_qr and not hasattr(personal.settings, "access_token")
    assert shop.settings is not None and not hasattr(shop.settings, "session_path")
    assert shop.settings.access_token.reveal() == "EAAtoken"
    assert shop.settings.webhook_path == "/webhooks/whatsapp/shop"
    assert shop.settings.api_version == "v21.0"
    assert shop.settings.graph_url == "https://graph.facebook.com"
    hook = config.hooks[0]
    assert hook.method == "PUT" and hook.name == "crm" and hook.active
    assert hook.headers == {"Authorization": "Bearer abc", "X-Num": "5"}
    assert hook.events == ("message.received", "message.*")
    assert config.hook("crm") is hook and config.account("shop") is shop and config.hook("x") is None
    assert sorted(config.secrets()) == sorted(["EAAtoken", "s3cret", SECRET, "Bearer abc"])  # credential header too


def test_secrets_are_masked_in_repr_and_str() -> None:
    config = parse("server: {api_key: topsecret}\n")
    assert "topsecret" not in repr(config) and "topsecret" not in str(config.server.api_key)
    assert f"{config.server.api_key}" == "***"
    assert Secret("") == "" and str(Secret("")) == ""


def test_unknown_keys_warn_at_serve_and_fail_at_check_config() -> None:
    text = "servr: {}\nserver: {prot: 1}\nhooks:\n  - {id: h, url: 'http://x', evnts: []}\n"
    config = parse(text)
    assert len(config.warnings) == 3
    assert any("servr: unknown key" in w for w in config.warnings)
    found = problems(text, strict=True)
    assert "/etc/wh/config.yaml: server.prot: unknown key" in found[1]
    assert any("hooks[0].evnts: unknown key" in p for p in found)


@pytest.mark.parametrize(("text", "expected"), [
    ("server: [1]\n", "server: must be a mapping"),
    ("server: {port: eighty}\n", "server.port: must be a whole number, not 'eighty'"),
    ("server: {port: 70000}\n", "server.port: must be between 0 and 65535"),
    ("server: {username: admin}\n", "server.password: username and password go together"),
    ("server: {username: admin, password: '${UNSET_PW}'}\n", "set both or neither (an unset ${VAR} reads as empty)"),
    ("server: {public_url: bridge.example.com}\n", "server.public_url: must start with http:// or https://"),
    ("server: {max_body: lots}\n", "server.max_body: 'lots' is not a size"),
    ("message_cache: {enabled: maybe}\n", "message_cache.enabled: must be true or false"),
    ("message_cache: {max_events: 0}\n", "message_cache.max_events: must be a whole number of at least 1"),
    ("delivery: {retry: 5s}\n", "delivery.retry: must be a list of waits"),
    ("delivery: {retry: [1s, soon]}\n", "delivery.retry[1]: 'soon' is not a duration"),
    ("delivery: {timeout: forever}\n", "delivery.timeout: 'forever' is not a duration"),
    ("media: {mode: inline}\n", "media.mode: must be one of url, base64, none, not 'inline'"),
    ("logging: {level: loud}\n", "logging.level: must be one of debug, info, warning, error"),
    ("accounts: {id: a}\n", "accounts: must be a list"),
    ("accounts: [3]\n", "accounts[0]: must be a mapping"),
    ("accounts: [{type: whatsmeow}]\n", "accounts[0].id: is required"),
    ("accounts: [{id: 'a b'}]\n", "accounts[0].id: 'a b' must be letters, digits"),
    ("accounts: [{id: a}, {id: a}]\n", "accounts[1].id: 'a' is used twice"),
    ("accounts: [{id: a, type: telegram}]\n", "accounts[0].type: must be one of whatsmeow, business-api"),
    ("accounts: [{id: a, type: business-api}]\n", "accounts[0].business_api: is required for a business-api"),
    ("accounts: [{id: a, type: business-api, business_api: {phone_number_id: '1'}}]\n",
     "accounts[0].business_api.access_token: is required (is its environment variable set?)"),
    ("accounts: [{id: a, type: business-api, business_api: {access_token: t, phone_number_id: '1', "
     "webhook_path: /api/x}}]\n", "accounts[0].business_api.webhook_path: must start with / and not with /api/"),
    ("hooks: [{id: h}]\n", "hooks[0].url: is required"),
    ("hooks: [{id: h, url: ftp://x}]\n", "hooks[0].url: must start with http:// or https://"),
    ("hooks: [{id: h, url: 'http://u:p@x:99999/'}]\n", "hooks[0].url: is not a valid URL: Port out of range 0-65535"),
    ("hooks: [{id: h, url: 'http://[::1/in'}]\n", "hooks[0].url: is not a valid URL: Invalid IPv6 URL"),
    ("hooks: [{id: h, url: 'http:///in'}]\n", "hooks[0].url: has no host name"),
    ("hooks: [{id: h, url: 'http://x', method: DELETE}]\n", "hooks[0].method: must be one of GET, POST, PUT, PATCH"),
    ("hooks: [{id: h, url: 'http://x', events: [message.received, '']}]\n", "hooks[0].events[1]: must be an event"),
    ("hooks: [{id: h, url: 'http://x', secret: 'whsec_!!!'}]\n", "hooks[0].secret: must be whsec_ followed by base64"),
    ("hooks: [{id: h, url: 'http://x', headers: {X-A: [1]}}]\n", "hooks[0].headers.X-A: must be a string"),
    ("- just\n- a list\n", "the top level must be a mapping"),
    ("server: {port: 1\n", "not valid YAML (line 2, column 1)"),
])
def test_every_error_names_file_key_and_why(text: str, expected: str) -> None:
    found = problems(text)
    assert all(p.startswith("/etc/wh/config.yaml: ") for p in found), found
    assert any(expected in p for p in found), found


def test_all_problems_are_reported_at_once() -> None:
    found = problems("server: {port: x}\nmedia: {mode: y}\nhooks: [{id: h}]\n")
    assert len(found) == 3


def test_load_config_reads_the_file_and_reports_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: file not found"]
    path.write_text("server: {port: 9}\n")
    assert load_config(path).server.port == 9


def test_a_file_that_is_not_utf8_is_one_config_problem(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"server:\n  api_key: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: not UTF-8 text (byte 22); save it as UTF-8"]


def test_config_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WHATSHOOKED_CONFIG", raising=False)
    assert resolve_config_path(None) == tmp_path / "config.yaml"
    monkeypatch.setenv("WHATSHOOKED_CONFIG", "/srv/wh.yaml")
    assert resolve_config_path(None) == Path("/srv/wh.yaml")
    assert resolve_config_path("other.yaml") == tmp_path / "other.yaml"


def test_unset_environment_variable_is_a_warning_naming_it(tmp_path):
    path = tmp_path / "config.yaml"
    text = "server:\n  api_key: ${WH_TEST_UNSET_KEY}\n  host: ${WH_TEST_UNSET_HOST:-0.0.0.0}\n"
    config = parse_config(text, path, env={})
    assert config.server.api_key.reveal() == "" and config.server.host == "0.0.0.0"
    assert config.warnings == (f"{path}: ${{WH_TEST_UNSET_KEY}} is not set in the environment and reads as empty",)
