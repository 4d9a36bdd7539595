"""The docs match the program: every CLI command has an example, every send body is described, and
every link points at a file inside the repository."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from tests.support.openapi_routes import documented_routes
from whatshooked.accounts.sends import SEND_ROUTES, validate_send_body
from whatshooked.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def command_paths(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """`serve`, `accounts enable`, … — every command a user can type."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                found.extend(command_paths(sub, path) or [path])
    return found


def test_every_cli_command_has_an_example_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [path for path in command_paths(build_parser()) if f"whatshooked {path}" not in readme]
    assert not missing, f"README.md has no `whatshooked …` example of: {missing}"
    assert "accounts qr" in " ".join(command_paths(build_parser()))  # the walk sees the new commands


def test_every_send_route_body_is_documented() -> None:
    sending = (ROOT / "docs" / "sending.md").read_text()
    rows = {line.split("`")[1].split(" ", 1)[1]: line for line in sending.splitlines() if line.startswith("| `POST ")}
    assert set(rows) == set(SEND_ROUTES), set(SEND_ROUTES) ^ set(rows)
    for path, kind in SEND_ROUTES.items():
        example = rows[path].rstrip(" |").rsplit("| `", 1)[1].rstrip("`")
        body = json.loads(example)
        validate_send_body(kind, body)  # the example is a body the daemon accepts (400 otherwise)


def test_links_stay_inside_the_repository() -> None:
    problems = []
    for doc in DOCS:
        text = doc.read_text()
        if "/work/" in text:
            problems.append(f"{doc.name}: mentions a path of the machine it was written on")
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            file = (doc.parent / target.split("#", 1)[0]).resolve()
            if not file.is_relative_to(ROOT) or not file.exists():
                problems.append(f"{doc.relative_to(ROOT)}: link to {target}")
    assert not problems, problems


def test_the_docs_name_only_routes_that_exist() -> None:
    routes = documented_routes(json.loads((ROOT / "whatshooked" / "api" / "openapi_contract.json").read_text()))
    routes |= documented_routes(json.loads((ROOT / "whatshooked" / "api" / "openapi_extra.json").read_text()))
    paths = {path for _, path in routes}
    sending = (ROOT / "docs" / "sending.md").read_text()
    for path in re.findall(r"`POST (/api/[a-z/-]+)`", sending):
        assert path in paths, path
