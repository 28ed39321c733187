"""Replacing a store's catalog (``KeyStore.catalog_upgrade``): every key is checked
against the new catalog and, when the change is applied, read and changed under the
write lock, so that a scope granted meanwhile by another process is judged too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from . import when as clock
from .errors import KeyctlError, NotFoundError
from .models import CatalogUpgrade, Key
from .store import KeyRow
from .text import printable
from .when import iso

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .store import Store, Writer


class UpgradeOps:
    """The catalog-upgrade part of KeyStore."""

    store: "Store"
    _catalog_arg: Any

    # Provided by KeyStore:
    def _key(self, row: KeyRow, now: str | None = None) -> Key: ...  # pragma: no cover
    def _catalog_of(self, tx: "Writer") -> Catalog: ...  # pragma: no cover
    def _use(self, catalog: Catalog, rev: str | None) -> Any: ...  # pragma: no cover
    def stored_catalog(self) -> Catalog | None: ...  # pragma: no cover

    def catalog_upgrade(self, ref: "Catalog | str", yes: bool = False) -> CatalogUpgrade:
        """Replace the store's catalog with ``ref`` (a built-in name or a file), after
        checking every key against it. Without ``yes`` it only reports. With ``yes`` it
        refuses while keys hold scopes the new catalog does not know, and otherwise adds
        the prerequisites the new catalog requires (audited) and keeps the new text.
        Applied, every key is read and changed under the write lock."""
        from .catalog import load_catalog
        from .catalog.compiled import catalog_meta
        from .keys import require_bool

        require_bool("yes", yes)
        new = load_catalog(ref)
        old = self.stored_catalog()
        if old is None:
            raise NotFoundError(f"there is no store at {printable(self.store.location, 200)} yet; choose the catalog "
                                f"of a new store with --catalog {printable(str(ref))}")
        report = _upgrade_report(old.name, new, self.store.iter_keys(), self._key)
        if not yes:
            return report
        with self.store.transaction(create=False) as tx:
            old = self._catalog_of(tx)
            report = _upgrade_report(old.name, new, tx.iter_keys(), self._key)
            if report.unknown:
                names = ", ".join(f"{k.ref} ({', '.join(s)})" for k, s in report.unknown[:10])
                more = f" and {len(report.unknown) - 10} more" if len(report.unknown) > 10 else ""
                raise KeyctlError(
                    f"{len(report.unknown)} key(s) hold scopes that the catalog '{printable(new.name)}' does not know: "
                    f"{names}{more}; remove those scopes (`keyctl scope remove KEY SCOPE`) and run the upgrade again"
                )
            now = iso(clock.utcnow())
            tx.update_keys([(k.id, {"scopes": new.closure(k.granted)[0], "updated_at": now})
                            for k, _ in report.additions])
            tx.audit_many([(now, "scope.add", k.id, k.name, {
                "before": sorted(k.granted), "after": sorted(new.closure(k.granted)[0]),
                "added_prerequisites": [c.scope for c in added], "removed_dependents": [],
                "reason": f"catalog upgrade to '{new.name}'"}) for k, added in report.additions]
                + [(now, "catalog.upgrade", None, None, {"from": old.name, "to": new.name,
                                                        "keys_changed": len(report.additions)})])
            meta = catalog_meta(new)
            for key, value in meta.items():
                tx.set_meta(key, value)
            rev = meta["catalog_rev"]
        self._catalog_arg = None
        self._use(new, rev)
        return report._replace(applied=True)


def _upgrade_report(old: str, new: Catalog, rows: Iterable[KeyRow], key_of: Callable[..., Key]) -> CatalogUpgrade:
    unknown: list[tuple[Key, tuple[str, ...]]] = []
    additions: list[tuple[Key, tuple]] = []
    now = iso(clock.utcnow())
    for row in rows:
        if "all" in row.scopes:
            continue
        strangers = tuple(sorted(s for s in row.scopes if s not in new.scopes))
        if strangers:
            unknown.append((key_of(row, now), strangers))
            continue
        _, added = new.closure(row.scopes)
        if added:
            additions.append((key_of(row, now), added))
    return CatalogUpgrade(old, new.name, tuple(unknown), tuple(additions), False)


