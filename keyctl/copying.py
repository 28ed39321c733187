"""Copying a whole store into an empty one, any backend to any backend
(:meth:`KeyStore.copy_to`, ``keyctl copy``): how a team moves its laptop store to a
PostgreSQL server, and how a server's store is backed up to a file.

Everything goes: each key with its secret's hash (so every secret keeps working), the
audit trail with its original times and actors, and the catalog. The source is read
as of one moment (a read transaction); the destination is written in ONE transaction
under its write lock, which also records a ``copy`` entry in its audit trail.
"""

from __future__ import annotations

import os
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .errors import CatalogMismatchError, KeyctlError, NotFoundError, UsageError
from .models import Result
from .text import printable
from . import when as clock
from .when import iso

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .store import Store, Writer

BATCH = 500
CATALOG_META = ("catalog", "catalog_text", "catalog_rev")


class Copied(Result):
    """What a copy did: where from, where to, how many keys and audit entries (the
    destination's own ``copy`` entry not counted), the catalog, and whether the copy
    created the destination (not in the JSON: `keyctl copy` says it in a note)."""

    __slots__ = ("source", "destination", "keys", "audit_entries", "catalog", "created")
    _defaults = {"created": False}

    source: str
    destination: str
    keys: int
    audit_entries: int
    catalog: str
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self._asdict().items() if k != "created"}


def _batches(rows: Iterable[Any]) -> Iterator[list[Any]]:
    it = iter(rows)
    while batch := list(islice(it, BATCH)):
        yield batch


def _identity(store: "Store") -> str:
    path = getattr(store, "path", None)
    return os.path.realpath(path) if path is not None else store.location


class CopyOps:
    """The copy half of KeyStore (a mixin: keyctl/api.py holds the rest)."""

    store: "Store"
    _warn: Callable[[str], None]

    # Provided by KeyStore:
    catalog: "Catalog"

    def copy_to(self, destination: "str | os.PathLike[str]") -> Copied:
        """Copy this store into the store at ``destination`` (a SQLite path or a
        ``postgresql://`` URL), which is created when missing and must be empty: no
        keys and no audit entries (else KeyctlError, exit 1), and no other catalog
        than this store's (else CatalogMismatchError). All of it or nothing."""
        from .store import open_store

        if not isinstance(destination, (str, os.PathLike)):
            raise TypeError(f"destination must be a str or a path, not {type(destination).__name__}")
        self.catalog  # noqa: B018 (a --catalog that differs from the store's own is refused here)
        dest = open_store(destination, on_warning=self._warn)
        try:
            if _identity(dest) == _identity(self.store):
                raise UsageError(f"SOURCE and DEST are the same store ({self.store.location})")
            return self._copy_into(dest)
        finally:
            dest.close()

    def _copy_into(self, dest: "Store") -> Copied:
        with self.store.snapshot() as source:
            meta = {k: v for k in CATALOG_META if (v := source.meta(k)) is not None}
            if "catalog_rev" not in meta:
                raise NotFoundError(f"there is no store at {self.store.location} to copy")
            # A destination created by this transaction gets the source's catalog (an
            # empty store left by a failed copy is accepted by the next one).
            dest.initial_meta = meta
            with dest.transaction(create=True) as tx:
                self._refuse_unless_empty(tx, dest.location, meta)
                keys = audit = 0
                for batch in _batches(source.iter_hashed()):
                    tx.insert_keys(batch)
                    keys += len(batch)
                for entries in _batches(source.iter_audit()):
                    tx.insert_audit(entries)
                    audit += len(entries)
                tx.audit_many([(iso(clock.utcnow()), "copy", None, None,
                                {"from": self.store.location, "keys": keys, "audit_entries": audit})])
        return Copied(self.store.location, dest.location, keys, audit, meta.get("catalog", ""),
                      bool(getattr(dest, "created", False)))

    @staticmethod
    def _refuse_unless_empty(tx: "Writer", where: str, meta: dict[str, str]) -> None:
        if next(tx.iter_keys(), None) is not None or next(tx.audit(limit=1), None) is not None:
            raise KeyctlError(f"the store {where} is not empty; keyctl copy writes only into an empty "
                              "store: name a new file, or an empty database or schema")
        theirs, ours = tx.meta("catalog") or "", meta.get("catalog", "")
        if tx.meta("catalog_rev") != meta["catalog_rev"]:
            same_name = "its own version of " if theirs == ours else ""
            raise CatalogMismatchError(
                f"the store {where} keeps {same_name}the catalog '{printable(theirs)}', not this store's "
                f"'{printable(ours)}'; copy into a new store, or replace its catalog first with "
                "`keyctl --db DEST catalog upgrade`")
