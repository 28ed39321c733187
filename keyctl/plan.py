"""PURE: the plan of ``keyctl apply``: what a manifest changes in a store.

Each manifest key is compared with the store's key of the same name (names are
case-sensitive, as everywhere in keyctl):

* create: the store has no key of that name;
* update: its scopes (after prerequisites), description, expiry or enabled differ;
* unchanged: nothing differs;
* delete (only with ``prune``): a named key that the manifest lacks. Keys without a
  name are never pruned: a manifest cannot name them, so it cannot mean them.

Expiry. A relative ``expires`` ("90d") counts from when the key is created, or from
when the manifest's value for it changes. The store remembers the spec it was given
(``keys.expires_spec``): a key whose spec equals the manifest's is unchanged, whatever
the clock says, so applying the same file next month does not push the expiry forward.
An absolute time compares with ``expires_at`` (and a key with a spec is updated to it);
no ``expires`` means never. ``keyctl update --expires`` clears the spec: from then on
the manifest's relative value is a change again.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple

from .catalog import Catalog, Change
from .errors import ManifestError, StoreError
from .manifest import Manifest, KeySpec, key_path, shown
from .when import iso

if TYPE_CHECKING:  # pragma: no cover
    from .store import KeyRow

CREATE, UPDATE, DELETE, UNCHANGED = "create", "update", "delete", "unchanged"


class Action(NamedTuple):
    """What apply does to one key. ``scopes`` is the grant after the action (closed
    under prerequisites); for a delete, the key's current grant."""

    kind: str  # create | update | delete | unchanged
    name: str
    key_id: str | None  # None for a key still to be created
    scopes: frozenset[str]
    added_scopes: tuple[str, ...] = ()  # update: scopes the key gains
    removed_scopes: tuple[str, ...] = ()  # update: scopes the key loses
    changes: tuple[tuple[str, Any, Any], ...] = ()  # update: (field, old, new); fields: description, expires, enabled
    added_prerequisites: tuple[Change, ...] = ()  # prerequisites the manifest left out
    spec: KeySpec | None = None  # the manifest's entry (None for a delete)

    def changes_dict(self) -> dict[str, Any]:
        """The JSON form of an update: ``{"scopes": {"added", "removed"}, "description":
        [old, new], "expires": [old, new], "enabled": [old, new]}`` (changed fields only)."""
        out: dict[str, Any] = {}
        if self.added_scopes or self.removed_scopes:
            out["scopes"] = {"added": list(self.added_scopes), "removed": list(self.removed_scopes)}
        for name, old, new in self.changes:
            out[name] = [old, new]
        return out


class Plan(NamedTuple):
    source: str
    actions: tuple[Action, ...]  # creates and updates in manifest order, then deletes
    prune: bool
    not_in_manifest: int  # named keys the manifest lacks, left alone without prune
    warnings: tuple[str, ...] = ()
    manifest: Manifest | None = None  # to plan again
    seen: Any = None  # the store's version it was planned on (Store.version), if it has one

    def of(self, kind: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind == kind)

    def counts(self) -> dict[str, int]:
        out = {CREATE: 0, UPDATE: 0, DELETE: 0, UNCHANGED: 0}
        for a in self.actions:
            out[a.kind] += 1
        return out

    @property
    def has_changes(self) -> bool:
        return any(a.kind != UNCHANGED for a in self.actions)


class Survey(NamedTuple):
    """What a plan needs to know of the store: read with indexed look-ups of the
    manifest's names (keyctl/apply.py), never by loading every key."""

    rows: Mapping[str, "KeyRow"]  # the keys named in the manifest, by name
    twins: Mapping[str, str]  # for names the store lacks: folded name -> a stored name differing only by case
    absent: tuple["KeyRow", ...] = ()  # with prune: the named keys the manifest lacks, by name
    not_in_manifest: int = 0  # how many named keys the manifest lacks


