"""The SQLite backend: one file in WAL mode, the default store.

* Reads and writes go through the standard library's ``sqlite3``; ``sqlite_utils`` is
  imported only to create the schema or migrate it (keyctl/store/migrations.py).
* Every write is one ``BEGIN IMMEDIATE`` transaction: the write lock is taken first,
  so parallel writers queue on the busy timeout, and whatever a change reads inside
  it is the store as it is under the lock.
* Each thread gets its own connection, so one store may be shared by a service's
  threads; their writes queue like other processes' do.
* A new store is built in a temporary file beside its final path and linked into
  place (``os.link`` fails if another process won the race), so no process ever sees
  a half-initialised store, and the file is 0600 from its first byte.
"""

from __future__ import annotations

import errno
import itertools
import os
import sqlite3
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import KeyctlError, StoreError, UsageError
from ..text import printable
from .base import CheckRow, actor
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .sql import CHECK_SQL, EMPTY as _EMPTY, BoundReads, Dialect, Reads, SQLWriter, close_all, matchable, opened

_new_tuple = tuple.__new__
_SERIALS = itertools.count()  # connections opened in this process
APPLICATION_ID = 0x6B63746C  # "kctl": tells a keyctl store from any other SQLite file
BUSY_TIMEOUT_S = 30.0


def _check_path(path: str) -> None:
    """UsageError for a path no file can have: a NUL (sqlite3 would raise ValueError),
    text the file system's encoding cannot hold, a name or a path too long (the OS
    would raise OSError at the first look)."""
    if "\0" in path:
        raise UsageError("the store path contains a NUL character")
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:
        raise UsageError(f"the store path {printable(path, 200)} holds characters no file name here can "
                         "have") from None
    if len(raw) >= 4096 or any(len(part) > 255 for part in raw.split(b"/")):
        raise UsageError(f"the store path {printable(path, 200)} is too long for a file (a name is at most 255 "
                         "bytes, a path 4095)")


