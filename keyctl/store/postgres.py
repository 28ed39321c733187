"""The PostgreSQL backend: keyctl's tables in one schema of a shared database, for a
team (several admins; services on other hosts that check keys). Selected by a
``postgresql://`` URL (keyctl/store/__init__.py); this module, and psycopg with it,
is imported only then.

* Reads run on an autocommit connection, one statement each. A database without
  keyctl's tables reads as an empty store, and a read creates nothing. A connection
  the server dropped (a restart) is replaced once, so a long-lived service goes on.
* Every write is one READ COMMITTED transaction that first locks the
  ``schema_version`` row of ``meta`` (``SELECT ... FOR UPDATE``): writers queue on it
  as SQLite's ``BEGIN IMMEDIATE`` makes them queue (for up to LOCK_TIMEOUT_S, in
  keyctl/store/pg_errors.py with the messages), and whatever a change reads after it
  is the store as it is under the lock. A row lock
  and not an advisory lock: PostgreSQL-compatible servers that lack advisory locks
  have row locks.
* The first write creates the schema and tables inside its own transaction, so a
  failed first write leaves nothing; an older schema is upgraded under the lock.
* Each thread gets its own connection, as on SQLite.
* Every table name is qualified with keyctl's schema (keyctl/store/pg_schema.py).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import psycopg
from psycopg import errors as pg
from psycopg.conninfo import conninfo_to_dict

from ..errors import KeyctlError, StoreError, UsageError
from ..text import printable
from . import pg_errors, pg_schema, pg_url
from .pg_errors import PgMessages, one_line
from .base import actor
from ..catalog.compiled import catalog_rev
from .sql import EMPTY as _EMPTY, BoundReads, Dialect, Reads, SQLWriter, close_all, opened

# psycopg logs what it ignores while a lost connection is torn down ("error ignored
# terminating <psycopg.Pipeline [BAD]>"); with no handler configured, Python prints that
# on stderr beside keyctl's own error line. A library adds a NullHandler: an application
# that configures logging still gets the records.
logging.getLogger("psycopg").addHandler(logging.NullHandler())

CONNECT_TIMEOUT_S = 10
_TABLE = re.compile(r"\b(FROM|JOIN|INTO|UPDATE)\s+(keys|meta|audit)\b")
_CREATED_MEANWHILE = (pg.UniqueViolation, pg.DuplicateTable, pg.DuplicateSchema, pg.DuplicateObject)


class PostgresDialect(Dialect):
    """keyctl's SQL for PostgreSQL: ``%s`` placeholders, table names in the schema."""

    placeholder = "%s"

    def __init__(self, schema: str) -> None:
        self.prefix = pg_schema.ident(schema) + "."
        self._done: dict[str, str] = {}

    def sql(self, text: str) -> str:
        done = self._done.get(text)
        if done is None:
            done = _TABLE.sub(lambda m: f"{m.group(1)} {self.prefix}{m.group(2)}", text).replace("?", "%s")
            if len(self._done) < 512:  # the IN (?, ?, ...) lists of a batch vary
                self._done[text] = done
        return done

    def upsert_meta(self) -> str:
        return "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"

    def order_of_insertion(self) -> str:
        return "seq"


OUTCOME_WAIT_S = 5.0  # how long a lost COMMIT waits for the server to say what became of it


