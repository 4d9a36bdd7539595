"""Editing the config file the way a person would: an API change touches only the entries it changes.

config.py reads and validates with PyYAML; this module uses ruamel.yaml only to carry the file
through a write-back. ruamel keeps comments, key order and quoting, but it renders some lines a
little differently from how they were typed (spacing after a colon, sequence indentation, which
entry a comment between entries belongs to). So the edited document is rendered twice, before and
after the edit, and only the lines that differ between those two renderings are spliced into the
file as it is on disk: every other line stays byte for byte. The splice is used only when PyYAML
reads it exactly like the plain rendering; otherwise the plain rendering (comments still kept) is.
"""

from __future__ import annotations

import difflib
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.util import load_yaml_guess_indent

from whatshooked.config.load import NOT_A_MAPPING, SAFE_LOADER, read_document, yaml_error
from whatshooked.errors import ConfigError

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


class _Yaml11Resolver(VersionedResolver):
    """Read and write with PyYAML's YAML 1.1 rules (yes/no/on/off are booleans).

    The file is read back by PyYAML, so a new string like "on" or "1:20" must come out quoted,
    which ruamel's default YAML 1.2 rules would not do. No `%YAML` directive is written.
    """

    @property
    def processing_version(self) -> Any:
        return (1, 1)


class _Representer(RoundTripRepresenter):
    """Strings holding a line break or control character are written double-quoted, with escapes.

    ruamel would write U+0085, U+2028 or U+2029 raw inside single quotes, where YAML folds a line
    break into a space: a name sent through the API would come back changed after the write-back.
    """

    def represent_str(self, data: str) -> Any:
        if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") and c != "\t" for c in data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)


_Representer.add_representer(str, _Representer.represent_str)


@dataclass
class Document:
    """The config file as written (`text`) and as ruamel data (`data`, the mapping edits mutate)."""

    text: str
    data: CommentedMap
    _yaml: YAML
    _baseline: str

    @classmethod
    def read(cls, path: Path) -> Document:
        """Load `path` ({} when there is none); ConfigError when it does not parse."""
        text, _ = read_document(path)  # the same one-line errors as loading the file
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: Path) -> Document:
        if text and not text.endswith("\n"):
            text += "\n"
        rt = YAML()
        rt.Resolver = _Yaml11Resolver
        rt.Representer = _Representer
        rt.preserve_quotes = True
        rt.allow_duplicate_keys = True  # as PyYAML: the last one wins
        rt.width = 4096  # never fold a long line that was not folded
        try:
            data, indent, dash = load_yaml_guess_indent(text, yaml=rt)
        except YAMLError as exc:
            raise yaml_error(exc, path) from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise ConfigError([f"{path}: {NOT_A_MAPPING}"])
        # New entries follow the file's own sequence style; the starter config's `  - id:` by default.
        dash = 2 if dash is None else dash
        rt.indent(mapping=2, sequence=max(indent or 0, dash + 2), offset=dash)
        return cls(text, data, rt, _render(rt, data))

    def render(self) -> str | None:
        """The file after the edit, or None when the edit changed nothing."""
        _empty_in_flow_style(self.data)
        edited = _render(self._yaml, self.data)
        if edited == self._baseline:
            return None
        spliced = _splice(self.text, self._baseline, edited)
        if spliced is not None and _same_data(spliced, edited):
            return spliced
        return edited


def _render(rt: YAML, data: CommentedMap) -> str:
    out = io.StringIO()
    rt.dump(data, out)
    return out.getvalue()


def _empty_in_flow_style(node: Any) -> None:
    """An emptied list is written `hooks: []`: ruamel puts a bare `[]` on the next line otherwise."""
    if isinstance(node, CommentedMap | CommentedSeq):
        if not node:
            node.fa.set_flow_style()
        for child in node.values() if isinstance(node, CommentedMap) else node:
            _empty_in_flow_style(child)


def _lines(text: str) -> list[str]:
    return _LINE.findall(text)


