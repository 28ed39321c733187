"""Replacing a store's catalog (``KeyStore.catalog_upgrade``): every key is checked
against the new catalog and, when the change is applied, read and changed under the
write lock, so that a scope granted meanwhile by another process is judged too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from . import when as clock
from .catalog import Catalog, load_catalog
from .errors import KeyctlError, NotFoundError
from .keys import require_bool
from .models import CatalogUpgrade, Key
from .store.migrations import catalog_rev
from .text import printable
from .when import iso

if TYPE_CHECKING:  # pragma: no cover
    from .api import KeyStore
    from .store import KeyRow


def upgrade(ks: "KeyStore", ref: "Catalog | str", yes: bool) -> CatalogUpgrade:
    """What :meth:`KeyStore.catalog_upgrade` does (its docstring says what)."""
    require_bool("yes", yes)
    new = load_catalog(ref)
    old = ks.stored_catalog()
    if old is None:
        raise NotFoundError(f"there is no store at {printable(ks.store.location, 200)} yet; choose the catalog "
                            f"of a new store with --catalog {printable(str(ref))}")
    report = _report(old.name, new, ks.store.iter_keys(), ks._key)
    if not yes:
        return report
    with ks.store.transaction(create=False) as tx:
        old = ks._catalog_of(tx)
        report = _report(old.name, new, tx.iter_keys(), ks._key)
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
        rev = catalog_rev(new.text)
        for key, value in (("catalog", new.name), ("catalog_text", new.text), ("catalog_rev", rev)):
            tx.set_meta(key, value)
    ks._catalog_arg = None
    ks._use(new, rev)
    return report._replace(applied=True)


def _report(old: str, new: Catalog, rows: Iterable["KeyRow"], key_of: Callable[..., Key]) -> CatalogUpgrade:
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