class SQLiteStore(Reads):
    """The SQLite store at ``path``."""

    dialect = Dialect()

    def __init__(self, path: str | os.PathLike[str], initial_meta: dict[str, str] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> None:
        _check_path(str(path))
        self.path = Path(path)
        self.location = printable(str(self.path), 200)  # as messages quote it: escaped, cut
        # Written into the meta table when this process creates the store (its catalog).
        self.initial_meta = initial_meta or {}
        # Told once when the store opens as a keyctl store and group or others may read
        # or write it: not before, so that a file keyctl refuses gets one error only.
        self.on_warning = on_warning
        self._warned = False
        self._local = threading.local()
        self._every: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.created = False  # this process made the store

    # -- opening ---------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def _fail(self, what: str, exc: BaseException | None = None) -> StoreError:
        detail = f": {exc}" if exc is not None and str(exc) else ""
        return StoreError(f"the store {self.location} {what}{detail}")

    def _conn(self) -> sqlite3.Connection | None:
        """This thread's connection, or None when the store does not exist yet."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not self.path.exists():
            self._check_folder()
            return None
        conn = self._connect()
        self._local.conn = conn
        self._local.serial = next(_SERIALS)
        opened(self, conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise self._fail("is a directory; give the path of a file with --db or KEYCTL_DB")
        if not self.path.is_file():
            raise self._fail("is not a regular file (a device, a pipe or a socket); give the path of a file "
                             "with --db or KEYCTL_DB")
        conn = self._open(str(self.path))
        try:
            try:
                version = self._identify(conn)
            except sqlite3.OperationalError as exc:
                if not ((exc.sqlite_errorname or "").startswith("SQLITE_CANTOPEN") and self._on_read_only_filesystem()):
                    raise
                # On a read-only filesystem SQLite cannot create the -shm file that WAL
                # mode needs; nobody can write the file there either, so it is read as
                # immutable (writes then fail as read-only).
                conn.close()
                conn = self._open(self._immutable_uri(), uri=True)
                version = self._identify(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if exc.sqlite_errorname == "SQLITE_NOTADB":
                raise self._fail("is not a keyctl store (not a SQLite database)") from None
            raise self.translate(exc, "read") from None
        except KeyctlError:
            conn.close()
            raise
        if version < SCHEMA_VERSION:
            self._migrate(conn)
        if self.on_warning is not None and not self._warned and self.loose_permissions():
            self._warned = True
            self.on_warning(f"the store {self.location} is readable or writable by other users; "
                            f"run `chmod 600 {self.location}`")
        return conn

    def _open(self, target: str, uri: bool = False) -> sqlite3.Connection:
        try:
            return sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, check_same_thread=False, uri=uri,
                                   isolation_level=None)
        except sqlite3.Error as exc:
            raise self._fail("cannot be opened; check the path and its permissions", exc) from None

    def _identify(self, conn: sqlite3.Connection) -> int:
        """The schema version, or a StoreError when it is not a store to use."""
        version, app_id = conn.execute(
            "SELECT user_version, application_id FROM pragma_user_version, pragma_application_id"
        ).fetchone()
        if app_id != APPLICATION_ID:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables or version:
                raise self._fail("is a SQLite database but not a keyctl store; point --db elsewhere")
            # keyctl builds its stores itself, complete, and never adopts a file it did
            # not make (`touch`, `mktemp`).
            raise self._fail("is an empty file, not a keyctl store; remove it (keyctl creates "
                             "the store on the first write) or point --db elsewhere")
        if version > SCHEMA_VERSION:
            raise self._fail(
                f"was written by a newer keyctl (schema {version}; this keyctl knows up to "
                f"{SCHEMA_VERSION}); upgrade keyctl to use it"
            )
        return version

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

    def _target(self) -> Path:
        """Where the store's file is made: through a symbolic link, at its target."""
        if self.path.is_symlink():
            try:
                os.stat(self.path)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise self._fail("is a symbolic link that loops; point --db at a file") from None
            return Path(os.path.realpath(self.path))
        return self.path

    def _check_folder(self) -> None:
        """A store whose folder cannot exist (a file is in the way) is an error, not an
        empty store."""
        for folder in self._target().parents:
            if folder.exists():
                if not folder.is_dir():
                    raise self._fail(f"cannot exist: {printable(str(folder), 200)} is a file, not a folder")
                return

    def translate(self, exc: BaseException, doing: str) -> StoreError:
        """SQLite's error, by its name, in words (with SQLite's own text)."""
        return self._fail(explain(exc, doing), exc)

    def close(self) -> None:
        close_all(self, sqlite3.Error)

    # -- creating and migrating ---------------------------------------------------------
    def _create(self) -> None:
        try:
            self.created = build_store(self._target(), self.initial_meta)
        except OSError as exc:
            raise self._fail("cannot be created; check the folder and its permissions",
                             OSError(exc.strerror or exc)) from None
        except sqlite3.Error as exc:
            raise self._fail("cannot be created", exc) from None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        import sqlite_utils

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

    # -- reading -----------------------------------------------------------------------
    def _run(self, sql: str, args: tuple | list = (), one: bool = False) -> Any:
        conn = self._conn()
        if conn is None:
            return _EMPTY
        try:
            return _Guarded(self, conn.execute(sql, args))
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc, "read") from None

    def check_row(self, column: str, value: str) -> CheckRow | None:
        """Reads.check_row on this thread's connection directly: the hot path of a
        service's KeyStore.check, called for every request."""
        conn = getattr(self._local, "conn", None) or self._conn()
        if conn is None:
            return None
        try:
            found = conn.execute(CHECK_SQL[column], (value if value.isascii() else matchable(value),)).fetchone()
        except KeyError:
            raise ValueError(f"keys are not looked up by {column}") from None
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc, "read") from None
        return None if found is None else _new_tuple(CheckRow, found)  # sql.check_row, inline

    def version(self) -> tuple | None:
        """What changes whenever anything is committed to the store, by this process or
        another (None: no store yet): a plan made while it was the same still holds.
        SQLite's data_version counts the others' commits, total_changes this
        connection's own rows; both are the connection's own, hence its serial."""
        conn = self._conn()
        if conn is None:
            return None
        try:
            (data_version,), = conn.execute("PRAGMA data_version").fetchall()
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc, "read") from None
        return self._local.serial, data_version, conn.total_changes

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def transaction(self, create: bool = True) -> Iterator[SQLWriter]:
        """One immediate transaction: everything inside lands together or not at all.
        ``create``: make the store if it does not exist (else: it must exist)."""
        if getattr(self._local, "writing", False):
            raise KeyctlError("a KeyStore call was made inside another's transaction (from its "
                              "callback); make it after the call returns")
        if not self.path.exists():
            if not create:
                raise self._fail("does not exist")
            self._check_folder()
            self._create()
        conn = self._conn()
        if conn is None:  # made, yet not there: a link that leads nowhere usable
            raise self._fail("could not be created where its path leads; point --db at a file")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.translate(exc, "written") from None

        def run(sql: str, args: Any, many: bool = False) -> Any:
            return conn.executemany(sql, args) if many else conn.execute(sql, args)

        self._local.writing = True
        try:
            yield SQLWriter(self.dialect, run, actor())
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise self.translate(exc, "written") from None
        except BaseException:
            _rollback(conn)
            raise
        finally:
            self._local.writing = False

    @contextmanager
    def snapshot(self) -> Iterator[BoundReads]:
        """Reads that all see the store as of the first of them (one read transaction)."""
        conn = self._conn()
        if conn is not None:
            conn.execute("BEGIN")
        try:
            yield BoundReads(self.dialect, self._run)
        finally:
            if conn is not None:
                _rollback(conn)

    # -- about the store -------------------------------------------------------------------
    def loose_permissions(self) -> bool:
        """True when the store file is readable or writable by group or others."""
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return False
        return stat.S_ISREG(mode) and bool(mode & (stat.S_IRWXG | stat.S_IRWXO))  # not /, not /dev/null

    def describe(self) -> dict[str, Any]:
        """Facts for `keyctl status`: where, what, and what is wrong with it."""
        from .sqlite_status import describe

        return describe(self)