class PostgresStore(PgMessages, Reads):
    """The store in the schema of the database that ``url`` names."""

    def __init__(self, url: str, initial_meta: dict[str, str] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.location = pg_url.hide_password(url)
        self.conninfo = pg_url.escaped(url)
        try:
            self.params = conninfo_to_dict(self.conninfo)
        except psycopg.Error as exc:
            raise UsageError(f"{self.location} is not a PostgreSQL URL keyctl can use: "
                             f"{pg_url.scrub(one_line(exc), url)}") from None
        self.schema = pg_url.schema_of(self.params.get("options"))
        if not pg_schema.SCHEMA_NAME.fullmatch(self.schema):
            raise UsageError(f"the schema '{printable(self.schema)}' of {self.location}: keyctl's schema name is "
                             f"{pg_schema.SCHEMA_RULE}")
        self.dialect = PostgresDialect(self.schema)
        self.initial_meta = initial_meta or {}
        self.on_warning = on_warning
        self.created = False  # this process made the store
        self._extra: dict[str, Any] = {"fallback_application_name": "keyctl"}
        if "connect_timeout" not in self.params:
            self._extra["connect_timeout"] = CONNECT_TIMEOUT_S
        self._local = threading.local()
        self._every: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._known = False  # keyctl's tables are there, at this keyctl's version
        self._pid = os.getpid()

    # -- connections ---------------------------------------------------------------------
    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            if self._pid == os.getpid():
                return conn
            # A forked child (a pre-forking server) must not speak on its parent's
            # sockets, nor close them: it forgets them and opens its own.
            self._local, self._every, self._pid = threading.local(), [], os.getpid()
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, **self._extra)
        except psycopg.Error as exc:
            raise self.translate(exc, "reached") from None
        self._local.conn = conn
        opened(self, conn)
        return conn

    def _dropped(self, conn: psycopg.Connection) -> bool:
        """True (and the connection forgotten) when the server dropped it."""
        if not (conn.broken or conn.closed):
            return False
        conn.close()
        self._local.conn = None
        return True

    def _attempt(self, use: Callable[[psycopg.Connection], Any], need_store: bool = True) -> Any:
        """``use(connection)`` for a read; a dropped connection is replaced once."""
        for last in (False, True):
            conn = self._conn()
            try:
                if need_store and not self._ready(conn):
                    return _EMPTY
                return use(conn)
            except psycopg.DataError as exc:
                if "NUL" in str(exc):  # no text stored can hold one: nothing matches
                    return _EMPTY
                raise self.translate(exc, "read") from None
            except psycopg.Error as exc:
                if not last and self._dropped(conn):
                    continue
                raise self.translate(exc, "read") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def version(self) -> None:
        """None: PostgreSQL tells no cheap version of a whole schema, so a plan is
        always made again under the write lock."""
        return None

    def close(self) -> None:
        close_all(self, psycopg.Error)

    # -- the schema ----------------------------------------------------------------------
    def _version(self, conn: psycopg.Connection) -> int | None:
        """The schema version, or None when keyctl's tables are not there."""
        try:
            found = conn.execute(self.dialect.sql("SELECT value FROM meta WHERE key = 'schema_version'")).fetchone()
        except pg.UndefinedTable:
            return None
        return self._as_version(found)

    def _ready(self, conn: psycopg.Connection) -> bool:
        """True when keyctl's tables are there; an older schema is upgraded first."""
        if self._known:
            return True
        version = self._version(conn)
        if version is None:
            return False
        if version > pg_schema.version():
            raise self._newer(version)
        if version < pg_schema.version():
            with self.transaction(create=False):
                pass  # the upgrade happens under the lock, in _begin
        self._known = True
        return True

    def exists(self) -> bool:
        return bool(self._attempt(lambda conn: self._version(conn) is not None, need_store=False))

    def _create(self, conn: psycopg.Connection) -> None:
        """keyctl's schema and tables, inside the open transaction."""
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone() is None:
            # Only when it is missing: CREATE SCHEMA asks for a right on the database even
            # with IF NOT EXISTS, and an owner role may have the schema and not that right.
            conn.execute(f"CREATE SCHEMA {pg_schema.ident(self.schema)}")
        for statement in pg_schema.statements(self.schema):
            conn.execute(statement)
        conn.execute(self.dialect.sql("INSERT INTO meta (key, value) VALUES ('schema_version', ?)"),
                     (str(pg_schema.version()),))

    def _begin(self, create: bool) -> psycopg.Connection:
        """A connection inside a write transaction that holds the lock, on a store at this
        keyctl's schema version (created or upgraded first when needed)."""
        for attempt in range(3):
            conn = self._conn()
            creating = False
            try:
                if not self._known:
                    version = self._version(conn)
                    if version is None and not create:
                        raise self._fail("does not exist")
                    creating = version is None
                conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED; "
                             f"SET LOCAL lock_timeout = '{pg_errors.LOCK_TIMEOUT_S * 1000:.0f}ms'")
                if creating:
                    self._create(conn)
                rows = conn.execute(self.dialect.sql(
                    "SELECT key, value, txid_current() FROM meta "
                    "WHERE key IN ('schema_version', 'catalog_rev') FOR UPDATE")).fetchall()
                held = {key: value for key, value, _ in rows}
                self._local.xid = rows[0][2] if rows else None
                self._upgrade(conn, self._as_version((held.get("schema_version"),)))
                if "catalog_rev" not in held and self.initial_meta:
                    self._write_initial_meta(conn)
                self.created = self.created or creating
                return conn
            except psycopg.Error as exc:
                _rollback(conn)
                if (creating and isinstance(exc, _CREATED_MEANWHILE)) or (attempt == 0 and self._dropped(conn)):
                    continue  # another process created it first, or the server dropped us: again
                raise self.translate(exc, "created" if creating else "written") from None
            except BaseException:
                _rollback(conn)
                raise
        raise self._fail("could not be created: another process was creating it; try again")

    def _upgrade(self, conn: psycopg.Connection, version: int) -> None:
        if version > pg_schema.version():
            raise self._newer(version)
        if version == pg_schema.version():
            return
        try:
            for statement in pg_schema.statements(self.schema, since=version):
                conn.execute(statement)
            conn.execute(self.dialect.sql("UPDATE meta SET value = ? WHERE key = 'schema_version'"),
                         (str(pg_schema.version()),))
        except psycopg.Error as exc:
            raise self._fail(f"could not be upgraded from schema {version} to {pg_schema.version()}",
                             self._text(exc), "the role that owns keyctl's tables upgrades them on its next "
                             "write (`keyctl roles-sql` shows keyctl's roles)") from None

    def _write_initial_meta(self, conn: psycopg.Connection) -> None:
        meta = dict(self.initial_meta)
        meta.setdefault("catalog_rev", catalog_rev(meta.get("catalog_text", meta.get("catalog", ""))))
        with conn.cursor() as cur:
            cur.executemany(self.dialect.sql(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"), list(meta.items()))

    # -- reading -----------------------------------------------------------------------
    def _run(self, sql: str, args: tuple | list = (), one: bool = False) -> Any:
        """``one``: on a cursor this thread keeps (the path of every check: a new cursor
        per call costs more than the query over a local socket)."""
        text = self.dialect.sql(sql)
        if one:
            return self._attempt(lambda conn: self._cursor(conn).execute(text, args))
        return self._attempt(lambda conn: conn.execute(text, args))

    def _cursor(self, conn: psycopg.Connection) -> psycopg.Cursor:
        kept = getattr(self._local, "cursor", None)
        if kept is None or kept[0] is not conn:
            kept = self._local.cursor = (conn, conn.cursor())
        return kept[1]

    @contextmanager
    def snapshot(self) -> Iterator[BoundReads]:
        """Reads that all see the store as of one moment (a REPEATABLE READ transaction)."""
        if self._attempt(lambda conn: True) is not True:
            yield BoundReads(self.dialect, lambda sql, args: _EMPTY)
            return
        conn = self._conn()

        def run(sql: str, args: Any) -> Any:
            try:
                return conn.execute(sql, args)
            except psycopg.Error as exc:
                raise self.translate(exc, "read") from None

        run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ())
        try:
            yield BoundReads(self.dialect, run)
        finally:
            _rollback(conn)

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def transaction(self, create: bool = True) -> Iterator[SQLWriter]:
        """One transaction under the write lock: everything inside lands together or not
        at all. ``create``: make the store if it does not exist (else: it must exist)."""
        if getattr(self._local, "writing", False):
            raise KeyctlError("a KeyStore call was made inside another's transaction (from its "
                              "callback); make it after the call returns")
        conn = self._begin(create)

        def run(sql: str, args: Any, many: bool = False) -> Any:
            if many:
                cursor = conn.cursor()
                cursor.executemany(sql, args)
                return cursor
            return conn.execute(sql, args)

        writer = SQLWriter(self.dialect, run, actor())
        self._local.writing = True
        committing = False
        try:
            yield writer
            committing = True
            conn.execute("COMMIT")
            self._known = True
        except psycopg.Error as exc:
            _rollback(conn)
            if not self._dropped(conn):
                raise self.translate(exc, "written") from None
            outcome = self._outcome(self._local.xid) if committing else "aborted"
            if outcome == "committed":
                return  # the answer to COMMIT was lost, not the change
            if outcome != "aborted":
                raise KeyctlError(f"the store {self.location} lost its connection to the server while the change "
                                  "was being committed, and whether it was made is not known; see `keyctl log`"
                                  ) from None
            error = self.translate(exc, "written")
            if not writer.delivered:  # else KeyStore says what the delivered output is worth
                error.message += "; nothing was changed"
            raise error from None
        except BaseException:
            _rollback(conn)
            raise
        finally:
            self._local.writing = False

    def _outcome(self, xid: int | None) -> str | None:
        """What became of a transaction whose COMMIT went unanswered: asked on a new
        connection ('committed', 'aborted'), or None when nobody can tell. A server
        that is restarting is given a few seconds to come back and say."""
        if xid is None:
            return None
        import time

        deadline = time.monotonic() + OUTCOME_WAIT_S
        while True:
            try:
                with psycopg.connect(self.conninfo, autocommit=True, **self._extra) as conn:
                    found = conn.execute("SELECT txid_status(%s)", (xid,)).fetchone()
                return found[0] if found else None
            except psycopg.errors.InvalidParameterValue:
                # "transaction ID ... is in the future": the server restarted without ever
                # recording it, so it cannot have committed.
                return "aborted"
            except psycopg.Error:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.2)

    # -- about the store ---------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Facts for `keyctl status`, with the URL's password hidden; a store that cannot
        be used (a server not reached, a login refused) is reported (``problem``)."""
        info: dict[str, Any] = {"backend": "postgresql", "location": self.location, "exists": False,
                                "schema_version": None, "mode": None, "warnings": [], "schema": self.schema}
        try:
            version, conn = self._attempt(self._version, need_store=False), self._conn()
        except StoreError as exc:
            version, conn, info["problem"] = None, None, exc.message
        info.update(exists=version is not None, schema_version=version, warnings=_warnings(self.url, conn))
        return info


def _warnings(url: str, conn: "psycopg.Connection | None") -> list[str]:
    """What `keyctl status` warns of a PostgreSQL store: a password in its URL, a
    connection to another host that is not encrypted."""
    found = []
    if pg_url.has_password(url):
        found.append("the URL holds a password, which shows in `ps` and shell history; keep it "
                     "in ~/.pgpass or PGPASSWORD instead")
    host = conn.info.host if conn is not None else "/"
    if not host.startswith("/") and host not in ("localhost", "127.0.0.1", "::1") and not conn.pgconn.ssl_in_use:
        found.append(f"the connection to {host} is not encrypted; add sslmode=verify-full (or require) to the URL")
    return found


def _rollback(conn: psycopg.Connection) -> None:
    if conn.closed or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:  # the connection is gone; the server rolls back on its own
        pass
