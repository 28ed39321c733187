"""Carrying out an ``apply`` plan on a store's writer, inside one transaction: the
plan is made again from the rows read under the write lock, every change is written
with its audit entry, and the new keys are built (their secrets seen only here).

keyctl/plan.py decides what to change (pure); this module writes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from . import tokens
from .errors import StoreError
from .models import Created
from .plan import CREATE, DELETE, UPDATE, Plan, expiry_at, make_plan
from .store.base import KeyRow
from .when import iso

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .store.base import Writer

AuditEntry = tuple[str, str, "str | None", "str | None", dict]


def replan(tx: "Writer", planned: Plan, given: Plan | None, catalog: "Catalog", now: datetime,
           location: str) -> Plan:
    """The plan made again from the store as it is under the lock. A Plan the caller
    made earlier (``given``) must still match: another process may have written since."""
    assert planned.manifest is not None
    fresh = make_plan(planned.manifest, tx.iter_keys(), catalog, now, planned.prune)
    if given is not None and fresh.actions != given.actions:
        raise StoreError(
            f"the store {location} changed after the plan was made (another keyctl wrote "
            "to it); nothing was applied: run `keyctl apply` again to see the new plan"
        )
    return fresh


def carry_out(tx: "Writer", planned: Plan, catalog: "Catalog", now: datetime, source: str,
              in_keyring: bool, key_of: Callable[[KeyRow, str], Any]) -> list[Created]:
    """Write ``planned`` (deletes, updates, creates) and its audit trail; returns the
    keys created, with their secrets. ``key_of(row, now_iso)`` makes a result Key."""
    stamp = iso(now)
    tag = {"manifest": source}
    audit: list[AuditEntry] = []

    deletes = planned.of(DELETE)
    tx.delete_keys([a.key_id for a in deletes if a.key_id])
    for a in deletes:
        audit.append((stamp, "delete", a.key_id, a.name,
                      {"name": a.name, "scopes": catalog.sorted_ids(a.scopes)} | tag))

    current = tx.rows_named([a.name for a in planned.of(UPDATE)])
    updates = [(a.key_id, _update(a, current[a.name], catalog, now, stamp, tag, audit))
               for a in planned.of(UPDATE)]
    tx.update_keys(updates)

    created: list[Created] = []
    inserts: list[tuple[KeyRow, str]] = []
    for a in planned.of(CREATE):
        spec = a.spec
        assert spec is not None
        secret = tokens.new_secret()
        row = KeyRow(tokens.new_id(), a.name, spec.description, a.scopes, tokens.hint(secret),
                     stamp, stamp, expiry_at(spec, now), not spec.enabled, in_keyring, spec.expires_spec)
        inserts.append((row, tokens.hash_secret(secret)))
        created.append(Created(key_of(row, stamp), secret, a.added_prerequisites))
        audit.append((stamp, "create", row.id, row.name, {
            "name": a.name, "description": spec.description,
            "scopes": catalog.sorted_ids(a.scopes), "expires_at": row.expires_at,
            "added_prerequisites": [c.scope for c in a.added_prerequisites],
            "enabled": spec.enabled} | tag))
    tx.insert_keys(inserts)
    tx.audit_many(audit)
    return created


def _update(a: Any, row: KeyRow, catalog: "Catalog", now: datetime, stamp: str, tag: dict,
            audit: list[AuditEntry]) -> dict[str, Any]:
    """One key's changes, and their audit entries (scopes, fields, enabled)."""
    spec = a.spec
    changes: dict[str, Any] = {"updated_at": stamp}
    if a.added_scopes or a.removed_scopes:
        changes["scopes"] = a.scopes
        audit.append((stamp, "scope.set", a.key_id, a.name, {
            "before": catalog.sorted_ids(row.scopes), "after": catalog.sorted_ids(a.scopes),
            "added_prerequisites": [c.scope for c in a.added_prerequisites],
            "removed_dependents": []} | tag))
    details: dict[str, Any] = {}
    for name, old, new in a.changes:
        if name == "description":
            changes["description"] = new
            details["description"] = [old, new]
        elif name == "expires":
            changes["expires_at"] = expiry_at(spec, now)
            changes["expires_spec"] = spec.expires_spec
            details["expires_at"] = [row.expires_at, changes["expires_at"]]
            details["expires"] = [old, new]
        elif name == "enabled":
            changes["disabled"] = not new
            audit.append((stamp, "enable" if new else "disable", a.key_id, a.name, dict(tag)))
    if details:
        audit.append((stamp, "update", a.key_id, a.name, details | tag))
    return changes
