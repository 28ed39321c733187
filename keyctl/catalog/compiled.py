"""A validated catalog, compiled: the rows it is built from (keyctl/catalog/build.py)
as JSON, which a store keeps beside the catalog's text so that later commands load it
without parsing TOML or validating again.

Loading does as little as a command needs, in time linear in the catalog at worst: the
scope ids are split from one string and indexed, each scope's row is decoded when that
scope is first looked at, and the groups and aliases when first used. A ``check`` of
one operation in a catalog of thousands of scopes decodes a handful of rows.

The compiled form names the text it was made from (its length and CRC-32): a store
whose text was replaced by a keyctl that does not write this form is loaded from the
text instead, never from a stale compiled copy.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Callable, Iterator, Mapping

from .build import build_catalog, rows_of
from .load import parse_catalog
from .model import Catalog, Table

FORMAT = 2  # bumped when the form changes; a form this keyctl does not read is ignored


def _stamp(text: str) -> list[int]:
    data = text.encode("utf-8")
    return [len(data), zlib.crc32(data)]


def catalog_meta(catalog: Catalog) -> dict[str, str]:
    """What a store keeps of its catalog (its meta table): the name, the text, the
    compiled form, and the revision (read with every check, so that a long-lived
    KeyStore notices a catalog replaced by another process)."""
    return {"catalog": catalog.name, "catalog_text": catalog.text, "catalog_compiled": compile_catalog(catalog),
            "catalog_rev": catalog_rev(catalog.text)}


def catalog_rev(text: str) -> str:
    """The revision of a catalog's text."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _compile(catalog: Catalog) -> str:
    scopes, operations = rows_of(catalog)
    # Scope ids hold no line break (load.py's id rule) and a row's JSON holds none
    # (json.dumps escapes them): one line per scope, in catalog order.
    return _json({
        "format": FORMAT, "text": _stamp(catalog.text), "name": catalog.name,
        "description": catalog.description, "operations": operations, "scopes_are_calls": catalog.scopes_are_calls,
        "scope_ids": "\n".join(scopes), "scope_rows": "\n".join(_json(row) for row in scopes.values()),
        "groups": _json({g: list(m) for g, m in catalog.groups.items()}), "aliases": _json(dict(catalog.aliases)),
    })


_FIELDS = {"name", "description", "operations", "scope_ids", "scope_rows", "groups", "aliases"}


def load_compiled(compiled: str, text: str) -> Catalog | None:
    """The catalog kept compiled, or None when the compiled form is not one this
    keyctl reads or was not made from ``text`` (then parse the text)."""
    try:
        data = json.loads(compiled)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("text") != _stamp(text):
        return None
    if not _FIELDS <= data.keys() or not isinstance(data["scope_ids"], str) or \
            not isinstance(data["scope_rows"], str):
        return None  # damaged: the text is parsed instead
    groups = _Decoded(data["groups"], lambda found: {g: tuple(m) for g, m in found.items()})
    ids = data["scope_ids"].split("\n") if data["scope_ids"] else []
    lines = data["scope_rows"].split("\n")
    scopes = Table(dict(zip(ids, range(len(ids)))), lambda sid, line: json.loads(lines[line]))
    return build_catalog(data["name"], data["description"], groups, scopes, data["operations"],
                         _Decoded(data["aliases"], dict), text, data.get("scopes_are_calls", True))


class _Decoded(Mapping[str, Any]):
    """A mapping kept as JSON text, decoded (and converted) when first used."""

    def __init__(self, text: str, convert: Callable[[dict], dict]) -> None:
        self._text: str | None = text
        self._convert = convert
        self._data: dict = {}

    def _get(self) -> dict:
        if self._text is not None:
            self._data, self._text = self._convert(json.loads(self._text)), None
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._get()

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())
