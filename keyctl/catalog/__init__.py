"""The scope catalog: what scopes an API has and the rules between them.

* :mod:`keyctl.catalog.model` (PURE): the model and its rules (names, groups,
  closure under prerequisites, removal with dependents).
* :mod:`keyctl.catalog.load`: the built-ins, a user's file, the text a store keeps;
  validation (every problem, each naming its entry).
* :mod:`keyctl.catalog.build` (PURE): a catalog from rows, in linear time.
* :mod:`keyctl.catalog.compiled`: the rows of a validated catalog as JSON, kept by a
  store beside the text and loaded without validating again.
"""

from __future__ import annotations

from .load import BUILTIN_CATALOGS, DEFAULT_CATALOG, builtin, builtin_text, load_catalog, parse_catalog, validate
from .model import ALL, AUTH_KINDS, Catalog, Change, Notice, Operation, Scope, normalize, split_names

__all__ = [
    "ALL", "AUTH_KINDS", "BUILTIN_CATALOGS", "DEFAULT_CATALOG", "Catalog", "Change", "Notice", "Operation", "Scope",
    "builtin", "builtin_text", "load_catalog", "normalize", "parse_catalog", "split_names", "validate",
]