def make_plan(manifest: Manifest, survey: Survey, catalog: Catalog, now: datetime, prune: bool = False) -> Plan:
    """Compare ``manifest`` with what the store holds (``survey``). Raises ManifestError
    for an absolute expiry in the past that the plan would have to write."""
    if manifest.catalog is not None and manifest.catalog is not catalog and manifest.catalog.text != catalog.text:
        raise StoreError(f"the store's catalog changed after {shown(manifest.source)} was read (`keyctl catalog "
                         "upgrade` in another process); nothing was applied: run `keyctl apply` again")
    named = survey.rows
    actions: list[Action] = []
    warnings = list(manifest.warnings)
    closures: dict[frozenset[str], tuple] = {}  # a manifest of many keys has few sets of scopes
    marked: dict[frozenset[str], tuple] = {}
    for spec in manifest.keys:
        closed = closures.get(spec.scopes)
        if closed is None:
            closed = closures[spec.scopes] = catalog.closure(spec.scopes)
        scopes, added = closed
        row = named.get(spec.name)
        if row is None:
            twin = survey.twins.get(spec.name.lower())
            if twin is not None:
                warnings.append(f"{shown(manifest.source)}: {key_path(spec.name)}: the store has a key named '{twin}' "
                                f"(differs only by case); a new key '{spec.name}' will be created")
            actions.append(Action(CREATE, spec.name, None, scopes, added_prerequisites=added, spec=spec))
            warnings += _notices(manifest.source, spec.name, catalog, scopes, scopes, marked)
            continue
        gained = tuple(catalog.sorted_ids(scopes - row.scopes)) if scopes != row.scopes else ()
        lost = tuple(catalog.sorted_ids(row.scopes - scopes)) if scopes != row.scopes else ()
        changes: list[tuple[str, Any, Any]] = []
        if (row.description or None) != spec.description:
            changes.append(("description", row.description, spec.description))
        stored_expiry = row.expires_spec or row.expires_at
        if stored_expiry != spec.expires:
            changes.append(("expires", stored_expiry, spec.expires))
        if row.disabled == spec.enabled:
            changes.append(("enabled", not row.disabled, spec.enabled))
        kind = UPDATE if (gained or lost or changes) else UNCHANGED
        # Warn about prerequisites only where scopes are written: a key that already
        # holds them would repeat the same warning on every apply.
        prereqs = added if (gained or lost) else ()
        actions.append(Action(kind, spec.name, row.id, scopes, gained, lost, tuple(changes), prereqs, spec))
        had = catalog.expand(row.scopes)  # a key that held `all` gains nothing new
        warnings += _notices(manifest.source, spec.name, catalog, frozenset(gained) - had, scopes, marked, had)
    check_expiries(manifest.source, actions, now)
    if prune:
        actions += [Action(DELETE, row.name or row.id, row.id, row.scopes) for row in survey.absent]
    return Plan(manifest.source, tuple(actions), prune, 0 if prune else survey.not_in_manifest, tuple(warnings),
                manifest)


def check_expiries(source: str, actions: Iterable[Action], now: datetime) -> None:
    """ManifestError for every absolute expiry in the past that ``actions`` would write
    (a key created with it, or one whose expiry changes to it)."""
    now_iso = iso(now)
    problems = [_past(source, a.spec) for a in actions
                if a.spec is not None and a.spec.expires_at is not None and a.spec.expires_at <= now_iso
                and (a.kind == CREATE or any(name == "expires" for name, _, _ in a.changes))]
    if problems:
        raise ManifestError(problems[0] + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""),
                            tuple(problems))


def _notices(source: str, name: str, catalog: Catalog, granted: Iterable[str], held: frozenset[str],
             memo: dict, before: frozenset[str] = frozenset()) -> list[str]:
    """Warnings for the scopes a key gains (deprecated, hidden, or opening no endpoint
    to a key holding ``held``) and those it keeps that open none any more, as create
    and the scope commands warn (``memo``: the catalog's notices by sets of scopes,
    for one plan)."""
    granted = frozenset(granted)
    found = memo.get((granted, held, before))
    if found is None:
        found = catalog.notices(granted, held) + (catalog.closed_by(before, held) if before != held else ())
        memo[(granted, held, before)] = found
    return [f"{source}: {key_path(name)}: {n.message}" for n in found]


def _past(source: str, spec: KeySpec) -> str:
    return (f"{shown(source)}: {key_path(spec.name)}.expires: '{spec.expires_at}' is not in the future; "
            "give a later time, a relative one such as \"90d\", or leave expires out (never)")


def expiry_at(spec: KeySpec, now: datetime) -> str | None:
    """The ``expires_at`` a key gets when the manifest's expiry is written now."""
    if spec.expires_spec is not None:
        from .when import parse_when

        return iso(parse_when(spec.expires_spec, now))
    return spec.expires_at


__all__ = ["Action", "Plan", "Survey", "check_expiries", "make_plan", "expiry_at", "CREATE", "UPDATE", "DELETE", "UNCHANGED"]
