"""The results that cross layers: what ``KeyStore`` returns and the renderer prints.

Immutable values, cheap to define (every command imports this module): named tuples
for what is made once per key (a list of a million keys makes a million Keys), and
:class:`Result` classes for what a call makes once, which cost nothing to define.
``to_dict`` methods are the JSON contract (README "JSON shapes").
"""

# No `from __future__ import annotations` here: a NamedTuple's string annotations
# are each compiled when its class is made, at every start.
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Change, Notice
    from .decide import Outcome, Verdict
    from .plan import Plan


STATUSES = ("active", "disabled", "expired")


def key_status(disabled: bool, expires_at: str | None, now_iso: str) -> str:
    """A key's state as people see it: ``active``, ``disabled`` or ``expired``. A key
    both disabled and expired is ``disabled``, its expiry shown beside it (``check``
    tells it both fixes: ``judged_status``)."""
    if disabled:
        return "disabled"
    if expires_at is not None and expires_at <= now_iso:
        return "expired"
    return "active"


def judged_status(disabled: bool, expires_at: str | None, now_iso: str) -> str:
    """The state ``check`` judges a key in: its status, but ``disabled_expired`` for a
    key both disabled and expired (told both fixes, in the order they work)."""
    status = key_status(disabled, expires_at, now_iso)
    if status == "disabled" and expires_at is not None and expires_at <= now_iso:
        return "disabled_expired"
    return status


def sorted_ids(granted: Iterable[str]) -> list[str]:
    """The JSON form of a grant: sorted scope ids, or ``["all"]``."""
    granted = frozenset(granted)
    return ["all"] if "all" in granted else sorted(granted)


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
    notices: tuple["Notice", ...] = ()  # scopes granted that are deprecated, hidden or open no endpoint

    def __repr__(self) -> str:  # never the secret, in a traceback or a log
        return f"Created(key={self.key.id!r}, secret='kc_...{self.secret[-4:]}', stored_in={self.stored_in!r})"


class Result:
    """A value a call returns once (not one per key): its fields are ``__slots__``,
    read-only, compared and shown by value and ``_replace``d as a NamedTuple's are. A
    plain class: a NamedTuple compiles code for each of its classes at every start,
    which a command pays for every result type it imports, used or not."""

    __slots__: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self.__slots__
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} fields, not {len(args)}")
        values = dict(zip(fields, args))
        for name, value in kwargs.items():
            if name not in fields or name in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {name!r}")
            values[name] = value
        for name in fields:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__}: missing field {name!r}")
                values[name] = self._defaults[name]
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only; make a changed copy with _replace()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def _replace(self, **changes: Any) -> Any:
        return type(self)(**(self._asdict() | changes))

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class ScopeChange(Result):
    __slots__ = ("key", "added_prerequisites", "removed_dependents", "not_held", "notices")
    _defaults = {"not_held": (), "notices": ()}

    key: Key
    added_prerequisites: tuple["Change", ...]
    removed_dependents: tuple["Change", ...]
    not_held: tuple[str, ...]  # scope remove: scopes named that the key did not hold
    notices: tuple["Notice", ...]  # scopes granted deprecated, hidden or opening no endpoint; kept ones closed


class KeyDetail(Result):
    __slots__ = ("key", "operations")

    key: Key
    operations: dict[str, str]  # operation -> outcome


class CheckReport(Result):
    __slots__ = ("key", "outcome", "results")

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


class ApplyResult(Result):
    """What ``apply`` did: the plan it carried out and the keys it created, with their
    secrets (the only time they are seen). ``keyring`` names the keyring backend the
    secrets were stored in, or is None when they were not."""

    __slots__ = ("plan", "created", "keyring")
    _defaults = {"created": (), "keyring": None}

    plan: "Plan"
    created: tuple[Created, ...]
    keyring: str | None


class Exported(Result):
    """``export``: the manifest ``text`` (TOML), the same ``keys`` as data (name ->
    every field, defaults included), and the ids of keys left out for having no name."""

    __slots__ = ("text", "keys", "skipped")
    _defaults = {"skipped": ()}

    text: str
    keys: dict[str, dict[str, Any]]
    skipped: tuple[str, ...]


class CatalogUpgrade(Result):
    """What replacing the store's catalog does: keys whose scopes the new catalog does
    not know (which block it), and keys that gain prerequisites."""

    __slots__ = ("old", "new", "unknown", "additions", "applied")

    old: str
    new: str
    unknown: tuple[tuple[Key, tuple[str, ...]], ...]
    additions: tuple[tuple[Key, tuple["Change", ...]], ...]
    applied: bool
