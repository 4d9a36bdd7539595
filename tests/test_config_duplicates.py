"""A duplicate key in the config file is an error naming the key and its line (PyYAML let the second win)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.process import run_cli
from whatshooked.config.load import load_config
from whatshooked.errors import ConfigError


@pytest.mark.parametrize(("text", "key", "line", "first"), [
    ("hooks:\n  - id: a\n    url: http://127.0.0.1:9/a\nserver:\n  port: 1\nhooks: []\n", "hooks", 6, 1),
    ("server:\n  port: 8825\n  api_key: k\n  port: 8826\n", "port", 4, 2),
    ("hooks:\n  - id: a\n    url: http://127.0.0.1:9/a\n    url: http://127.0.0.1:9/b\n", "url", 4, 3),
])
def test_a_duplicate_key_names_the_key_and_its_line(tmp_path: Path, text: str, key: str, line: int,
                                                    first: int) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert f"{path}: not valid YAML (line {line}, column" in str(raised.value)
    assert f"duplicate key {key!r} (first on line {first})" in str(raised.value)
    done = run_cli("check-config", "-c", str(path), cwd=tmp_path)
    assert done.returncode == 2 and f"duplicate key {key!r}" in done.stderr


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("x-hook: &base\n  url: http://127.0.0.1:9/a\n  active: true\n"
                    "hooks:\n  - <<: *base\n    id: a\n    active: false\n")
    config = load_config(path)  # the unknown top-level key only warns
    assert config.hooks[0].active is False and config.hooks[0].url == "http://127.0.0.1:9/a"
