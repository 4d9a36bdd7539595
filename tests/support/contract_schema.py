"""The OpenAPI contract as test data: its operations, minimal values from its schemas, and a validator.

Generic over the schema subset the contract uses (type, properties, required, items, enum, pattern,
format, example, minItems, additionalProperties, $ref to components/schemas). What a test knows beyond
the contract (existing account ids, fields Meta needs although the schema leaves them optional) is
passed in: `fixed` values by field name, and `also_required` dotted names such as `a.b[0].c`.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

CONTRACT: dict[str, Any] = json.loads(
    resources.files("whatshooked.api").joinpath("openapi_contract.json").read_text(encoding="utf-8"))
METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any] = field(hash=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def public(self) -> bool:
        return self.spec.get("security", CONTRACT.get("security")) == []

    @property
    def statuses(self) -> set[int]:
        return {int(code) for code in self.spec["responses"]}

    @property
    def body(self) -> tuple[str, dict[str, Any]] | None:
        """(media type, schema) of the request body, if any."""
        request = self.spec.get("requestBody")
        if not request:
            return None
        media_type, content = next(iter(request["content"].items()))
        return media_type, content["schema"]

    @property
    def body_required(self) -> bool:
        return bool(self.spec.get("requestBody", {}).get("required"))

    def response_schema(self, status: int) -> dict[str, Any] | None:
        content = self.spec["responses"].get(str(status), {}).get("content", {})
        return content.get("application/json", {}).get("schema")


OPERATIONS = [Operation(method, path, spec) for path, item in CONTRACT["paths"].items()
              for method, spec in item.items() if method in METHODS]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/components/schemas/"), ref
        schema = CONTRACT["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def required(schema: dict[str, Any], where: str, also: Collection[str]) -> list[str]:
    """The schema's required properties, and those `also` names at this place of a body."""
    listed = schema.get("required", [])
    return [*listed, *(key for key in schema.get("properties", {}) if join(where, key) in also and key not in listed)]


class Generator:
    """Minimal valid values: required properties only, one item per array, examples and enums first."""

    def __init__(self, hook_url: str, fixed: Mapping[str, Any] | None = None,
                 also_required: Collection[str] = frozenset()) -> None:
        self.hook_url = hook_url
        self.fixed = fixed or {}
        self.also_required = also_required
        self.serial = itertools.count(1)

    def value(self, schema: dict[str, Any], name: str = "", where: str = "") -> Any:
        schema = resolve(schema)
        if name in self.fixed:
            return self.fixed[name]
        if "example" in schema:
            return schema["example"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            props = schema.get("properties", {})
            keys = required(schema, where, self.also_required)
            return {key: self.value(props.get(key, {}), key, join(where, key)) for key in keys}
        if kind == "array":
            return [self.value(schema.get("items", {}), name, f"{where}[0]")] * max(1, schema.get("minItems", 1))
        if kind == "string":
            return self.string(schema, name)
        if kind == "integer":
            return 1
        if kind == "number":
            return 1.5
        if kind == "boolean":
            return True
        return {}

    def string(self, schema: dict[str, Any], name: str) -> Any:
        assert "pattern" not in schema, f"{name}: a pattern without an example; add an example to the contract"
        fmt = schema.get("format")
        if fmt == "byte":
            return base64.b64encode(b"RIFF\x00\x00\x00\x00WEBPVP8 contract bytes").decode()
        if fmt == "binary":
            return b"contract file bytes"
        if fmt == "uri":
            return self.hook_url
        return f"{name or 'value'}-{next(self.serial)}"


def validate(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """The subset of JSON Schema the contract uses: type, properties, required, items, enum,
    additionalProperties and $ref. Returns the problems found."""
    schema = resolve(schema)
    kind = schema.get("type")
    checks: dict[str, Callable[[Any], bool]] = {
        "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    }
    if kind and not checks[kind](value):
        return [f"{where}: {value!r} is not of type {kind}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if kind == "object":
        props = schema.get("properties", {})
        problems += [f"{where}: {key!r} is required" for key in schema.get("required", []) if key not in value]
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                problems += validate(item, props[key], f"{where}.{key}")
            elif extra is False:
                problems.append(f"{where}: {key!r} is not allowed")
            elif isinstance(extra, dict):
                problems += validate(item, extra, f"{where}.{key}")
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            problems += validate(item, schema["items"], f"{where}[{index}]")
    return problems


def field_paths(value: Any, schema: dict[str, Any], also_required: Collection[str] = frozenset(),
                prefix: str = "") -> Iterator[tuple[tuple[Any, ...], str, dict[str, Any]]]:
    """(path into the body, display name, schema) of every required property present, at any depth."""
    schema = resolve(schema)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in required(schema, prefix, also_required):
            if key in value:
                name = join(prefix, key)
                yield (key,), name, resolve(props.get(key, {}))
                for sub, sub_name, sub_schema in field_paths(value[key], props.get(key, {}), also_required, name):
                    yield (key, *sub), sub_name, sub_schema
    elif isinstance(value, list) and value and "items" in schema:
        for sub, sub_name, sub_schema in field_paths(value[0], schema["items"], also_required, f"{prefix}[0]"):
            yield (0, *sub), sub_name, sub_schema


def invalid_values(schema: dict[str, Any], name: str, open_enums: Collection[str] = frozenset()) -> list[str]:
    """Strings the schema's enum, pattern or format rule out (the product must refuse them with 400)."""
    bad = []
    if "enum" in schema and name not in open_enums:
        bad.append("not-one-of-the-enum")
    if "pattern" in schema:
        bad.append("x")
    bad += {"uri": ["not a uri"], "byte": ["%%% not base64 %%%"]}.get(schema.get("format", ""), [])
    return bad


def without(body: Any, path: tuple[Any, ...], replace: Any = ...) -> Any:
    """A deep copy of `body` with the value at `path` removed (or replaced)."""
    body = json.loads(json.dumps(body))
    target = body
    for step in path[:-1]:
        target = target[step]
    if replace is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = replace
    return body