class _Guarded:
    """A cursor whose fetches turn SQLite errors (a damaged page found mid-read) into
    the store's error."""

    def __init__(self, store: SQLiteStore, cursor: sqlite3.Cursor) -> None:
        self._store, self._cursor = store, cursor

    def _call(self, fetch: Callable[[], Any]) -> Any:
        try:
            return fetch()
        except sqlite3.DatabaseError as exc:
            raise self._store.translate(exc, "read") from None

    def fetchone(self) -> Any:
        return self._call(self._cursor.fetchone)

    def fetchall(self) -> list:
        return self._call(self._cursor.fetchall)

    def fetchmany(self, n: int) -> list:
        return self._call(lambda: self._cursor.fetchmany(n))


def explain(exc: BaseException, doing: str) -> str:
    """What a SQLite error means for the store, by the error's name."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return "is damaged; restore it from a backup"
    if name.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text:
        return "is read-only; check its permissions"
    if name.startswith("SQLITE_FULL") or "full" in text:
        return f"could not be {doing}: the disk is full"
    if name.startswith("SQLITE_IOERR"):
        return f"could not be {doing}: disk I/O error (a full disk, or a file size limit?)"
    if name.startswith("SQLITE_CANTOPEN"):
        return "cannot be opened; check it and its folder's permissions (SQLite keeps a -wal and a -shm file beside it)"
    if name.startswith("SQLITE_BUSY") or "locked" in text:
        return f"could not be {doing}: another process held it locked for {BUSY_TIMEOUT_S:g} s; try again"
    return f"could not be {doing}"


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:  # the connection is gone; SQLite rolls back on its own
            pass


def _make_folders(folder: Path) -> None:
    """Every missing folder on the way, 0700 whatever the umask."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)


def build_store(target: Path, initial_meta: dict[str, str]) -> bool:
    """Build a new store in a temporary file beside ``target`` and link it into place;
    False when another process linked its own first (then that one is used)."""
    _make_folders(target.parent)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask
    os.close(fd)
    try:
        import sqlite_utils

        conn = sqlite3.connect(str(tmp), isolation_level=None)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA journal_mode = WAL")
        db = sqlite_utils.Database(conn, execute_plugins=False)
        conn.execute("BEGIN")
        for _, migrate in MIGRATIONS:
            migrate(db)
        meta = dict(initial_meta)
        if "catalog_rev" not in meta:
            from ..catalog.compiled import catalog_rev

            meta["catalog_rev"] = catalog_rev(meta.get("catalog_text", meta.get("catalog", "")))
        conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(meta.items()))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        try:
            os.link(tmp, target)
            return True
        except FileExistsError:
            return False  # another process created it first: use theirs
    finally:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{tmp}{suffix}")
            except OSError:
                pass
