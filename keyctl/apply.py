"""``KeyStore.apply``: carrying out a plan on a store's writer, inside one transaction.
The plan must hold under the write lock (it is made again, from indexed look-ups of
the manifest's names, when anything was committed to the store since), every change is
written with its audit entry, a batch at a time, and the new keys are built (their
secrets seen only here, and delivered before the transaction commits).

keyctl/plan.py decides what to change (pure); this module writes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator

from . import when as clock
from .delivery import Delivery
from .errors import StoreError
from .when import iso

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .manifest import Manifest
    from .models import ApplyResult, Created, Exported
    from .plan import Plan, Survey
    from .store.base import KeyRow, Writer

AuditEntry = tuple[str, str, "str | None", "str | None", dict]


def survey(reads: Any, manifest: "Manifest", prune: bool) -> "Survey":
    """What the plan of ``manifest`` needs of the store (``reads``: the store, or a
    transaction's writer): the keys it names, names that differ from one of its new
    names only by case, and the named keys it lacks (every one with ``prune``, else
    how many). Indexed look-ups of the manifest's names; only ``prune`` reads the
    other named keys, which it deletes."""
    from .plan import Survey

    names = [spec.name for spec in manifest.keys]
    rows = reads.rows_named(names)
    missing = sorted({name.lower() for name in names if name not in rows})
    twins = reads.names_folded(missing) if missing else {}
    if not prune:
        return Survey(rows, twins, (), reads.count_named() - len(rows))
    wanted = set(names)
    absent = tuple(row for row in reads.iter_named() if row.name not in wanted)
    return Survey(rows, twins, absent, len(absent))


def replan(tx: "Writer", planned: "Plan", given: "Plan | None", catalog: "Catalog", now: datetime,
           location: str, version: Any) -> "Plan":
    """The plan as it holds under the lock: the same when nothing was committed to the
    store since it was made (``version``, the store's now, is the one it was made on),
    else made again from the store as it is. A Plan the caller made earlier
    (``given``) must still match: another process may have written since."""
    from .plan import check_expiries, make_plan

    assert planned.manifest is not None
    if planned.seen is not None and planned.seen == version:
        check_expiries(planned.source, planned.actions, now)  # the clock moved on meanwhile
        return planned
    fresh = make_plan(planned.manifest, survey(tx, planned.manifest, planned.prune), catalog, now, planned.prune)
    if given is not None and fresh.actions != given.actions:
        raise StoreError(
            f"the store {location} changed after the plan was made (another keyctl wrote "
            "to it); nothing was applied: run `keyctl apply` again to see the new plan"
        )
    return fresh


BATCH = 1000  # keys written (with their audit entries) at a time: memory stays flat


def carry_out(tx: "Writer", planned: "Plan", catalog: "Catalog", now: datetime, source: str,
              in_keyring: bool, key_of: Callable[["KeyRow", str], Any],
              dropped: "list[KeyRow] | None" = None) -> "list[Created]":
    """Write ``planned`` (deletes, updates, creates) and its audit trail, a batch at a
    time; returns the keys created, with their secrets. ``key_of(row, now_iso)`` makes
    a result Key. ``dropped`` receives the deleted keys whose secret the OS keyring keeps
    (to remove once the change is committed, as ``delete`` does)."""
    from .plan import CREATE, DELETE, UPDATE

    stamp = iso(now)
    tag = {"manifest": source}
    for batch in _batches(planned.of(DELETE)):
        if dropped is not None:
            dropped += [row for row in tx.rows_named([a.name for a in batch]).values() if row.in_keyring]
        tx.delete_keys([a.key_id for a in batch if a.key_id])
        tx.audit_many([(stamp, "delete", a.key_id, a.name, {"name": a.name, "scopes": catalog.sorted_ids(a.scopes)} | tag)
                       for a in batch])
    for batch in _batches(planned.of(UPDATE)):
        audit: list[AuditEntry] = []
        current = tx.rows_named([a.name for a in batch])
        tx.update_keys([(a.key_id, _update(a, current[a.name], catalog, now, stamp, tag, audit)) for a in batch])
        tx.audit_many(audit)
    created: list[Created] = []
    for batch in _batches(planned.of(CREATE)):
        created += _create(tx, batch, catalog, now, stamp, tag, in_keyring, key_of)
    return created


def _batches(actions: tuple) -> Iterator[tuple]:
    for start in range(0, len(actions), BATCH):
        yield actions[start:start + BATCH]


def _create(tx: "Writer", batch: tuple, catalog: "Catalog", now: datetime, stamp: str, tag: dict, in_keyring: bool,
            key_of: Callable[["KeyRow", str], Any]) -> "list[Created]":
    """New keys, their secrets made here, and their audit entries."""
    from . import tokens
    from .models import Created
    from .plan import expiry_at
    from .store.base import KeyRow

    created: list[Created] = []
    inserts: list[tuple[KeyRow, str]] = []
    audit: list[AuditEntry] = []
    for a in batch:
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


def _update(a: Any, row: "KeyRow", catalog: "Catalog", now: datetime, stamp: str, tag: dict,
            audit: list[AuditEntry]) -> dict[str, Any]:
    """One key's changes, and their audit entries (scopes, fields, enabled)."""
    from .plan import expiry_at

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


class ApplyOps(Delivery):
    """The manifests part of KeyStore: read, plan, apply, export."""

    # Provided by KeyStore:
    def _key(self, row: "KeyRow", now: str | None = None) -> Any: ...  # pragma: no cover
    def _catalog_of(self, tx: "Writer") -> "Catalog": ...  # pragma: no cover
    def _refresh_catalog(self) -> "Catalog": ...  # pragma: no cover

    def read_manifest(self, text: str, source: str = "manifest") -> "Manifest":
        """Parse and validate manifest TOML text (ManifestError, exit 2, when it is bad).
        ``source`` (the file name) is named in every message and in the audit trail."""
        from .manifest import parse_manifest

        if not isinstance(text, str):
            raise TypeError(f"manifest text must be a str, not {type(text).__name__}")
        if not isinstance(source, str):
            raise TypeError(f"source must be a str (the manifest's file name), not {type(source).__name__}")
        return parse_manifest(text, source, self._refresh_catalog(), clock.utcnow())

    def plan(self, manifest: "Manifest", prune: bool = False) -> "Plan":
        """What applying ``manifest`` would change (keyctl/plan.py has the rules).
        Reads only: a store that does not exist yet is planned as empty."""
        from .keys import require_bool
        from .manifest import Manifest
        from .plan import make_plan

        if not isinstance(manifest, Manifest):
            raise TypeError(f"plan takes a Manifest (see read_manifest), not {type(manifest).__name__}")
        require_bool("prune", prune)
        catalog = self._refresh_catalog()
        before = self.store.version()
        found = survey(self.store, manifest, prune)
        # Read while nothing was committed, the plan holds while the store's version does.
        seen = before if before is not None and self.store.version() == before else None
        return make_plan(manifest, found, catalog, clock.utcnow(), prune)._replace(seen=seen)

    def export(self) -> "Exported":
        """The store as a manifest: every named key, sorted by name, without secrets or
        ids. A relative expiry that a manifest gave is exported as given ("90d"); any
        other expiry as the absolute time, so that applying the export changes nothing.
        (:meth:`export_keys` streams the same keys, for a store of any size.)"""
        from .manifest import dump_manifest
        from .models import Exported

        data = dict(self.export_keys())
        return Exported("".join(dump_manifest(data.items())), data, tuple(self.unnamed_keys()))

    def export_keys(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """What :meth:`export` holds, streamed in name order: ``(name, {"scopes",
        "description", "expires", "enabled"})`` for every named key, read a batch at a
        time (memory stays flat whatever the store's size)."""
        catalog = self._refresh_catalog()
        for row in self.store.iter_named():
            yield row.name, {"scopes": catalog.sorted_ids(row.scopes), "description": row.description or None,
                             "expires": row.expires_spec or row.expires_at, "enabled": not row.disabled}

    def unnamed_keys(self) -> Iterator[str]:
        """The ids of the keys :meth:`export` leaves out (a manifest knows keys only by
        name), oldest first, streamed."""
        return self.store.iter_unnamed()

    def apply(self, plan_or_manifest: "Plan | Manifest", source: str | None = None, prune: bool = False,
              keyring: bool = False, deliver: "Callable[[ApplyResult], None] | None" = None) -> "ApplyResult":
        """Carry out a plan (or plan a manifest and carry that out) in ONE transaction:
        all of it or none of it. Each change is audited with ``{"manifest": source}``.

        The plan must hold inside the transaction: when anything was committed to the
        store since it was made, it is made again, and a Plan that no longer matches
        the store (another process wrote in between) raises StoreError and changes
        nothing. New secrets go to the keyring (``keyring``) and to ``deliver`` before
        the transaction commits; if either fails, nothing is applied."""
        from .keys import require_bool
        from .models import ApplyResult
        from .plan import CREATE, Plan

        require_bool("prune", prune)
        require_bool("keyring", keyring)
        if source is not None and not isinstance(source, str):
            raise TypeError(f"source must be a str (the manifest's file name) or None, not {type(source).__name__}")
        given = plan_or_manifest if isinstance(plan_or_manifest, Plan) else None
        planned = given if given is not None else self.plan(plan_or_manifest, prune)  # type: ignore[arg-type]
        source = source or planned.source
        backend = self._backend(keyring and bool(planned.of(CREATE)))
        if not planned.has_changes:
            result = ApplyResult(planned, (), backend)
            if deliver is not None:
                deliver(result)
            return result
        void = "nothing was applied, and the secrets printed do not work"
        dropped: "list[KeyRow]" = []  # keys deleted whose secret the keyring keeps
        with self._keyring_entries() as kept, self._writing(True, void) as tx:
            now = clock.utcnow()
            catalog = self._catalog_of(tx)
            planned = replan(tx, planned, given, catalog, now, self.store.location, self.store.version())
            if keyring and backend is None and planned.of(CREATE):
                backend = self._backend(True)
            created = carry_out(tx, planned, catalog, now, source, backend is not None, self._key, dropped)
            result = ApplyResult(planned, tuple(c._replace(stored_in=backend) for c in created), backend)
            for c in result.created:
                self._deliver(c, kept, None, "nothing was applied")
            if deliver is not None:
                deliver(result)
            tx.delivered = True
        for row in dropped:  # deleted: their secrets leave the keyring too
            self._drop_entry(row, "", quiet=True)
        return result
