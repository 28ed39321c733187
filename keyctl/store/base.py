"""The storage interface: what keyctl keeps (keys, the audit trail, the store's own
settings such as its catalog) and the operations the layers above may use. A backend
(keyctl/store/sqlite.py, keyctl/store/postgres.py) implements it; nothing above the
store knows which one it talks to, and only backends speak SQL.

Every change happens inside :meth:`Store.transaction`, which yields a :class:`Writer`:
the write lock is taken first, and the writer's reads (``row``, ``meta``,
``iter_keys``) see the store as it is under that lock, so a read-modify-write computes
its change from the row as it is now, never from an earlier read.
"""

# No `from __future__ import annotations` here: a NamedTuple's string annotations
# are each compiled when its class is made, at every start.
import json
import os
from pathlib import Path
from typing import Any, ContextManager, Iterator, NamedTuple, Protocol


class KeyRow(NamedTuple):
    """A key as stored. ``scopes`` is a frozenset of scope ids, or ``{"all"}``."""

    id: str
    name: str | None
    description: str | None
    scopes: frozenset[str]
    hint: str
    created_at: str
    updated_at: str
    expires_at: str | None
    disabled: bool
    in_keyring: bool = False
    expires_spec: str | None = None  # the manifest's relative expiry (apply), if any


class AuditRow(NamedTuple):
    at: str
    actor: str
    action: str
    key_id: str | None
    key_name: str | None
    details: dict


class CheckRow(NamedTuple):
    """What ``KeyStore.check`` needs of a key, read in one query with the revision of
    the store's catalog (so that a catalog replaced by another process is noticed)."""

    catalog_rev: str | None
    id: str | None  # None: no key has that secret
    name: str | None
    scopes: str | None  # the stored form, undecoded (a memo key)
    disabled: int  # 0 or 1, as stored
    expires_at: str | None


# Key columns in the order KeyRow has them.
KEY_COLUMNS = ("id", "name", "description", "scopes", "hint", "created_at", "updated_at",
               "expires_at", "disabled", "in_keyring", "expires_spec")


def encode_scopes(scopes: frozenset[str]) -> str:
    """The stored form of a grant: a sorted JSON array, which no scope id can spoof
    (a space or newline inside an id would split a space-separated list)."""
    return json.dumps(sorted(scopes), separators=(",", ":"))


def decode_scopes(text: str) -> frozenset[str]:
    return frozenset(json.loads(text))


def key_row(values: tuple) -> KeyRow:
    (kid, name, desc, scopes, hint, created, updated, expires, disabled, in_keyring, spec) = values
    return KeyRow(kid, name, desc, decode_scopes(scopes), hint, created, updated, expires,
                  bool(disabled), bool(in_keyring), spec)


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "keyctl" / "keyctl.db"


def actor() -> str:
    """Who makes a change, as the environment reports it (a record, not proof)."""
    # getpass.getuser()'s search, without importing getpass (and termios with it).
    name = next((os.environ[v] for v in ("LOGNAME", "USER", "LNAME", "USERNAME") if os.environ.get(v)), None)
    if name is None:
        try:
            import pwd

            name = pwd.getpwuid(os.getuid())[0]
        except Exception:  # no name for this uid (containers), or no pwd: the uid will do
            return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    # $LOGNAME is anyone's to set: kept as text the store can hold (a byte the locale
    # could not decode as \xff) and of a sane length; it is escaped where it is shown.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")[:256]


class Writer(Protocol):
    """What a transaction may do. Reads see the store under the write lock."""

    delivered: bool  # set once output that depends on this transaction went out

    def row(self, column: str, value: str) -> KeyRow | None: ...
    def iter_keys(self) -> Iterator[KeyRow]: ...
    def rows_named(self, names: list[str]) -> dict[str, KeyRow]: ...
    def names_folded(self, folded: list[str]) -> dict[str, str]: ...
    def iter_named(self) -> Iterator[KeyRow]: ...
    def count_named(self) -> int: ...
    def meta(self, key: str) -> str | None: ...
    def audit(self, key_id: str | None = None, limit: int | None = None,
              key_name: str | None = None) -> Iterator[AuditRow]: ...
    def insert_keys(self, rows: list[tuple[KeyRow, str]]) -> None: ...
    def update_keys(self, updates: list[tuple[str, dict[str, Any]]]) -> None: ...
    def delete_keys(self, key_ids: list[str]) -> None: ...
    def audit_many(self, entries: list[tuple[str, str, str | None, str | None, dict]]) -> None: ...
    def insert_audit(self, entries: list[AuditRow]) -> None: ...
    def set_meta(self, key: str, value: str) -> None: ...


class Snapshot(Protocol):
    """The whole store as of one moment (a read transaction): what a copy reads."""

    def iter_hashed(self) -> Iterator[tuple[KeyRow, str]]: ...
    def iter_audit(self) -> Iterator[AuditRow]: ...
    def iter_named(self) -> Iterator[KeyRow]: ...
    def iter_unnamed(self) -> Iterator[str]: ...
    def meta(self, key: str) -> str | None: ...


class Store(Protocol):
    """A keyctl store. Opening is lazy: nothing is touched until the first read or
    write; reads of a store that does not exist find nothing and create nothing."""

    location: str  # a path, or a URL with any password hidden: for messages

    def exists(self) -> bool: ...
    def close(self) -> None: ...
    def transaction(self, create: bool = True) -> ContextManager[Writer]: ...
    def snapshot(self) -> ContextManager[Snapshot]: ...
    def by(self, column: str, value: str) -> KeyRow | None: ...
    def check_row(self, column: str, value: str) -> CheckRow | None: ...
    def version(self) -> Any: ...
    def iter_keys(self) -> Iterator[KeyRow]: ...
    def rows_named(self, names: list[str]) -> dict[str, KeyRow]: ...
    def names_folded(self, folded: list[str]) -> dict[str, str]: ...
    def iter_named(self) -> Iterator[KeyRow]: ...
    def count_named(self) -> int: ...
    def names_by_prefix(self, prefix: str, limit: int = 50) -> list[tuple[str, str | None]]: ...
    def audit(self, key_id: str | None = None, limit: int | None = None,
              key_name: str | None = None) -> Iterator[AuditRow]: ...
    def meta(self, key: str) -> str | None: ...
    def describe(self) -> dict[str, Any]: ...
