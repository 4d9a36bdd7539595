"""Meta's published OpenAPI spec of the Cloud API as the judge of the Graph requests the daemon sends.

`MetaSpec.judge(request)` finds the operations whose path template and method fit a recorded
request (`/{Version}/{Phone-Number-ID}/messages`, …) and returns what is wrong with it against each:
path parameters and query parameters against their schemas (no undeclared query parameter, every
required one present), and the JSON or multipart body against the operation's request body schema
(JSON Schema 2020-12, `$ref`s resolved within the spec). Empty: the request fits one operation.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.graph_standin import FilePart, GraphRequest

SPEC = Path(__file__).resolve().parent.parent / "fixtures" / "realworld" / "business-messaging-api_v23.0.yaml"
BASE = "urn:meta-business-messaging-api"
METHODS = ("get", "post", "delete", "put", "patch")


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    pointer: str  # JSON pointer of the operation within the spec
    pattern: re.Pattern[str]
    names: tuple[str, ...]  # path parameter names, in order
    literals: int  # literal segments: the more, the more specific the template


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


class MetaSpec:
    def __init__(self, path: Path = SPEC) -> None:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.doc: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
        _close_all_of(self.doc)
        self.registry: Registry[Any] = Registry().with_resource(
            BASE, Resource.from_contents(self.doc, default_specification=DRAFT202012))
        self.operations: list[Operation] = []
        for template, item in self.doc["paths"].items():
            segments = template.strip("/").split("/")
            names = tuple(s[1:-1] for s in segments if s.startswith("{"))
            regex = "/".join("([^/]+)" if s.startswith("{") else re.escape(s) for s in segments)
            literals = sum(1 for s in segments if not s.startswith("{"))
            for method in METHODS:
                if method in item:
                    self.operations.append(Operation(template, method.upper(), _pointer("paths", template, method),
                                                     re.compile(f"^{regex}$"), names, literals))

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = self.at(node["$ref"].removeprefix("#"))
        return node

    def at(self, pointer: str) -> Any:
        node: Any = self.doc
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    @functools.cache  # noqa: B019 - one spec object per test session
    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{BASE}#{quote(pointer, safe='/~')}"}, registry=self.registry)

    def errors_against(self, pointer: str, value: Any) -> list[str]:
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in self.validator(pointer).iter_errors(value)]

    def _branch(self, pointer: str, value: Any) -> str:
        """A `oneOf` with a discriminator judged by the branch the body names (sharper verdicts)."""
        schema = self.at(pointer)
        while "$ref" in schema:
            pointer = schema["$ref"].removeprefix("#")
            schema = self.at(pointer)
        mapping = (schema.get("discriminator") or {}).get("mapping") or {}
        prop = (schema.get("discriminator") or {}).get("propertyName")
        if isinstance(value, dict) and isinstance(value.get(prop), str) and value[prop] in mapping:
            return str(mapping[value[prop]]).removeprefix("#")
        return pointer

    def candidates(self, request: GraphRequest) -> list[tuple[Operation, list[str]]]:
        full = f"{request.version}/{request.path}".strip("/")
        found = [(op, m) for op in self.operations if op.method == request.method and (m := op.pattern.match(full))]
        best = max((op.literals for op, _ in found), default=0)
        return [(op, list(m.groups())) for op, m in found if op.literals == best]

    def judge(self, request: GraphRequest) -> list[str]:
        """What is wrong with `request`: [] when it fits an operation of the spec."""
        candidates = self.candidates(request)
        if not candidates:
            return [f"{request.method} /{request.version}/{request.path}: no operation of Meta's spec has this "
                    "method and path"]
        verdicts = []
        for op, values in candidates:
            problems = self._check(op, values, request)
            if not problems:
                return []
            verdicts.append(f"{op.method} {op.template}: " + "; ".join(problems))
        return verdicts

    def _parameters(self, op: Operation) -> list[tuple[dict[str, Any], str]]:
        """(parameter, its schema's JSON pointer) for path-level and operation-level parameters."""
        found = []
        for level in (_pointer("paths", op.template), op.pointer):
            for index, raw in enumerate(self.at(level).get("parameters") or []):
                where = raw["$ref"].removeprefix("#") if "$ref" in raw else f"{level}/parameters/{index}"
                found.append((self.resolve(raw), f"{where}/schema"))
        return found

    def _check(self, op: Operation, values: list[str], request: GraphRequest) -> list[str]:
        problems: list[str] = []
        params = self._parameters(op)
        by_place: dict[str, dict[str, tuple[dict[str, Any], str]]] = {}
        for param, schema in params:
            by_place.setdefault(param["in"], {})[param["name"]] = (param, schema)
        for name, value in zip(op.names, values, strict=True):
            if name in by_place.get("path", {}):
                problems += [f"path {name}: {e}" for e in self.errors_against(by_place["path"][name][1], value)]
        query = by_place.get("query", {})
        for name, value in request.query.items():
            if name not in query:
                problems.append(f"query parameter {name!r} is not a parameter of this operation "
                                f"(it has {sorted(query) or 'none'})")
            else:
                errors = self.errors_against(query[name][1], value)
                if errors and _typed(value) != value:  # `limit=10` is an integer in the schema
                    errors = self.errors_against(query[name][1], _typed(value))
                problems += [f"query {name}: {e}" for e in errors]
        problems += [f"required query parameter {name!r} missing" for name, (p, _) in query.items()
                     if p.get("required") and name not in request.query]
        return problems + self._check_body(op, request)

    def _check_body(self, op: Operation, request: GraphRequest) -> list[str]:
        raw = self.at(op.pointer).get("requestBody")
        body = self.resolve(raw) or {}
        content = body.get("content") or {}
        if not request.body and not request.form:
            return ["the operation requires a request body; none was sent"] if body.get("required") else []
        mime = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if mime not in content:
            return [f"sent a {mime or 'untyped'} body; the operation takes {sorted(content) or 'no body'}"]
        base = raw["$ref"].removeprefix("#") if "$ref" in raw else f"{op.pointer}/requestBody"
        pointer = f"{base}/content/{mime.replace('/', '~1')}/schema"
        value = request.json if request.json is not None else {
            k: "<file>" if isinstance(v, FilePart) else v for k, v in request.form.items()}
        pointer = self._branch(pointer, value)
        errors = self.errors_against(pointer, value)
        examples = [e.get("value") for e in (content[mime].get("examples") or {}).values() if isinstance(e, dict)]
        if errors and any(_fits_example(value, example) for example in examples):
            return []  # the schema omits a form the operation's own examples show (the read receipt)
        return [f"body {e}" for e in errors]


def _close_all_of(node: Any) -> None:
    """The spec writes `allOf: [base, {additionalProperties: false, …}]`, which no body can meet (the
    base's properties are "additional" to the second part). What it means is 2020-12's
    `unevaluatedProperties: false` on the whole: rewritten so, in place."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            parts = item.get("allOf")
            if isinstance(parts, list) and any(isinstance(p, dict) and p.get("additionalProperties") is False
                                               for p in parts):
                for part in parts:
                    if isinstance(part, dict) and part.get("additionalProperties") is False:
                        del part["additionalProperties"]
                item["unevaluatedProperties"] = False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _fits_example(value: Any, example: Any) -> bool:
    """`value` has the example's shape: a subset of its keys, the same JSON types, and the same text
    where the example's text is not a placeholder (`<…>`, `{{…}}`) or a message id."""
    if isinstance(example, dict):
        return isinstance(value, dict) and set(value) <= set(example) and all(
            _fits_example(v, example[k]) for k, v in value.items())
    if isinstance(example, str):
        placeholder = "<" in example or "{{" in example or example.startswith("wamid.")
        return isinstance(value, str) and (placeholder or value == example)
    return type(value) is type(example)


def _typed(value: str) -> Any:
    """A query value as the JSON its schema may describe."""
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    return {"true": True, "false": False}.get(value, value)