def _is_note(line: str) -> bool:
    """A blank or comment-only line: it carries no data, and it belongs to what follows it."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _indent(line: str) -> int:
    """Leading spaces of a line; a blank line counts as 0, so it never stops a move."""
    return len(line) - len(line.lstrip(" ")) if line.strip() else 0


def _splice(text: str, baseline: str, edited: str) -> str | None:
    """The lines `edited` changes relative to `baseline`, applied to `text`; None if they do not line up."""
    original, before, after = _lines(text), _lines(baseline), _lines(edited)
    line, start, end = _align(before, original)
    out: list[str] = []
    done = 0  # original[:done] is accounted for
    for tag, i1, i2, j1, j2 in _opcodes(before, after):
        if tag == "equal":
            continue
        o1, o2 = (end[i1], end[i1]) if tag == "insert" else (start[i1], end[i2])
        if o1 is None or o2 is None or o1 < done or o2 < o1:
            return None
        out += original[done:o1]
        done = o2
        new = after[j1:j2]
        if tag == "insert":
            # ruamel hangs the comments after an entry on that entry, so it writes a new entry or key
            # after them; put it before them, next to the data it follows. Comments indented deeper
            # than the new lines (a commented-out key) stay with the entry above.
            depth = _indent(new[0])
            at = len(out)
            while at and _is_note(out[at - 1]) and _indent(out[at - 1]) <= depth:
                at -= 1
            out[at:at] = new
            continue
        # Deleted or replaced lines: the comments and blank lines around them stay (they may describe
        # the next entry); only data lines and the comments among them go.
        lead = i1
        while lead < i2 and _is_note(before[lead]):
            lead += 1
        trail = i2
        while trail > lead and _is_note(before[trail - 1]):
            trail -= 1
        kept = [k for k in (*range(i1, lead), *range(trail, i2)) if before[k] not in new]
        out += [_as_written(k, line, original, before) for k in kept if k < lead]
        out += new
        out += [_as_written(k, line, original, before) for k in kept if k >= trail]
    return "".join(out + original[done:])


def _align(before: list[str], original: list[str]) -> tuple[list[int | None], list[int | None], list[int | None]]:
    """Where ruamel's rendering of the unedited file sits in the file as written.

    `line[k]`: the written line that rendered line k is (same place, maybe spaced differently).
    `start[k]` / `end[k]`: where a change that starts / ends at the boundary before rendered line k
    goes in the file; lines only the file has (a `---`, say) stay outside a change that borders them.
    """
    line: list[int | None] = [None] * len(before)
    places: list[list[int]] = [[] for _ in range(len(before) + 1)]
    for tag, i1, i2, o1, o2 in _opcodes([_key(k) for k in before], [_key(k) for k in original]):
        if tag == "equal" or (tag == "replace" and i2 - i1 == o2 - o1):
            for k in range(i1, i2 + 1):
                places[k].append(o1 + k - i1)
            line[i1:i2] = range(o1, o2)
        elif tag == "delete":  # lines only the rendering has
            for k in range(i1, i2 + 1):
                places[k].append(o1)
        else:  # lines only the file has, or a block rendered with a different number of lines
            places[i1].append(o1)
            places[i2].append(o2)
    start = [max(p) if p else None for p in places]
    end = [min(p) if p else None for p in places]
    return line, start, end


def _key(line: str) -> str:
    """A line with its spacing collapsed: ruamel's rendering differs from the file mostly in spacing."""
    return " ".join(line.split())


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib's opcodes from `a` to `b`, with the common head and tail matched in linear time.

    difflib's matcher is quadratic in the number of repeated lines (a big config repeats `method: POST`
    in every hook); an edit changes one place, so only the lines between the common head and tail,
    about as many as the edit touches, go through it.
    """
    size = min(len(a), len(b))
    head = 0
    while head < size and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < size - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    ops: list[tuple[str, int, int, int, int]] = [("equal", 0, head, 0, head)] if head else []
    middle = difflib.SequenceMatcher(None, a[head:len(a) - tail], b[head:len(b) - tail], autojunk=False)
    ops += [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle.get_opcodes()]
    if tail:
        ops.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return ops


def _as_written(k: int, line: list[int | None], original: list[str], before: list[str]) -> str:
    at = line[k]
    return before[k] if at is None else original[at]


def _same_data(text: str, reference: str) -> bool:
    try:
        return bool(yaml.load(text, Loader=SAFE_LOADER) == yaml.load(reference, Loader=SAFE_LOADER))
    except yaml.YAMLError:
        return False
