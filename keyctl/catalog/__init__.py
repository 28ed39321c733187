"""The scope catalog: what scopes an API has and the rules between them.

* :mod:`keyctl.catalog.model` (PURE): the model and its rules (names, groups,
  closure under prerequisites, removal with dependents).
* :mod:`keyctl.catalog.load`: the built-ins, a user's file, the text a store keeps;
  validation (every problem, each naming its entry).
"""

from __future__ import annotations

from .load import BUILTIN_CATALOGS, DEFAULT_CATALOG, builtin, builtin_text, load_catalog, parse_catalog, validate
from .model import ALL, Catalog, Change, Operation, Scope, normalize, split_names

__all__ = [
    "ALL", "BUILTIN_CATALOGS", "DEFAULT_CATALOG", "Catalog", "Change", "Operation", "Scope",
    "builtin", "builtin_text", "load_catalog", "normalize", "parse_catalog", "split_names", "validate",
]
