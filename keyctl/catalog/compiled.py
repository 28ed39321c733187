"""A validated catalog, compiled: the rows it is built from (keyctl/catalog/build.py)
as JSON, which a store keeps beside the catalog's text so that later commands load it
without parsing TOML or validating again (the C json module reads it in time linear
in its size, and the catalog builds only what a command looks at).

The compiled form names the text it was made from (its length and CRC-32): a store
whose text was replaced by a keyctl that does not write this form is loaded from the
text instead, never from a stale compiled copy.
"""

from __future__ import annotations

import json
import zlib

from .build import build_catalog, rows_of
from .load import parse_catalog
from .model import Catalog

FORMAT = 1  # bumped when the rows change; an older form is then ignored


def _stamp(text: str) -> list[int]:
    data = text.encode("utf-8")
    return [len(data), zlib.crc32(data)]


def catalog_meta(catalog: Catalog) -> dict[str, str]:
    """What a store keeps of its catalog (its meta table): the name, the text, and the
    compiled form."""
    return {"catalog": catalog.name, "catalog_text": catalog.text, "catalog_compiled": compile_catalog(catalog)}


def stored_catalog_of(text: str, compiled: str | None, name: str) -> Catalog:
    """The catalog a store keeps: from its compiled form, else (a store written before
    keyctl kept one) parsed and validated from its text."""
    catalog = load_compiled(compiled, text) if compiled is not None else None
    return catalog or parse_catalog(text, source=f"the store's catalog '{name}'")


def compile_catalog(catalog: Catalog) -> str:
    """The compiled form of a catalog that keyctl/catalog/load.py validated (made once
    per catalog)."""
    found = catalog._cache.get("compiled")
    if found is None:
        found = catalog._cache["compiled"] = _compile(catalog)
    return found


def _compile(catalog: Catalog) -> str:
    scopes, operations = rows_of(catalog)
    return json.dumps({
        "format": FORMAT, "text": _stamp(catalog.text), "name": catalog.name,
        "description": catalog.description, "groups": {g: list(m) for g, m in catalog.groups.items()},
        "scopes": scopes, "operations": operations, "aliases": dict(catalog.aliases),
    }, ensure_ascii=False, separators=(",", ":"))


def load_compiled(compiled: str, text: str) -> Catalog | None:
    """The catalog kept compiled, or None when the compiled form is not one this
    keyctl reads or was not made from ``text`` (then parse the text)."""
    try:
        data = json.loads(compiled)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("text") != _stamp(text):
        return None
    return build_catalog(data["name"], data["description"], data["groups"], data["scopes"],
                         data["operations"], data["aliases"], text)
