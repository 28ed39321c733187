"""KeyStore: the library facade. Ties the store, the catalog and the decisions together;
the CLI is a thin layer over it, and a Python service can use it directly::

    from keyctl import KeyStore
    store = KeyStore("keys.db")
    created = store.create(scopes=["inputs.patch"], name="ci")
    store.check(created.secret, "inputs.get").outcome   # Outcome.REDACTED

Every method raises a :class:`keyctl.errors.KeyctlError` subclass on purpose-made
failures and returns frozen dataclasses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from . import tokens
from .catalog import ALL, BUILTIN_CATALOGS, DEFAULT_CATALOG, Catalog, Change, Notice, builtin, builtin_text, load_catalog
from .catalog.compiled import catalog_meta, stored_catalog_of
from .text import printable
from .decide import KeyState, Outcome, Verdict, decide, outcomes_for, worst
from .errors import CatalogMismatchError, InvalidNameError, KeyctlError, NoScopesLeftError, NotFoundError, UsageError
from .store import KeyRow, Store, default_path
from .when import iso, parse_when, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from .manifest import Manifest
    from .plan import Plan

_UNSET: Any = object()


@dataclass(frozen=True)
class Key:
    """A key as people and scripts see it. ``to_dict`` is the JSON contract."""

    id: str
    name: str | None
    description: str | None
    scopes: tuple[str, ...]  # sorted scope ids, or ("all",)
    status: str  # active | disabled | expired
    created_at: str
    updated_at: str
    expires_at: str | None
    hint: str
    in_keyring: bool
    granted: frozenset[str] = field(repr=False, compare=False)  # for decisions

    @property
    def ref(self) -> str:
        """How to name the key on the command line: its name, else its id."""
        return self.name or self.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "description": self.description,
            "scopes": list(self.scopes), "status": self.status, "created_at": self.created_at,
            "expires_at": self.expires_at, "hint": self.hint, "in_keyring": self.in_keyring,
        }


@dataclass(frozen=True)
class Created:
    """A key just created or rotated, with its secret: the only time it is seen."""

    key: Key
    secret: str = field(repr=False)
    added_prerequisites: tuple[Change, ...] = ()
    notices: tuple[Notice, ...] = ()  # deprecated or hidden scopes granted


@dataclass(frozen=True)
class ScopeChange:
    key: Key
    added_prerequisites: tuple[Change, ...]
    removed_dependents: tuple[Change, ...]
    notices: tuple[Notice, ...] = ()  # deprecated or hidden scopes granted


@dataclass(frozen=True)
class KeyDetail:
    key: Key
    operations: dict[str, str]  # operation -> outcome


@dataclass(frozen=True)
class CheckReport:
    key: Key | None  # None when the secret matched no key, or was malformed
    outcome: Outcome
    results: tuple[Verdict, ...]


@dataclass(frozen=True)
class LogEntry:
    at: str
    actor: str
    action: str
    key_id: str | None
    details: dict

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "actor": self.actor, "action": self.action,
                "key_id": self.key_id, "details": self.details}


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply`` did: the plan it carried out and the keys it created, with
    their secrets (the only time they are seen). ``keyring`` names the keyring backend
    the secrets were stored in, or is None when they were not."""

    plan: "Plan"
    created: tuple[Created, ...] = ()
    keyring: str | None = None


@dataclass(frozen=True)
class Exported:
    """``export``: the manifest ``text`` (TOML), the same ``keys`` as data (name ->
    every field, defaults included), and the ids of keys left out for having no name."""

    text: str
    keys: dict[str, dict[str, Any]]
    skipped: tuple[str, ...] = ()


def resolve_path(path: str | os.PathLike[str] | None) -> Path:
    """--db, else KEYCTL_DB, else $XDG_DATA_HOME/keyctl/keyctl.db."""
    if path:
        return Path(path)
    env = os.environ.get("KEYCTL_DB")
    return Path(env) if env else default_path()


