"""Finds the account backends: every subpackage of `whatshooked/accounts/` that declares a `SPEC`.

Importing a backend's package is cheap (its `__init__` declares the spec only); its adapter, and
neonize with it, is imported by the Registry when an account of that type is built.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import whatshooked.accounts
from whatshooked.accounts.spec import BackendSpec


@functools.cache
def _found() -> tuple[BackendSpec, ...]:
    specs = []
    for info in pkgutil.iter_modules(whatshooked.accounts.__path__):
        if info.ispkg:
            spec = getattr(importlib.import_module(f"whatshooked.accounts.{info.name}"), "SPEC", None)
            if isinstance(spec, BackendSpec):
                specs.append(spec)
    return tuple(sorted(specs, key=lambda s: (not s.default, s.type_name)))


def backend_specs() -> dict[str, BackendSpec]:
    """Type name → spec, the default type first."""
    return {spec.type_name: spec for spec in _found()}


def default_type() -> str:
    return next(iter(backend_specs()))
