"""The only module that touches SQLite.

Two ways into the same file, on one connection:

* Reads (``check``, ``list``, ``show``, completion) go through the standard library's
  ``sqlite3``. Importing ``sqlite_utils`` costs 60-75 ms, which would more than double
  the start-up of ``keyctl check`` (about 50 ms in all) and of every TAB; these reads
  are a handful of indexed SELECTs that need nothing from it (measured in bench/).
* Writes, the schema and its migrations go through ``sqlite_utils``, imported on the
  first write, inside ``BEGIN IMMEDIATE`` transactions (sqlite-utils nests its own
  writes as savepoints), so that every change and its audit entry land together or
  not at all, and parallel writers queue on the busy timeout instead of failing.

A new store is built in a temporary file beside its final path and linked into place
(``os.link`` fails if another process won the race), so no process ever sees a
half-initialised store, and the file is 0600 from its first byte.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import NameTakenError, StoreError, UsageError

APPLICATION_ID = 0x6B63746C  # "kctl": tells a keyctl store from any other SQLite file
BUSY_TIMEOUT_S = 30.0

_KEY_COLUMNS = (
    "id, name, description, scopes, hint, created_at, updated_at, expires_at, "
    "disabled, in_keyring, expires_spec"
)


@dataclass(frozen=True)
class KeyRow:
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

    def status(self, now_iso: str) -> str:
        """``disabled`` wins over ``expired`` (a disabled key shows as disabled)."""
        if self.disabled:
            return "disabled"
        if self.expires_at is not None and self.expires_at <= now_iso:
            return "expired"
        return "active"


@dataclass(frozen=True)
class AuditRow:
    at: str
    actor: str
    action: str
    key_id: str | None
    details: dict


def _row(values: tuple) -> KeyRow:
    (kid, name, desc, scopes, hint, created, updated, expires, disabled, in_keyring, spec) = values
    return KeyRow(
        kid, name, desc, frozenset(scopes.split()), hint, created, updated, expires,
        bool(disabled), bool(in_keyring), spec,
    )


def scopes_text(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))


# --- migrations: an ordered registry of small functions; user_version counts them ----
def _m001_initial(db: Any) -> None:
    db["keys"].create(
        {
            "id": str, "name": str, "description": str, "scopes": str, "secret_hash": str,
            "hint": str, "created_at": str, "updated_at": str, "expires_at": str, "disabled": int,
        },
        pk="id",
        not_null={"scopes", "secret_hash", "hint", "created_at", "updated_at", "disabled"},
        defaults={"disabled": 0},
    )
    db["keys"].create_index(["name"], unique=True)
    db["keys"].create_index(["secret_hash"], unique=True)
    db["keys"].create_index(["created_at"])
    db["audit"].create(
        {"id": int, "at": str, "actor": str, "action": str, "key_id": str, "details": str},
        pk="id",
        not_null={"at", "actor", "action", "details"},
    )
    db["audit"].create_index(["key_id", "id"])
    db["meta"].create({"key": str, "value": str}, pk="key")


def _m002_in_keyring(db: Any) -> None:
    # Whether the key's secret was put in the OS keyring; kept here so that `list`
    # needs no keyring round-trip per key.
    db["keys"].add_column("in_keyring", int, not_null_default=0)


def _m003_expires_spec(db: Any) -> None:
    # The relative expiry a manifest gave ("90d"): applying the same manifest again
    # must not push the expiry forward, so apply compares the spec, not the time.
    db["keys"].add_column("expires_spec", str)


MIGRATIONS: tuple[tuple[str, Callable[[Any], None]], ...] = (
    ("initial", _m001_initial),
    ("in_keyring", _m002_in_keyring),
    ("expires_spec", _m003_expires_spec),
)
SCHEMA_VERSION = len(MIGRATIONS)


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "keyctl" / "keyctl.db"


def _actor() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no name for this uid (containers): the uid will do
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


class Store:
    """The SQLite store at ``path``. Opening is lazy: nothing touches the disk until
    the first read or write, and reads of a store that does not exist find nothing."""

    def __init__(self, path: str | os.PathLike[str], initial_meta: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._db: Any = None  # sqlite_utils.Database, made on the first write
        # Written into the meta table when this process creates the store (its catalog).
        self.initial_meta = initial_meta or {}
        if "\0" in str(path):  # only an API caller or CliRunner can pass one; sqlite3 would raise ValueError
            raise UsageError("the store path contains a NUL character")
        # Called once, with the path, when the store opens as a keyctl store and is readable
        # or writable by group or others (the CLI warns). Not before: a file keyctl refuses
        # gets its one error line, not a warning about its mode as well.
        self.on_loose_permissions: Callable[[Path], None] | None = None
        self.warned_permissions = False

    # -- opening ---------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def _fail(self, what: str, exc: BaseException | None = None) -> StoreError:
        detail = f": {exc}" if exc is not None and str(exc) else ""
        return StoreError(f"the store {self.path} {what}{detail}")

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if self.path.is_dir():
            raise self._fail("is a directory; give the path of a file with --db or KEYCTL_DB")
        conn = self._open(str(self.path))
        try:
            try:
                version, app_id = self._identify(conn)
            except sqlite3.OperationalError as exc:
                if not ((exc.sqlite_errorname or "").startswith("SQLITE_CANTOPEN") and self._on_read_only_filesystem()):
                    raise
                # A store on a read-only filesystem: SQLite cannot create the -shm file that
                # WAL mode needs beside it. Nobody can write the file there either, so it is
                # read as immutable (writes then fail as read-only).
                conn.close()
                conn = self._open(self._immutable_uri(), uri=True)
                version, app_id = self._identify(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if exc.sqlite_errorname == "SQLITE_NOTADB":
                raise self._fail("is not a keyctl store (not a SQLite database)") from None
            raise self._sqlite_error(exc, "read") from None
        except StoreError:
            conn.close()
            raise
        self._conn = conn
        if version < SCHEMA_VERSION and app_id == APPLICATION_ID:
            self._migrate()
        if self.on_loose_permissions is not None and not self.warned_permissions and self.loose_permissions():
            self.warned_permissions = True
            self.on_loose_permissions(self.path)
        return conn

    def _open(self, target: str, uri: bool = False) -> sqlite3.Connection:
        try:
            return sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, check_same_thread=False, uri=uri)
        except sqlite3.Error as exc:
            raise self._fail("cannot be opened; check the path and its permissions", exc) from None

    def _identify(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """(user_version, application_id), or a StoreError when it is not a store to use."""
        version, app_id = conn.execute(
            "SELECT user_version, application_id FROM pragma_user_version, pragma_application_id"
        ).fetchone()
        if app_id != APPLICATION_ID:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables or version:
                raise self._fail("is a SQLite database but not a keyctl store; point --db elsewhere")
            # An empty file (`touch`, `mktemp`): keyctl builds its stores itself, complete,
            # and never adopts a file it did not make.
            raise self._fail("is an empty file, not a keyctl store; remove it (keyctl creates "
                             "the store on the first write) or point --db elsewhere")
        if version > SCHEMA_VERSION:
            raise self._fail(
                f"was written by a newer keyctl (schema {version}; this keyctl knows up to "
                f"{SCHEMA_VERSION}); upgrade keyctl to use it"
            )
        return version, app_id

    def _on_read_only_filesystem(self) -> bool:
        """True when the store's filesystem is mounted read-only and no WAL content would
        be skipped by reading the file alone."""
        try:
            if not os.statvfs(self.path).f_flag & os.ST_RDONLY:
                return False
            return os.stat(f"{self.path}-wal").st_size == 0
        except FileNotFoundError:
            return True
        except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
            return False

    def _immutable_uri(self) -> str:
        from urllib.parse import quote

        return f"file:{quote(os.path.abspath(self.path))}?immutable=1"

    def _check_folder(self) -> None:
        """A store whose folder cannot exist (a file is in the way) is an error, not an
        empty store."""
        for folder in self.path.parents:
            if folder.exists():
                if not folder.is_dir():
                    raise self._fail(f"cannot exist: {folder} is a file, not a folder")
                return

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """SQLite errors of a read (a damaged file, a failing disk) as a StoreError."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise self._sqlite_error(exc, "read") from None

    def _sqlite_error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        """SQLite's error, by its name, in words (and with SQLite's own text)."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc)
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return self._fail("is damaged; restore it from a backup", exc)
        if name.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text:
            return self._fail("is read-only; check its permissions", exc)
        if name.startswith("SQLITE_FULL") or "full" in text:
            return self._fail(f"could not be {doing}: the disk is full", exc)
        if name.startswith("SQLITE_IOERR"):
            return self._fail(f"could not be {doing}: disk I/O error (a full disk, or a file size limit?)", exc)
        if name.startswith("SQLITE_CANTOPEN"):
            return self._fail("cannot be opened; check it and its folder's permissions "
                              "(SQLite keeps a -wal and a -shm file beside it)", exc)
        return self._fail(f"could not be {doing}", exc)

    def reader(self) -> sqlite3.Connection | None:
        """The connection for reads, or None when the store does not exist yet."""
        if self._conn is None and not self.path.exists():
            self._check_folder()
            return None
        return self._connect()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._db = None

    def _create(self) -> None:
        """Build a new store in a temporary file and link it into place."""
        parent = self.path.parent
        self._check_folder()
        try:
            if not parent.exists():
                os.makedirs(parent, mode=0o700, exist_ok=True)
            tmp = parent / f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)  # whatever the umask
            os.close(fd)
        except OSError as exc:
            raise self._fail("cannot be created; check the folder and its permissions", OSError(exc.strerror or exc)) from None
        try:
            import sqlite_utils

            conn = sqlite3.connect(str(tmp))
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("PRAGMA journal_mode = WAL")
            db = sqlite_utils.Database(conn, execute_plugins=False)
            with db.atomic():
                for _, migrate in MIGRATIONS:
                    migrate(db)
                db["meta"].insert_all(
                    [{"key": k, "value": v} for k, v in self.initial_meta.items()], pk="key"
                )
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass  # another process created it first: use theirs
        except (sqlite3.Error, OSError) as exc:
            raise self._fail("cannot be created", exc) from None
        finally:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(f"{tmp}{suffix}")
                except OSError:
                    pass

    def _database(self) -> Any:
        if self._db is None:
            import sqlite_utils

            if not self.path.exists():
                self._create()
            self._db = sqlite_utils.Database(self._connect(), execute_plugins=False)
        return self._db

    def _migrate(self) -> None:
        import sqlite_utils

        conn = self._conn
        assert conn is not None
        db = sqlite_utils.Database(conn, execute_plugins=False)
        try:
            conn.execute("BEGIN IMMEDIATE")
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # again, under the lock
            for _, migrate in MIGRATIONS[version:]:
                migrate(db)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._fail("could not be upgraded to this keyctl's schema", exc) from None

    # -- writing ---------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator["Writer"]:
        """One immediate transaction: everything inside lands together or not at all."""
        db = self._database()
        conn: sqlite3.Connection = db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._write_error(exc) from None
        try:
            yield Writer(db, _actor())
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK")
            if "keys.name" in str(exc):
                raise NameTakenError("that name is taken by another key; choose another name") from None
            raise self._fail("refused the change", exc) from None
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._write_error(exc) from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _write_error(self, exc: sqlite3.Error) -> StoreError:
        return self._sqlite_error(exc, "written")

    # -- reading ---------------------------------------------------------------------
    def _one(self, where: str, value: str) -> KeyRow | None:
        conn = self.reader()
        if conn is None:
            return None
        with self._reading():
            found = conn.execute(f"SELECT {_KEY_COLUMNS} FROM keys WHERE {where} = ?", (value,)).fetchone()
        return _row(found) if found else None

    def by_id(self, key_id: str) -> KeyRow | None:
        return self._one("id", key_id)

    def by_name(self, name: str) -> KeyRow | None:
        return self._one("name", name)

    def by_hash(self, secret_hash: str) -> KeyRow | None:
        return self._one("secret_hash", secret_hash)

    def scopes_by_hash(self, secret_hash: str) -> tuple[str, str | None, str, int, str | None] | None:
        """The hot path of KeyStore.check: (id, name, scopes, disabled, expires_at)."""
        conn = self._conn if self._conn is not None else self.reader()
        if conn is None:
            return None
        with self._reading():
            return conn.execute(
                "SELECT id, name, scopes, disabled, expires_at FROM keys WHERE secret_hash = ?",
                (secret_hash,),
            ).fetchone()

    def iter_keys(self) -> Iterator[KeyRow]:
        """Every key, oldest first, streamed from the cursor (never all in memory)."""
        conn = self.reader()
        if conn is None:
            return
        # created_at has one-second resolution; the rowid keeps keys made within the same
        # second in the order they were made (the id is random).
        with self._reading():
            cursor = conn.execute(f"SELECT {_KEY_COLUMNS} FROM keys ORDER BY created_at, rowid")
            while True:
                rows = cursor.fetchmany(500)
                if not rows:
                    return
                for values in rows:
                    yield _row(values)

    def names_by_prefix(self, prefix: str, limit: int = 50) -> list[tuple[str, str | None]]:
        """(id, name) of keys whose name or id starts with ``prefix``: for completion.
        Uses the indexes (range scans), never the whole table."""
        conn = self.reader()
        if conn is None:
            return []
        upper = prefix + "\U0010ffff"
        rows = conn.execute(
            "SELECT id, name FROM keys WHERE name >= ? AND name < ? ORDER BY name LIMIT ?",
            (prefix, upper, limit),
        ).fetchall()
        if prefix.startswith("key_") or not rows:
            rows += conn.execute(
                "SELECT id, name FROM keys WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                (prefix, upper, limit),
            ).fetchall()
        return rows[:limit]

    def audit(self, key_id: str | None = None, limit: int | None = None) -> Iterator[AuditRow]:
        conn = self.reader()
        if conn is None:
            return
        sql = "SELECT at, actor, action, key_id, details FROM audit"
        args: list[Any] = []
        if key_id is not None:
            sql += " WHERE key_id = ?"
            args.append(key_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._reading():
            for at, actor, action, kid, details in conn.execute(sql, args):
                yield AuditRow(at, actor, action, kid, json.loads(details))

    def meta(self, key: str) -> str | None:
        conn = self.reader()
        if conn is None:
            return None
        with self._reading():
            found = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return found[0] if found else None

    def count(self) -> int:
        conn = self.reader()
        if conn is None:
            return 0
        with self._reading():
            return conn.execute("SELECT count(*) FROM keys").fetchone()[0]

    def loose_permissions(self) -> bool:
        """True when the store file is readable or writable by group or others."""
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return False
        return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


class Writer:
    """What a transaction may do. Every change writes its audit entry beside it."""

    def __init__(self, db: Any, actor: str) -> None:
        self.db = db
        self.actor = actor

    def insert_key(self, row: KeyRow, secret_hash: str) -> None:
        self.db["keys"].insert(self._values(row) | {"secret_hash": secret_hash})

    def insert_keys(self, rows: list[tuple[KeyRow, str]]) -> None:
        self.db["keys"].insert_all(
            (self._values(row) | {"secret_hash": h} for row, h in rows), batch_size=500
        )

    def update_key(self, key_id: str, **changes: Any) -> None:
        if "scopes" in changes:
            changes["scopes"] = scopes_text(changes["scopes"])
        for flag in ("disabled", "in_keyring"):
            if flag in changes:
                changes[flag] = int(changes[flag])
        self.db["keys"].update(key_id, changes)

    def delete_key(self, key_id: str) -> None:
        self.db["keys"].delete(key_id)

    def update_keys(self, updates: list[tuple[str, dict[str, Any]]]) -> None:
        """Many keys' changes at once (``apply``): one executemany per set of columns.
        sqlite-utils' update reads the row and the schema before each write, which made
        10,000 updates take seconds; the ids here come from rows read in the same
        transaction, and the column names from keyctl's code, never from input."""
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for key_id, changes in updates:
            values = dict(changes)
            if "scopes" in values:
                values["scopes"] = scopes_text(values["scopes"])
            for flag in ("disabled", "in_keyring"):
                if flag in values:
                    values[flag] = int(values[flag])
            columns = tuple(sorted(values))
            groups.setdefault(columns, []).append(tuple(values[c] for c in columns) + (key_id,))
        for columns, params in groups.items():
            sets = ", ".join(f"[{c}] = ?" for c in columns)
            self.db.conn.executemany(f"UPDATE keys SET {sets} WHERE id = ?", params)

    def delete_keys(self, key_ids: list[str]) -> None:
        """Many keys at once (``apply --prune``)."""
        self.db.conn.executemany("DELETE FROM keys WHERE id = ?", [(k,) for k in key_ids])

    def audit(self, at: str, action: str, key_id: str | None, details: dict) -> None:
        self.db["audit"].insert(
            {"at": at, "actor": self.actor, "action": action, "key_id": key_id,
             "details": json.dumps(details, sort_keys=True)}
        )

    def audit_many(self, entries: list[tuple[str, str, str | None, dict]]) -> None:
        self.db["audit"].insert_all(
            ({"at": at, "actor": self.actor, "action": action, "key_id": kid,
              "details": json.dumps(details, sort_keys=True)} for at, action, kid, details in entries),
            batch_size=500,
        )

    def set_meta(self, key: str, value: str) -> None:
        self.db["meta"].upsert({"key": key, "value": value}, pk="key")

    @staticmethod
    def _values(row: KeyRow) -> dict[str, Any]:
        return {
            "id": row.id, "name": row.name, "description": row.description,
            "scopes": scopes_text(row.scopes), "hint": row.hint, "created_at": row.created_at,
            "updated_at": row.updated_at, "expires_at": row.expires_at,
            "disabled": int(row.disabled), "in_keyring": int(row.in_keyring),
            "expires_spec": row.expires_spec,
        }