class KeyStore:
    """API keys in a local SQLite store, judged by a scope catalog."""

    def __init__(self, path: str | os.PathLike[str] | None = None, catalog: Catalog | str | None = None) -> None:
        """``catalog``: a Catalog, a built-in name or a catalog file; default
        $KEYCTL_CATALOG, else the store's own catalog, else ``clarifai``."""
        self.path = resolve_path(path)
        self._catalog_arg = catalog if catalog is not None else (os.environ.get("KEYCTL_CATALOG") or None)
        self._catalog: Catalog | None = None
        self.store = Store(self.path)
        # check()'s verdicts, memoised per catalog (see _verdict).
        self._verdicts: dict[tuple, Verdict] = {}
        self._verdicts_of: Catalog | None = None

    # -- the catalog -------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        """The store's own catalog (kept inside the store at its first write), or for a
        store not created yet the one asked for. Asking an existing store for a
        different catalog is an error: `keyctl catalog upgrade` changes it."""
        if self._catalog is None:
            self._catalog = self._resolve_catalog()
        return self._catalog

    def _resolve_catalog(self) -> Catalog:
        if self._catalog_arg in BUILTIN_CATALOGS:  # the store's own built-in: not parsed again
            stored = self.stored_catalog()
            if stored is not None and stored.text == builtin_text(self._catalog_arg):
                return stored
        requested = load_catalog(self._catalog_arg) if self._catalog_arg is not None else None
        stored = self.stored_catalog()
        if stored is None:
            chosen = requested or builtin(DEFAULT_CATALOG)
            self.store.initial_meta = catalog_meta(chosen)
            return chosen
        if requested is not None and (requested.name != stored.name or requested.text != stored.text):
            if requested.name != stored.name:
                problem = f"keeps the catalog '{stored.name}', not '{requested.name}'"
            else:
                problem = f"keeps its own copy of the catalog '{stored.name}', which differs from {self._catalog_arg}"
            raise CatalogMismatchError(
                f"the store {self.path} {problem}; drop --catalog (and KEYCTL_CATALOG) to use the "
                f"store's own, or replace it with `keyctl catalog upgrade {self._catalog_arg}`"
            )
        return stored

    def stored_catalog(self) -> Catalog | None:
        """The catalog kept inside the store, or None when there is no store yet."""
        if self.store.reader() is None:
            return None
        text = self.store.meta("catalog_text")
        name = self.store.meta("catalog") or DEFAULT_CATALOG
        if text is None:
            return builtin(name)
        cached = _STORED_CACHE.get(text)
        if cached is None:
            cached = _STORED_CACHE[text] = stored_catalog_of(text, self.store.meta("catalog_compiled"), name)
        return cached

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "KeyStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------------------
    def _key(self, row: KeyRow, now: str | None = None) -> Key:
        now = now or iso(utcnow())
        return Key(
            row.id, row.name, row.description, tuple(Catalog.sorted_ids(row.scopes)),
            row.status(now), row.created_at, row.updated_at, row.expires_at, row.hint,
            row.in_keyring, row.scopes,
        )

    def _row(self, ref: str) -> KeyRow:
        kind = tokens.kind_of(ref)
        if kind == "secret":
            if not tokens.is_well_formed(ref):
                raise NotFoundError("that secret is malformed (its checksum does not match); check that it was copied whole")
            row = self.store.by_hash(tokens.hash_secret(ref))
            if row is None:
                raise NotFoundError("no key has that secret; it may have been rotated or deleted (see `keyctl list`)")
            return row
        row = self.store.by_id(ref) if kind == "id" else self.store.by_name(ref)
        if row is None:
            raise NotFoundError(f"no key with the {kind} '{printable(ref)}'; see `keyctl list`")
        return row

    def _scopes(self, names: Iterable[str]) -> frozenset[str]:
        granted = self.catalog.resolve_many(names)
        if not granted:
            raise UsageError("give at least one scope, e.g. --scope predict")
        return granted

    @staticmethod
    def _check_description(description: str | None) -> None:
        problem = tokens.description_problem(description) if description else None
        if problem:
            raise UsageError(problem)

    @staticmethod
    def _check_name(name: str) -> None:
        problem = tokens.name_problem(name)
        if problem:
            raise InvalidNameError(f"invalid name: {problem}")

    @staticmethod
    def _expiry(expires: str | datetime | None, now: datetime) -> str | None:
        if expires is None:
            return None
        if isinstance(expires, datetime):
            if expires.tzinfo is None:  # no zone means UTC, as for --expires on the command line
                expires = expires.replace(tzinfo=timezone.utc)
            if expires <= now:
                raise UsageError("the expiry time is not in the future")
            return iso(expires)
        return iso(parse_when(expires, now))

    # -- lifecycle -----------------------------------------------------------------------
    def create(
        self,
        scopes: Iterable[str],
        name: str | None = None,
        description: str | None = None,
        expires: str | datetime | None = None,
        in_keyring: bool = False,
    ) -> Created:
        """Create a key. Prerequisites of the scopes are added and reported."""
        requested = self._scopes(scopes)
        if name is not None:
            self._check_name(name)
        description = description or None  # "" means no description
        self._check_description(description)
        now = utcnow()
        expires_at = self._expiry(expires, now)
        granted, added = self.catalog.closure(requested)
        secret = tokens.new_secret()
        stamp = iso(now)
        row = KeyRow(tokens.new_id(), name, description, granted, tokens.hint(secret), stamp, stamp,
                     expires_at, False, in_keyring)
        with self.store.transaction() as tx:
            tx.insert_key(row, tokens.hash_secret(secret))
            tx.audit(stamp, "create", row.id, {
                "name": name, "description": description, "scopes": self.catalog.sorted_ids(granted),
                "expires_at": expires_at, "added_prerequisites": [c.scope for c in added],
            })
        return Created(self._key(row, stamp), secret, added, self.catalog.notices(granted))

    def get(self, ref: str) -> Key:
        """The key a secret, id or name refers to (NotFoundError when none)."""
        return self._key(self._row(ref))

    def list(self, status: str | None = None, scope: Iterable[str] | None = None) -> Iterator[Key]:
        """Keys, oldest first, streamed. ``scope`` keeps keys holding all it stands for."""
        wanted = self.catalog.expand(self.catalog.resolve_many(scope)) if scope else frozenset()
        now = iso(utcnow())
        for row in self.store.iter_keys():
            if wanted and not (ALL in row.scopes or wanted <= row.scopes):
                continue
            key = self._key(row, now)
            if status and key.status != status:
                continue
            yield key

    def show(self, ref: str) -> KeyDetail:
        key = self.get(ref)
        return KeyDetail(key, outcomes_for(self.catalog, key.granted, _STATE_OF_STATUS[key.status]))

    def _change_scopes(self, ref: str, action: str, scopes: Iterable[str]) -> ScopeChange:
        row = self._row(ref)
        names = self._scopes(scopes)
        added: tuple[Change, ...] = ()
        removed: tuple[Change, ...] = ()
        if action == "scope.add":
            new, added = self.catalog.closure(row.scopes | names)
        elif action == "scope.remove":
            new, removed = self.catalog.remove(row.scopes, names)
        else:
            new, added = self.catalog.closure(names)
        if not new:
            raise NoScopesLeftError(
                f"that would leave {row.name or row.id} with no scope; "
                f"disable it (`keyctl disable {row.name or row.id}`) or delete it instead"
            )
        notices = self.catalog.notices(new - row.scopes)
        if new == row.scopes:
            return ScopeChange(self._key(row), added, removed)
        stamp = iso(utcnow())
        with self.store.transaction() as tx:
            tx.update_key(row.id, scopes=new, updated_at=stamp)
            tx.audit(stamp, action, row.id, {
                "before": self.catalog.sorted_ids(row.scopes), "after": self.catalog.sorted_ids(new),
                "added_prerequisites": [c.scope for c in added],
                "removed_dependents": [c.scope for c in removed],
            })
        fresh = self.store.by_id(row.id)
        assert fresh is not None
        return ScopeChange(self._key(fresh), added, removed, notices)

    def scope_add(self, ref: str, scopes: Iterable[str]) -> ScopeChange:
        """Grant scopes (and their prerequisites)."""
        return self._change_scopes(ref, "scope.add", scopes)

    def scope_remove(self, ref: str, scopes: Iterable[str]) -> ScopeChange:
        """Take scopes away, and every scope that requires them."""
        return self._change_scopes(ref, "scope.remove", scopes)

    def scope_set(self, ref: str, scopes: Iterable[str]) -> ScopeChange:
        """Replace the key's scopes (prerequisites added)."""
        return self._change_scopes(ref, "scope.set", scopes)

    def update(self, ref: str, name: str | None = _UNSET, description: str | None = _UNSET,
               expires: str | datetime | None = _UNSET) -> Key:
        """Change name, description or expiry; ``expires="never"`` clears the expiry."""
        row = self._row(ref)
        changes: dict[str, Any] = {}
        if name is not _UNSET and name != row.name:
            if name is not None:
                self._check_name(name)
            changes["name"] = name
        if description == "":
            description = None  # an empty description clears it, as in a manifest
        if description is not _UNSET and description != row.description:
            self._check_description(description)
            changes["description"] = description
        if expires is not _UNSET:
            expires_at = self._expiry(expires, utcnow())
            if expires_at != row.expires_at:
                changes["expires_at"] = expires_at
            if row.expires_spec is not None:
                changes["expires_spec"] = None
        return self._apply_update(row, "update", changes)

    def _apply_update(self, row: KeyRow, action: str, changes: dict[str, Any]) -> Key:
        if not changes:
            return self._key(row)
        stamp = iso(utcnow())
        old = {"name": row.name, "description": row.description, "expires_at": row.expires_at,
               "disabled": row.disabled, "expires_spec": row.expires_spec, "in_keyring": row.in_keyring}
        details = {k: [old.get(k), v] for k, v in changes.items() if k in old and k not in ("disabled", "expires_spec", "in_keyring")}
        with self.store.transaction() as tx:
            tx.update_key(row.id, updated_at=stamp, **changes)
            tx.audit(stamp, action, row.id, details)
        fresh = self.store.by_id(row.id)
        assert fresh is not None
        return self._key(fresh)

    def disable(self, ref: str) -> Key:
        """Temporarily remove a key: every check rejects it until it is enabled."""
        row = self._row(ref)
        return self._key(row) if row.disabled else self._apply_update(row, "disable", {"disabled": True})

    def enable(self, ref: str) -> Key:
        row = self._row(ref)
        return self._apply_update(row, "enable", {"disabled": False}) if row.disabled else self._key(row)

    def rotate(self, ref: str, in_keyring: bool | None = None) -> Created:
        """A new secret for the same key; the old one stops working at once."""
        row = self._row(ref)
        secret = tokens.new_secret()
        stamp = iso(utcnow())
        changes: dict[str, Any] = {"hint": tokens.hint(secret), "updated_at": stamp}
        if in_keyring is not None:
            changes["in_keyring"] = in_keyring
        with self.store.transaction() as tx:
            tx.update_key(row.id, secret_hash=tokens.hash_secret(secret), **changes)
            tx.audit(stamp, "rotate", row.id, {})
        fresh = self.store.by_id(row.id)
        assert fresh is not None
        return Created(self._key(fresh), secret, ())

    def set_in_keyring(self, ref: str, in_keyring: bool) -> Key:
        """Record whether the key's secret is in the OS keyring. Bookkeeping only: the
        key itself does not change, so there is no audit entry and updated_at stays."""
        row = self._row(ref)
        if row.in_keyring == in_keyring:
            return self._key(row)
        with self.store.transaction() as tx:
            tx.update_key(row.id, in_keyring=in_keyring)
        fresh = self.store.by_id(row.id)
        assert fresh is not None
        return self._key(fresh)

    def delete(self, ref: str) -> Key:
        """Delete a key for good; its audit trail stays."""
        row = self._row(ref)
        key = self._key(row)
        stamp = iso(utcnow())
        with self.store.transaction() as tx:
            tx.delete_key(row.id)
            tx.audit(stamp, "delete", row.id, {"name": row.name, "scopes": list(key.scopes)})
        return key

    def log(self, ref: str | None = None, limit: int | None = None) -> Iterator[LogEntry]:
        """The audit trail, newest first. A deleted key's trail is found by its id."""
        key_id = None
        if ref is not None:
            if tokens.kind_of(ref) == "id":
                key_id = ref  # deleted keys too
            else:
                key_id = self._row(ref).id
        for a in self.store.audit(key_id, limit):
            yield LogEntry(a.at, a.actor, a.action, a.key_id, a.details)

    # -- manifests: apply and export ----------------------------------------------------
    def read_manifest(self, text: str, source: str = "manifest") -> "Manifest":
        """Parse and validate manifest TOML text (ManifestError, exit 2, when it is bad).
        ``source`` (the file name) is named in every message and in the audit trail."""
        from .manifest import parse_manifest

        return parse_manifest(text, source, self.catalog, utcnow())

    def plan(self, manifest: "Manifest", prune: bool = False) -> "Plan":
        """What applying ``manifest`` would change (keyctl/plan.py has the rules).
        Reads only: a store that does not exist yet is planned as empty."""
        from .plan import make_plan

        return make_plan(manifest, self.store.iter_keys(), self.catalog, utcnow(), prune)

    def apply(self, plan_or_manifest: "Plan | Manifest", source: str | None = None,
              prune: bool = False, keyring: bool = False) -> ApplyResult:
        """Carry out a plan (or plan a manifest and carry that out) in ONE transaction:
        all of it or none of it. Each change is audited with ``{"manifest": source}``
        (default: the manifest's file name).

        The plan is made again inside the transaction: a Plan that no longer matches
        the store (another process wrote in between) raises StoreError and changes
        nothing. With ``keyring`` the new secrets are stored in the OS keyring before
        the transaction commits (and removed again if it does not)."""
        from .plan import CREATE, DELETE, UPDATE, Plan, expiry_at, make_plan
        from .errors import StoreError

        given = plan_or_manifest if isinstance(plan_or_manifest, Plan) else None
        planned = given if given is not None else self.plan(plan_or_manifest, prune)
        source = source or planned.source
        backend = None
        if keyring and planned.of(CREATE):
            from . import keyring_store

            backend = keyring_store.ensure_backend()  # before anything is written
        if not planned.has_changes:
            return ApplyResult(planned, (), backend)
        catalog = self.catalog
        stored: list[str] = []  # key ids whose secret went into the keyring
        with self.store.transaction() as tx:
            now = utcnow()
            stamp = iso(now)
            rows = {row.id: row for row in self.store.iter_keys()}
            fresh = make_plan(planned.manifest, rows.values(), catalog, now, planned.prune)
            if given is not None and fresh.actions != given.actions:
                raise StoreError(
                    f"the store {self.path} changed after the plan was made (another keyctl wrote "
                    "to it); nothing was applied: run `keyctl apply` again to see the new plan"
                )
            planned = fresh
            if keyring and backend is None and planned.of(CREATE):
                from . import keyring_store

                backend = keyring_store.ensure_backend()  # still nothing written
            tag = {"manifest": source}
            audit: list[tuple[str, str, str | None, dict]] = []
            deletes = planned.of(DELETE)
            tx.delete_keys([a.key_id for a in deletes])
            for a in deletes:
                audit.append((stamp, "delete", a.key_id,
                              {"name": a.name, "scopes": catalog.sorted_ids(a.scopes)} | tag))
            updates: list[tuple[str, dict[str, Any]]] = []
            for a in planned.of(UPDATE):
                row, spec = rows[a.key_id], a.spec
                changes: dict[str, Any] = {}
                if a.added_scopes or a.removed_scopes:
                    changes["scopes"] = a.scopes
                    audit.append((stamp, "scope.set", a.key_id, {
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
                        audit.append((stamp, "enable" if new else "disable", a.key_id, dict(tag)))
                if details:
                    audit.append((stamp, "update", a.key_id, details | tag))
                updates.append((a.key_id, changes | {"updated_at": stamp}))
            tx.update_keys(updates)
            created: list[Created] = []
            inserts: list[tuple[KeyRow, str]] = []
            for a in planned.of(CREATE):
                spec = a.spec
                secret = tokens.new_secret()
                row = KeyRow(tokens.new_id(), a.name, spec.description, a.scopes, tokens.hint(secret),
                             stamp, stamp, expiry_at(spec, now), not spec.enabled, backend is not None,
                             spec.expires_spec)
                inserts.append((row, tokens.hash_secret(secret)))
                created.append(Created(self._key(row, stamp), secret, a.added_prerequisites))
                audit.append((stamp, "create", row.id, {
                    "name": a.name, "description": spec.description,
                    "scopes": catalog.sorted_ids(a.scopes), "expires_at": row.expires_at,
                    "added_prerequisites": [c.scope for c in a.added_prerequisites],
                    "enabled": spec.enabled} | tag))
            tx.insert_keys(inserts)
            tx.audit_many(audit)
            if backend is not None:
                self._store_secrets(created, stored)
        return ApplyResult(planned, tuple(created), backend)

    @staticmethod
    def _store_secrets(created: list[Created], stored: list[str]) -> None:
        """Secrets into the keyring, inside the transaction: a failure removes those
        already stored and the transaction rolls back, so no key is left whose secret
        nobody has."""
        from . import keyring_store

        try:
            for c in created:
                keyring_store.store_secret(c.key.id, c.secret)
                stored.append(c.key.id)
        except BaseException as exc:
            # A keyring that stopped answering would make each removal wait for the
            # timeout too; its entries name key ids that the store will not have.
            for key_id in [] if isinstance(exc, keyring_store.KeyringTimeout) else stored:
                try:
                    keyring_store.delete_secret(key_id)
                except Exception:  # best effort: the store keeps no key for it anyway
                    pass
            raise

    def export(self) -> Exported:
        """The store as a manifest: every named key, sorted by name, without secrets or
        ids. A relative expiry that a manifest gave is exported as given ("90d"); any
        other expiry as the absolute time, so that applying the export changes nothing."""
        from .manifest import dump_manifest, manifest_entry

        catalog = self.catalog
        named: list[KeyRow] = []
        skipped: list[str] = []
        for row in self.store.iter_keys():
            if row.name is None:
                skipped.append(row.id)  # a manifest knows keys only by name
            else:
                named.append(row)
        named.sort(key=lambda r: r.name or "")
        entries: dict[str, dict[str, Any]] = {}
        data: dict[str, dict[str, Any]] = {}
        for row in named:
            scopes = catalog.sorted_ids(row.scopes)
            expires = row.expires_spec or row.expires_at
            entries[row.name] = manifest_entry(scopes, row.description, expires, not row.disabled)
            data[row.name] = {"scopes": scopes, "description": row.description or None,
                              "expires": expires, "enabled": not row.disabled}
        return Exported(dump_manifest(entries), data, tuple(skipped))

    # -- decisions -----------------------------------------------------------------------
    def check(self, key: str, operation: str) -> Verdict:
        """What the API would do with ``key`` (a secret, id or name) for one operation.

        The hot path of a service: one indexed lookup and set operations."""
        catalog = self.catalog
        if operation not in catalog.operations:
            operation = catalog.resolve_operations([operation])[0]
        if key.startswith(tokens.SECRET_PREFIX):
            if not tokens.is_well_formed(key):
                return self._verdict(catalog, "", operation, KeyState.MALFORMED, None)
            found = self.store.scopes_by_hash(tokens.hash_secret(key))
            if found is None:
                return self._verdict(catalog, "", operation, KeyState.UNKNOWN, None)
            kid, name, scopes, disabled, expires_at = found
            state = KeyState.OK
            if disabled:
                state = KeyState.DISABLED
            elif expires_at is not None and expires_at <= iso(utcnow()):
                state = KeyState.EXPIRED
            return self._verdict(catalog, scopes, operation, state, name or kid)
        k = self.get(key)
        return decide(catalog, k.granted, operation, _STATE_OF_STATUS[k.status], k.ref)

    def _verdict(self, catalog: Catalog, scopes: str, operation: str, state: KeyState, ref: str | None) -> Verdict:
        """decide(), memoised: a verdict depends only on the catalog and these arguments
        (the key's state is judged before, expiry included), and it is frozen, so one
        instance can answer every call. decide() was a third of the time of a check in
        a service's loop (bench/README.md); the memo is bounded and per catalog."""
        if self._verdicts_of is not catalog:
            self._verdicts, self._verdicts_of = {}, catalog
        memo_key = (scopes, operation, state, ref)
        verdict = self._verdicts.get(memo_key)
        if verdict is None:
            verdict = decide(catalog, frozenset(scopes.split()), operation, state, ref)
            if len(self._verdicts) >= _VERDICT_MEMO_SIZE:
                self._verdicts.clear()
            self._verdicts[memo_key] = verdict
        return verdict

    def check_many(self, key: str, operations: Iterable[str] = ()) -> CheckReport:
        """Verdicts for several operations (names, groups or ``all``; none = every one)."""
        ops = self.catalog.resolve_operations(operations)
        known: Key | None = None
        if key.startswith(tokens.SECRET_PREFIX):
            if tokens.is_well_formed(key):
                row = self.store.by_hash(tokens.hash_secret(key))
                known = self._key(row) if row else None
                state = _STATE_OF_STATUS[known.status] if known else KeyState.UNKNOWN
            else:
                state = KeyState.MALFORMED
        else:
            known = self.get(key)
            state = _STATE_OF_STATUS[known.status]
        granted = known.granted if known else frozenset()
        ref = known.ref if known else None
        results = tuple(decide(self.catalog, granted, op, state, ref) for op in ops)
        return CheckReport(known, worst(r.outcome for r in results), results)

    # -- the catalog, replaced ------------------------------------------------------------
    def catalog_upgrade(self, ref: str, yes: bool = False) -> "CatalogUpgrade":
        """Replace the store's catalog with ``ref`` (a built-in name or a file), after
        checking every key against it. Without ``yes`` it only reports. With ``yes`` it
        refuses while keys hold scopes the new catalog does not know, and otherwise adds
        the prerequisites the new catalog requires (audited) and keeps the new text."""
        new = load_catalog(ref)
        old = self.stored_catalog()
        if old is None:
            raise NotFoundError(
                f"there is no store at {self.path} yet; choose the catalog of a new store with --catalog {ref}"
            )
        unknown: list[tuple[Key, tuple[str, ...]]] = []
        additions: list[tuple[Key, tuple[Change, ...], frozenset[str]]] = []
        now = iso(utcnow())
        for row in self.store.iter_keys():
            if ALL in row.scopes:
                continue
            key = self._key(row, now)
            strangers = tuple(sorted(s for s in row.scopes if s not in new.scopes))
            if strangers:
                unknown.append((key, strangers))
                continue
            closed, added = new.closure(row.scopes)
            if added:
                additions.append((key, added, closed))
        report = CatalogUpgrade(old.name, new.name, tuple(unknown), tuple((k, a) for k, a, _ in additions), False)
        if not yes:
            return report
        if unknown:
            names = ", ".join(f"{k.ref} ({', '.join(s)})" for k, s in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise KeyctlError(
                f"{len(unknown)} key(s) hold scopes that the catalog '{new.name}' does not know: {names}{more}; "
                "remove those scopes (`keyctl scope remove KEY SCOPE`) and run the upgrade again"
            )
        with self.store.transaction() as tx:
            for key, added, closed in additions:
                tx.update_key(key.id, scopes=closed, updated_at=now)
                tx.audit(now, "scope.add", key.id, {
                    "before": sorted(key.granted), "after": sorted(closed),
                    "added_prerequisites": [c.scope for c in added], "removed_dependents": [],
                    "reason": f"catalog upgrade to '{new.name}'",
                })
            for meta_key, value in catalog_meta(new).items():
                tx.set_meta(meta_key, value)
            tx.audit(now, "catalog.upgrade", None, {"from": old.name, "to": new.name,
                                                    "keys_changed": len(additions)})
        self._catalog = new
        return CatalogUpgrade(old.name, new.name, (), report.additions, True)


@dataclass(frozen=True)
class CatalogUpgrade:
    """What replacing the store's catalog does: keys whose scopes the new catalog does
    not know (which block it), and keys that gain prerequisites."""

    old: str
    new: str
    unknown: tuple[tuple[Key, tuple[str, ...]], ...]
    additions: tuple[tuple[Key, tuple[Change, ...]], ...]
    applied: bool


_STORED_CACHE: dict[str, Catalog] = {}
_VERDICT_MEMO_SIZE = 4096  # verdicts kept per KeyStore (keys x operations in use)
_STATE_OF_STATUS = {"active": KeyState.OK, "disabled": KeyState.DISABLED, "expired": KeyState.EXPIRED}
