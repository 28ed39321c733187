"""The results that cross layers: what ``KeyStore`` returns and the renderer prints.

Immutable named tuples: cheap to define (every command imports this module) and to
make. ``to_dict`` methods are the JSON contract (README "JSON shapes").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Change, Notice
    from .decide import Outcome, Verdict
    from .plan import Plan


STATUSES = ("active", "disabled", "expired")


def key_status(disabled: bool, expires_at: str | None, now_iso: str) -> str:
    """A key's state as people see it: ``active``, ``disabled`` or ``expired``. A key
    both disabled and expired is ``disabled`` (enabling it is the first thing to do,
    and the expiry is shown beside it)."""
    if disabled:
        return "disabled"
    if expires_at is not None and expires_at <= now_iso:
        return "expired"
    return "active"


class Key(NamedTuple):
    """A key as people and scripts see it."""

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
    granted: frozenset[str]  # for decisions

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


class Created(NamedTuple):
    """A key just created or rotated, with its secret: the only time it is seen.
    ``stored_in`` names the keyring backend that keeps the secret, or is None."""

    key: Key
    secret: str
    added_prerequisites: tuple["Change", ...] = ()
    stored_in: str | None = None
    notices: tuple["Notice", ...] = ()  # deprecated or hidden scopes granted

    def __repr__(self) -> str:  # never the secret, in a traceback or a log
        return f"Created(key={self.key.id!r}, secret='kc_...{self.secret[-4:]}', stored_in={self.stored_in!r})"


class ScopeChange(NamedTuple):
    key: Key
    added_prerequisites: tuple["Change", ...]
    removed_dependents: tuple["Change", ...]
    not_held: tuple[str, ...] = ()  # scope remove: scopes named that the key did not hold
    notices: tuple["Notice", ...] = ()  # deprecated or hidden scopes granted


class KeyDetail(NamedTuple):
    key: Key
    operations: dict[str, str]  # operation -> outcome


class CheckReport(NamedTuple):
    key: Key | None  # None when the secret matched no key, or was malformed
    outcome: "Outcome"
    results: tuple["Verdict", ...]


class LogEntry(NamedTuple):
    at: str
    actor: str
    action: str
    key_id: str | None
    key_name: str | None  # the key's name when the entry was written
    details: dict

    def to_dict(self) -> dict[str, Any]:
        # recorded_at: every time in keyctl's JSON ends in _at (README "JSON shapes").
        return {"recorded_at": self.at, "actor": self.actor, "action": self.action,
                "key_id": self.key_id, "key_name": self.key_name, "details": self.details}


class ApplyResult(NamedTuple):
    """What ``apply`` did: the plan it carried out and the keys it created, with their
    secrets (the only time they are seen). ``keyring`` names the keyring backend the
    secrets were stored in, or is None when they were not."""

    plan: "Plan"
    created: tuple[Created, ...] = ()
    keyring: str | None = None


class Exported(NamedTuple):
    """``export``: the manifest ``text`` (TOML), the same ``keys`` as data (name ->
    every field, defaults included), and the ids of keys left out for having no name."""

    text: str
    keys: dict[str, dict[str, Any]]
    skipped: tuple[str, ...] = ()


class CatalogUpgrade(NamedTuple):
    """What replacing the store's catalog does: keys whose scopes the new catalog does
    not know (which block it), and keys that gain prerequisites."""

    old: str
    new: str
    unknown: tuple[tuple[Key, tuple[str, ...]], ...]
    additions: tuple[tuple[Key, tuple["Change", ...]], ...]
    applied: bool
