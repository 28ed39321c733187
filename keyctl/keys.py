"""The key lifecycle of :class:`keyctl.api.KeyStore`: every change to keys (create,
scopes, update, disable, enable, rotate, delete, apply) and the OS keyring beside it.

Each change is one write transaction that reads the key again under the lock and
computes the change from that row, so concurrent changes to one key all take effect
and the audit trail's before/after chain holds. A secret is delivered (``deliver``:
the CLI writes it to stdout; or the OS keyring) before the transaction commits: if
it cannot be, nothing changes, so no key is left whose secret nobody has.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable

from . import tokens
from . import when as clock
from .delivery import Deliver, Delivery
from .errors import InvalidNameError, KeyctlError, KeyringError, NameTakenError, NoScopesLeftError, NotFoundError, UsageError
from .models import Created, Key, ScopeChange
from .store import KeyRow
from .text import printable
from .when import iso, parse_when, to_utc

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .store import Writer

_UNSET: Any = object()


def require_bool(name: str, value: Any, none_ok: bool = False) -> None:
    """A yes/no argument must be a bool: a truthy string ("no") would say yes."""
    if not isinstance(value, bool) and not (none_ok and value is None):
        raise TypeError(f"{name} must be a bool{' or None' if none_ok else ''}, not {type(value).__name__}")


class KeyOps(Delivery):
    """The changes half of KeyStore (keyctl/api.py holds the reads and decisions,
    keyctl/apply.py the manifests)."""

    # Provided by KeyStore:
    def _row(self, ref: str, reader: Any = None) -> KeyRow: ...  # pragma: no cover
    def _key(self, row: KeyRow, now: str | None = None) -> Key: ...  # pragma: no cover
    def _catalog_of(self, tx: "Writer") -> "Catalog": ...  # pragma: no cover
    def _refresh_catalog(self) -> "Catalog": ...  # pragma: no cover

    # -- validation ------------------------------------------------------------------
    @staticmethod
    def _scopes(catalog: "Catalog", names: Iterable[str]) -> frozenset[str]:
        if isinstance(names, str):
            names = [names]
        granted = catalog.resolve_many(names)
        if not granted:
            example = next(iter(catalog.groups), None) or next((s for s in catalog.scopes if s != "all"), "all")
            raise UsageError(f"give at least one scope, e.g. --scope {example}")
        return granted

    @staticmethod
    def _name(name: Any) -> str | None:
        if name is None:
            return None
        if not isinstance(name, str):
            raise TypeError(f"name must be a str or None, not {type(name).__name__}")
        problem = tokens.name_problem(name)
        if problem:
            raise InvalidNameError(f"invalid name: {problem}")
        return name

    @staticmethod
    def _description(description: Any) -> str | None:
        if description is None:
            return None
        if not isinstance(description, str):
            raise TypeError(f"description must be a str or None, not {type(description).__name__}")
        problem = tokens.description_problem(description) if description else None
        if problem:
            raise UsageError(problem)
        return description or None  # "" means no description

    @staticmethod
    def _expiry(expires: Any, now: datetime) -> str | None:
        if expires is None:
            return None
        if isinstance(expires, datetime):
            expires = to_utc(expires)  # no zone means UTC, as for --expires on the command line
            if expires <= now:
                raise UsageError("the expiry time is not in the future")
            return iso(expires)
        if not isinstance(expires, str):
            raise TypeError(f"expires must be a str (a WHEN), a datetime or None, not {type(expires).__name__}")
        return iso(parse_when(expires, now))

    def _fresh(self, tx: "Writer", row: KeyRow, ref: str) -> KeyRow:
        """The key ``ref`` names as it is under the write lock, looked up again as it was
        named: a secret rotated, or a name given to another key, while the change waited
        no longer names the key read before it (NotFoundError when nothing has it now)."""
        kind = tokens.kind_of(ref)
        if kind == "secret":
            fresh = tx.row("secret_hash", tokens.hash_secret(ref))
            gone = "no key has that secret: it was rotated, or its key deleted, while this change waited"
        else:
            fresh = tx.row("id", row.id) if kind == "id" else tx.row("name", ref)
            renamed = "" if kind == "id" else " or renamed"
            gone = f"no key '{printable(ref)}': it was deleted{renamed} while this change waited"
        if fresh is None:
            raise NotFoundError(f"{gone}; see `keyctl list`")
        return fresh

    # -- create ------------------------------------------------------------------------
    def create(self, scopes: Iterable[str], name: str | None = None, description: str | None = None,
               expires: str | datetime | None = None, in_keyring: bool = False,
               deliver: Deliver | None = None) -> Created:
        """Create a key; prerequisites of the scopes are added and reported. With
        ``in_keyring`` the secret is kept in the OS keyring. ``deliver`` is called with
        the result before the key is committed: if it raises, nothing is created."""
        require_bool("in_keyring", in_keyring)
        name, description = self._name(name), self._description(description)
        now = clock.utcnow()
        expires_at = self._expiry(expires, now)
        self._scopes(self._refresh_catalog(), scopes)  # usage errors before anything else
        backend = self._backend(in_keyring)
        secret = tokens.new_secret()
        stamp = iso(now)
        void = "the key was not created, and the secret printed for it does not work"
        with self._keyring_entries() as kept, self._writing(True, void) as tx:
            catalog = self._catalog_of(tx)
            granted, added = catalog.closure(self._scopes(catalog, scopes))
            if name is not None and tx.row("name", name) is not None:
                raise NameTakenError(f"the name '{name}' is taken by another key; choose another name")
            row = KeyRow(tokens.new_id(), name, description, granted, tokens.hint(secret), stamp, stamp,
                         expires_at, False, in_keyring)
            tx.insert_keys([(row, tokens.hash_secret(secret))])
            tx.audit_many([(stamp, "create", row.id, name, {
                "name": name, "description": description, "scopes": catalog.sorted_ids(granted),
                "expires_at": expires_at, "added_prerequisites": [c.scope for c in added]})])
            created = Created(self._key(row, stamp), secret, added, backend, catalog.notices(granted))
            self._deliver(created, kept, deliver, "the key was not created")
            tx.delivered = True
        return created

    # -- scopes ------------------------------------------------------------------------
    def _change_scopes(self, ref: str, action: str, scopes: Iterable[str]) -> ScopeChange:
        row = self._row(ref)
        self._scopes(self._refresh_catalog(), scopes)  # usage errors before the lock
        with self.store.transaction(create=False) as tx:
            row = self._fresh(tx, row, ref)
            catalog = self._catalog_of(tx)
            names = self._scopes(catalog, scopes)
            added: tuple = ()
            removed: tuple = ()
            not_held: tuple[str, ...] = ()
            if action == "scope.add":
                new, added = catalog.closure(row.scopes | names)
            elif action == "scope.remove":
                held = catalog.expand(row.scopes)
                not_held = tuple(sorted(catalog.expand(names) - held))
                new, removed = catalog.remove(row.scopes, names)
            else:
                new, added = catalog.closure(names)
            if not new:
                raise NoScopesLeftError(
                    f"that would leave {row.name or row.id} with no scope; "
                    f"disable it (`keyctl disable {row.name or row.id}`) or delete it instead")
            if new == row.scopes:
                return ScopeChange(self._key(row), (), (), not_held)
            had = catalog.expand(row.scopes)  # removing from `all` grants nothing new
            notices = catalog.notices(new - had, new) + catalog.closed_by(had, new)
            stamp = iso(clock.utcnow())
            tx.update_keys([(row.id, {"scopes": new, "updated_at": stamp})])
            tx.audit_many([(stamp, action, row.id, row.name, {
                "before": catalog.sorted_ids(row.scopes), "after": catalog.sorted_ids(new),
                "added_prerequisites": [c.scope for c in added],
                "removed_dependents": [c.scope for c in removed]})])
            changed = row._replace(scopes=new, updated_at=stamp)
        return ScopeChange(self._key(changed), added, removed, not_held, notices)

    def scope_add(self, ref: str, scopes: Iterable[str]) -> ScopeChange:
        """Grant scopes (and their prerequisites)."""
        return self._change_scopes(ref, "scope.add", scopes)

    def scope_remove(self, ref: str, scopes: Iterable[str]) -> ScopeChange:
        """Take scopes away, and every scope that requires them. Scopes the key does not
        hold change nothing and are listed in ``not_held``."""
        return self._change_scopes(ref, "scope.remove", scopes)

    def scope_set(self, ref: str, scopes: Iterable[str]) -> ScopeChange:
        """Replace the key's scopes (prerequisites added)."""
        return self._change_scopes(ref, "scope.set", scopes)

    # -- fields and state ----------------------------------------------------------------
    def update(self, ref: str, name: str | None = _UNSET, description: str | None = _UNSET,
               expires: str | datetime | None = _UNSET) -> Key:
        """Change name, description or expiry; ``expires="never"`` clears the expiry and
        ``description=""`` the description. Giving none of them is a UsageError."""
        if name is _UNSET and description is _UNSET and expires is _UNSET:
            raise UsageError("nothing to change: give --name, --description or --expires")
        wanted: dict[str, Any] = {}
        if name is not _UNSET:
            if name is None:  # as on the command line: a name is changed, never taken away
                raise UsageError("a key's name can be changed, not removed: give a new name")
            wanted["name"] = self._name(name)
        if description is not _UNSET:
            wanted["description"] = self._description(description)
        if expires is not _UNSET:
            wanted["expires_at"] = self._expiry(expires, clock.utcnow())
        return self._update(ref, "update", lambda row: {
            k: v for k, v in wanted.items() if getattr(row, k) != v
        } | ({"expires_spec": None} if expires is not _UNSET and row.expires_spec is not None else {}))

    def _update(self, ref: str, action: str, changes_of: Callable[[KeyRow], dict[str, Any]]) -> Key:
        """One key's fields changed under the lock, from the row as it is then."""
        row = self._row(ref)
        with self.store.transaction(create=False) as tx:
            row = self._fresh(tx, row, ref)
            changes = changes_of(row)
            if not changes:
                return self._key(row)
            if changes.get("name") is not None and tx.row("name", changes["name"]) is not None:
                raise NameTakenError(f"the name '{changes['name']}' is taken by another key; choose another name")
            stamp = iso(clock.utcnow())
            details = {k: [getattr(row, k), v] for k, v in changes.items()
                       if k in ("name", "description", "expires_at")}
            tx.update_keys([(row.id, changes | {"updated_at": stamp})])
            tx.audit_many([(stamp, action, row.id, changes.get("name", row.name), details)])
            changed = row._replace(updated_at=stamp, **changes)
        return self._key(changed)

    def disable(self, ref: str) -> Key:
        """Take a key out of service: every check rejects it until it is enabled."""
        return self._update(ref, "disable", lambda row: {} if row.disabled else {"disabled": True})

    def enable(self, ref: str) -> Key:
        """Bring a disabled key back. An expired key is refused (enabling would not make
        it work): extend it first."""
        def changes(row: KeyRow) -> dict[str, Any]:
            if row.expires_at is not None and row.expires_at <= iso(clock.utcnow()):
                who = row.name or row.id
                raise KeyctlError(f"{who} expired at {row.expires_at}: enabling it would not make it work; "
                                  f"extend it first with `keyctl update {who} --expires 30d`")
            return {"disabled": False} if row.disabled else {}

        return self._update(ref, "enable", changes)

    # -- secrets ----------------------------------------------------------------------------
    def rotate(self, ref: str, in_keyring: bool | None = None, deliver: Deliver | None = None) -> Created:
        """A new secret for the same key; the old one stops working at once. The secret
        stays where the key keeps it (``in_keyring=None``), or goes to the OS keyring
        (True) or out of it (False: the stale entry is removed)."""
        require_bool("in_keyring", in_keyring, none_ok=True)
        row = self._row(ref)
        backend = self._backend(row.in_keyring if in_keyring is None else in_keyring)
        secret = tokens.new_secret()
        void = "the key was not rotated: its old secret still works, and the one printed does not work"
        with self._writing(False, void) as tx:
            row = self._fresh(tx, row, ref)
            keep = row.in_keyring if in_keyring is None else in_keyring
            if keep and backend is None:
                backend = self._backend(True)
            stamp = iso(clock.utcnow())
            changes = {"secret_hash": tokens.hash_secret(secret), "hint": tokens.hint(secret),
                       "in_keyring": keep, "updated_at": stamp}
            tx.update_keys([(row.id, changes)])
            tx.audit_many([(stamp, "rotate", row.id, row.name, {})])
            changed = row._replace(hint=changes["hint"], in_keyring=keep, updated_at=stamp)
            created = Created(self._key(changed, stamp), secret, (), backend if keep else None)
            with self._old_entry_restored(row.id, keep):
                self._deliver(created, [], deliver, "the key was not rotated: its old secret still works")
            tx.delivered = True
        if row.in_keyring and not keep:
            self._drop_entry(row, f"the secret of {row.name or row.id} in the keyring is now stale; "
                                  "removed it (rotate with --keyring to replace it instead)", quiet=False)
        return created

    def secret(self, ref: str) -> Created:
        """The secret kept in the OS keyring for a key (named by id or name), checked to
        be the key's current one. KeyringError when there is none."""
        if isinstance(ref, str) and (ref == "-" or tokens.kind_of(ref) == "secret"):
            raise UsageError("KEY is a secret already; give the key's id (key_...) or name")
        key = self._key(self._row(ref))
        fix = f"`keyctl rotate {key.ref} --keyring` gives it a new secret kept there"
        if not key.in_keyring:
            raise KeyringError(f"nothing is stored in the keyring for {key.ref}: it was created or last "
                               f"rotated without --keyring; {fix}")
        from . import keyring_store

        value = keyring_store.get_secret(key.id)
        if value is None:
            raise KeyringError(f"nothing is stored in the keyring for {key.ref} (service keyctl, user {key.id}): "
                               f"it was removed outside keyctl; {fix}")
        current = tokens.kind_of(value) == "secret" and tokens.is_well_formed(value) and \
            self.store.by("secret_hash", tokens.hash_secret(value)) is not None and \
            self.store.by("secret_hash", tokens.hash_secret(value)).id == key.id  # type: ignore[union-attr]
        if not current:
            raise KeyringError(f"the keyring holds an outdated secret for {key.ref} (it no longer matches the "
                               f"key); `keyctl rotate {key.ref} --keyring` gives it a new one")
        if key.status != "active":
            self._warn(f"{key.ref} is {key.status}: every check rejects its secret")
        return Created(key, value, (), keyring_store.SERVICE)

    # -- delete ------------------------------------------------------------------------------
    def delete(self, ref: str) -> Key:
        """Delete a key for good (status ``deleted`` in the result); its audit trail
        stays, and so does its name in it. A secret kept in the keyring is removed."""
        row = self._row(ref)
        with self.store.transaction(create=False) as tx:
            row = self._fresh(tx, row, ref)
            tx.delete_keys([row.id])
            tx.audit_many([(iso(clock.utcnow()), "delete", row.id, row.name,
                            {"name": row.name, "scopes": sorted(row.scopes)})])
        if row.in_keyring:
            self._drop_entry(row, "", quiet=True)
        return self._key(row)._replace(status="deleted")
