"""The YAML loader for config files: PyYAML's safe rules (libyaml's parser when present), refusing
duplicate keys. PyYAML lets the second of two same-named keys win in silence, so a second `hooks:`
block would quietly replace the first (DESIGN §8.1: a duplicate key is a config error naming it and its line)."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MERGE_TAG = "tag:yaml.org,2002:merge"


class SafeLoader(_BASE):
    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == MERGE_TAG:
                    continue  # keys a `<<:` merge brings in may be overridden: that is what merges are for
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line)
                except TypeError:
                    continue  # an unhashable key: the base class says what is wrong with it
                if first != key_node.start_mark.line:
                    raise ConstructorError(None, None, f"duplicate key {key!r} (first on line {first + 1})",
                                           key_node.start_mark)
        return super().construct_mapping(node, deep)
