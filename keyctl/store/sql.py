"""The SQL every backend shares: keyctl's reads and the writer's statements, written
once with ``?`` placeholders. A backend supplies connections and its dialect's few
differences (placeholders, upsert, error translation).
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any, Iterator

from .base import KEY_COLUMNS, AuditRow, CheckRow, KeyRow, encode_scopes, key_row

_SELECT_KEY = f"SELECT {', '.join(KEY_COLUMNS)} FROM keys"
_LOOKUP_COLUMNS = frozenset({"id", "name", "secret_hash"})
# Columns a change may set: the update statement is built from these names only.
_WRITABLE = frozenset({"name", "description", "scopes", "secret_hash", "hint", "updated_at",
                       "expires_at", "disabled", "in_keyring", "expires_spec"})
FETCH_BATCH = 500


def matchable(value: str | None) -> str | None:
    """``value`` for a comparison, or None (which matches nothing) when it is text no
    store can hold: a lone surrogate, which is how Python keeps a byte of a command
    line or an environment that the locale could not decode."""
    if value is None or value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


# KeyStore.check's one query: the key and, in the same snapshot, the catalog's revision.
CHECK_SQL = {column: ("SELECT m.value, k.id, k.name, k.scopes, k.disabled, k.expires_at FROM meta m "
                      f"LEFT JOIN keys k ON k.{column} = ? WHERE m.key = 'catalog_rev'")
             for column in _LOOKUP_COLUMNS}


def check_row(found: tuple) -> CheckRow:
    """The row of CHECK_SQL as a CheckRow, made directly (every check makes one)."""
    return _new_tuple(CheckRow, found)


_new_tuple = tuple.__new__


class Dialect:
    """How a backend's SQL differs from SQLite's."""

    placeholder = "?"

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def upsert_meta(self) -> str:
        return "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"

    def order_of_insertion(self) -> str:
        """The column that orders keys made in the same second as they were made."""
        return "rowid"


def _values(row: KeyRow, secret_hash: str) -> tuple:
    return (row.id, row.name, row.description, encode_scopes(row.scopes), row.hint, row.created_at,
            row.updated_at, row.expires_at, int(row.disabled), int(row.in_keyring), row.expires_spec,
            secret_hash)


def stored_change(changes: dict[str, Any]) -> dict[str, Any]:
    """A key's changes in their stored form: scopes encoded, flags as integers. The one
    normaliser of every update."""
    out = dict(changes)
    unknown = set(out) - _WRITABLE
    if unknown:
        raise ValueError(f"not a writable key column: {sorted(unknown)}")
    if "scopes" in out:
        out["scopes"] = encode_scopes(out["scopes"])
    for flag in ("disabled", "in_keyring"):
        if flag in out:
            out[flag] = int(out[flag])
    return out


def opened(store: Any, conn: Any) -> None:
    """Keep ``conn`` among ``store``'s connections (close_all closes them), and the
    store among those open in this process (close_open_stores)."""
    with store._lock:
        store._every.append(conn)
    _OPEN.add(store)


def close_open_stores() -> None:
    """Close every store this process opened and did not close: the command line's last
    act, so that a store is closed (SQLite checkpoints its write-ahead log and removes
    it) whatever still refers to it."""
    for store in list(_OPEN):
        store.close()


_OPEN: "weakref.WeakSet[Any]" = weakref.WeakSet()


def close_all(store: Any, error: type[BaseException]) -> None:
    """Close every connection a store opened, whichever thread opened it (best effort:
    ``error``, the driver's, is ignored); a thread that reads again gets a new one."""
    with store._lock:
        every, store._every = store._every, []
    for conn in every:
        try:
            conn.close()
        except error:  # pragma: no cover
            pass
    store._local = threading.local()


class _Empty:
    """The answer of every read of a store that does not exist yet."""

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list:
        return []

    def fetchmany(self, n: int) -> list:
        return []


EMPTY = _Empty()


class Reads:
    """keyctl's queries on one connection (``self._cursor`` runs them)."""

    dialect: Dialect

    def _run(self, sql: str, args: tuple | list = (), one: bool = False) -> Any:
        """A cursor on the query's rows. ``one``: only its first row will be read (a
        backend may then run it on a cursor it keeps)."""
        raise NotImplementedError

    def by(self, column: str, value: str) -> KeyRow | None:
        if column not in _LOOKUP_COLUMNS:
            raise ValueError(f"keys are not looked up by {column}")
        found = self._run(f"{_SELECT_KEY} WHERE {column} = ?", (matchable(value),), True).fetchone()
        return key_row(found) if found else None

    def rows_named(self, names: list[str]) -> dict[str, KeyRow]:
        """The keys with these names (indexed look-ups, a batch at a time)."""
        out: dict[str, KeyRow] = {}
        for start in range(0, len(names), FETCH_BATCH):
            batch = names[start:start + FETCH_BATCH]
            marks = ", ".join("?" for _ in batch)
            for values in self._run(f"{_SELECT_KEY} WHERE name IN ({marks})", batch).fetchall():
                row = key_row(values)
                out[row.name] = row  # type: ignore[index]
        return out

    def names_folded(self, folded: list[str]) -> dict[str, str]:
        """The names of keys that are one of ``folded`` (lowercase) but for case, as
        ``{folded: name}``; of two such keys the later made wins. Indexed (lower(name)
        has an index of its own, and names are ASCII, which SQL's lower() folds)."""
        out: dict[str, str] = {}
        for start in range(0, len(folded), FETCH_BATCH):
            batch = folded[start:start + FETCH_BATCH]
            marks = ", ".join("?" for _ in batch)
            for low, name in self._run(f"SELECT lower(name), name FROM keys WHERE lower(name) IN ({marks}) "
                                       f"ORDER BY created_at, {self.dialect.order_of_insertion()}", batch).fetchall():
                out[low] = name
        return out

    def count_named(self) -> int:
        """How many keys have a name (an index-only count)."""
        found = self._run("SELECT count(name) FROM keys", (), True).fetchone()
        return int(found[0]) if found else 0

    def iter_named(self) -> Iterator[KeyRow]:
        """Every key that has a name, in name order (byte order), streamed."""
        for values in self._stream(f"{_SELECT_KEY} WHERE name IS NOT NULL ORDER BY name"):
            yield key_row(values)

    def iter_unnamed(self) -> Iterator[str]:
        """The ids of the keys without a name, oldest first, streamed."""
        for (key_id,) in self._stream(f"SELECT id FROM keys WHERE name IS NULL "
                                      f"ORDER BY created_at, {self.dialect.order_of_insertion()}"):
            yield key_id

    def check_row(self, column: str, value: str) -> CheckRow | None:
        """What a check needs of the key whose ``column`` (secret_hash, id or name) is
        ``value``, with the catalog's revision: one row whether or not the key exists,
        None when the store does not."""
        if column not in _LOOKUP_COLUMNS:
            raise ValueError(f"keys are not looked up by {column}")
        found = self._run(CHECK_SQL[column], (matchable(value),), True).fetchone()
        return None if found is None else check_row(found)

    def _stream(self, sql: str, args: tuple | list = ()) -> Iterator[tuple]:
        """The rows of a query, a batch at a time from the cursor."""
        cursor = self._run(sql, args)
        while True:
            rows = cursor.fetchmany(FETCH_BATCH)
            if not rows:
                return
            yield from rows

    def iter_keys(self) -> Iterator[KeyRow]:
        """Every key, oldest first, streamed from the cursor (never all in memory).
        created_at has one-second resolution; the insertion order keeps keys made within
        the same second in the order they were made (the id is random)."""
        for values in self._stream(f"{_SELECT_KEY} ORDER BY created_at, {self.dialect.order_of_insertion()}"):
            yield key_row(values)

    def iter_hashed(self) -> Iterator[tuple[KeyRow, str]]:
        """Every key with its secret's hash, oldest first (for a copy of the store)."""
        for values in self._stream(f"SELECT {', '.join(KEY_COLUMNS)}, secret_hash FROM keys "
                                   f"ORDER BY created_at, {self.dialect.order_of_insertion()}"):
            yield key_row(values[:-1]), values[-1]

    def names_by_prefix(self, prefix: str, limit: int = 50) -> list[tuple[str, str | None]]:
        """(id, name) of keys whose name or id starts with ``prefix``: for completion.
        Range scans on the indexes, never the whole table."""
        if matchable(prefix) is None:
            return []
        upper = prefix + "\U0010ffff"
        rows = self._run("SELECT id, name FROM keys WHERE name >= ? AND name < ? ORDER BY name LIMIT ?",
                         (prefix, upper, limit)).fetchall()
        if prefix.startswith("key_") or not rows:
            rows += self._run("SELECT id, name FROM keys WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                              (prefix, upper, limit)).fetchall()
        return [tuple(r) for r in rows[:limit]]  # type: ignore[misc]

    def audit(self, key_id: str | None = None, limit: int | None = None,
              key_name: str | None = None) -> Iterator[AuditRow]:
        sql = "SELECT at, actor, action, key_id, key_name, details FROM audit"
        args: list[Any] = []
        if key_id is not None:
            sql += " WHERE key_id = ?"
            args.append(matchable(key_id))
        elif key_name is not None:  # every entry of the keys that had the name (renamed since, too)
            sql += " WHERE key_id IN (SELECT key_id FROM audit WHERE key_name = ?)"
            args.append(matchable(key_name))
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        for at, who, action, kid, kname, details in self._stream(sql, args):
            yield AuditRow(at, who, action, kid, kname, json.loads(details))

    def iter_audit(self) -> Iterator[AuditRow]:
        """The whole audit trail, oldest first (for a copy of the store)."""
        sql = "SELECT at, actor, action, key_id, key_name, details FROM audit ORDER BY id"
        for at, who, action, kid, kname, details in self._stream(sql):
            yield AuditRow(at, who, action, kid, kname, json.loads(details))

    def meta(self, key: str) -> str | None:
        found = self._run("SELECT value FROM meta WHERE key = ?", (key,), True).fetchone()
        return found[0] if found else None

    def counts(self) -> dict[str, int]:
        """Keys by stored state (``disabled`` and ``enabled``); expiry is judged above."""
        found = self._run("SELECT count(*), coalesce(sum(disabled), 0) FROM keys", (), True).fetchone()
        total, disabled = found if found else (0, 0)
        return {"total": int(total), "disabled": int(disabled)}


class BoundReads(Reads):
    """keyctl's reads inside one open transaction (``run`` executes on its connection):
    a consistent view of the store, as a copy reads it."""

    def __init__(self, dialect: Dialect, run: Any) -> None:
        self.dialect = dialect
        self._runner = run

    def _run(self, sql: str, args: tuple | list = (), one: bool = False) -> Any:
        return self._runner(self.dialect.sql(sql), args)


class SQLWriter(BoundReads):
    """The writer of one open transaction, on its connection."""

    def __init__(self, dialect: Dialect, run: Any, actor: str) -> None:
        super().__init__(dialect, run)
        self.actor = actor
        self.delivered = False  # output that depends on this transaction went out

    def _many(self, sql: str, params: list) -> None:
        if params:
            self._runner(self.dialect.sql(sql), params, many=True)

    def row(self, column: str, value: str) -> KeyRow | None:
        return self.by(column, value)

    def insert_keys(self, rows: list[tuple[KeyRow, str]]) -> None:
        columns = ", ".join((*KEY_COLUMNS, "secret_hash"))
        marks = ", ".join("?" for _ in range(len(KEY_COLUMNS) + 1))
        self._many(f"INSERT INTO keys ({columns}) VALUES ({marks})", [_values(r, h) for r, h in rows])

    def update_keys(self, updates: list[tuple[str, dict[str, Any]]]) -> None:
        """Many keys' changes at once: one executemany per set of columns."""
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for key_id, changes in updates:
            values = stored_change(changes)
            columns = tuple(sorted(values))
            groups.setdefault(columns, []).append(tuple(values[c] for c in columns) + (key_id,))
        for columns, params in groups.items():
            sets = ", ".join(f"{c} = ?" for c in columns)
            self._many(f"UPDATE keys SET {sets} WHERE id = ?", params)

    def delete_keys(self, key_ids: list[str]) -> None:
        self._many("DELETE FROM keys WHERE id = ?", [(k,) for k in key_ids])

    def audit_many(self, entries: list[tuple[str, str, str | None, str | None, dict]]) -> None:
        self.insert_audit([AuditRow(at, self.actor, action, kid, kname, details)
                           for at, action, kid, kname, details in entries])

    def insert_audit(self, entries: list[AuditRow]) -> None:
        """Audit entries as they are, their actor included (a copy of another store's)."""
        self._many(
            "INSERT INTO audit (at, actor, action, key_id, key_name, details) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.at, e.actor, e.action, e.key_id, e.key_name, json.dumps(e.details, sort_keys=True))
             for e in entries],
        )

    def set_meta(self, key: str, value: str) -> None:
        self._run(self.dialect.upsert_meta(), (key, value))
