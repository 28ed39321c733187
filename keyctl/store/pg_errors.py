"""How the PostgreSQL backend speaks of what went wrong: psycopg's errors, by their
SQLSTATE (or libpq's words, before there is a session), as keyctl's errors, each one
line that names the store (its password hidden), the problem and what to do."""

from __future__ import annotations

import re
import threading
from typing import Any

from psycopg import errors as pg

from ..errors import KeyctlError, NameTakenError, StoreError
from . import pg_schema, pg_url

LOCK_TIMEOUT_S = 30  # how long a write waits for the lock: as long as SQLite's busy timeout


class PgMessages:
    """The messages half of PostgresStore (keyctl/store/postgres.py)."""

    location: str
    url: str
    schema: str
    params: dict[str, Any]
    _local: threading.local

    def _fail(self, what: str, detail: str = "", advice: str = "") -> StoreError:
        """``the store URL WHAT (DETAIL); ADVICE``, the URL's password hidden."""
        return StoreError(f"the store {self.location} {what}" + (f" ({detail})" if detail else "")
                          + (f"; {advice}" if advice else ""))

    def _as_version(self, found: Any) -> int:
        try:
            return int(found[0])
        except (TypeError, ValueError):
            raise self._fail(f"is not keyctl's: the schema {self.schema} holds a table 'meta' without keyctl's "
                             "schema version; name another schema with ?options=-csearch_path%3DNAME") from None

    def _newer(self, version: int) -> StoreError:
        return self._fail(f"was written by a newer keyctl (schema {version}; this keyctl knows up to "
                          f"{pg_schema.version()}); upgrade keyctl to use it")

    def _text(self, exc: BaseException) -> str:
        """The driver's message on one line, without the password."""
        text = re.sub(r"^(connection failed|connection is bad): ", "", one_line(exc))
        return pg_url.scrub(text, self.url)

    def _role(self) -> str:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn.info.user
        return self.params.get("user") or "you connect as"

    def translate(self, exc: BaseException, doing: str) -> KeyctlError:
        """psycopg's error, by its SQLSTATE (or libpq's words before there is a session),
        as one of keyctl's: one line that names the store, the problem and what to do."""
        text = self._text(exc)
        state = getattr(exc, "sqlstate", None) or ""
        if isinstance(exc, pg.UniqueViolation) and exc.diag.constraint_name == pg_schema.NAME_CONSTRAINT:
            return NameTakenError("the name is taken by another key; choose another name")
        if isinstance(exc, pg.InsufficientPrivilege):
            return self._fail(f"cannot be {doing} by the role {self._role()}", text,
                              "keyctl's roles and their rights: `keyctl roles-sql`")
        if isinstance(exc, pg.LockNotAvailable):
            return self._fail(f"could not be {doing}: another process held it locked for {LOCK_TIMEOUT_S:g} s",
                              text, "try again")
        if isinstance(exc, (pg.SerializationFailure, pg.DeadlockDetected)):
            return self._fail(f"could not be {doing}: another process changed it at the same time", text,
                              "try again")
        if state.startswith("28") or re.search(r"password authentication failed|no password supplied|"
                                               r"authentication failed|role \S+ does not exist", text):
            return self._fail("refused the login", text, "check the user name and its password (~/.pgpass, "
                              "PGPASSWORD or a service file; never in the URL on a command line)")
        if state == "3D000" or re.search(r'database "[^"]*" does not exist', text):
            return self._fail("names a database that does not exist", text,
                              "create it (createdb NAME) or correct the URL")
        if isinstance(exc, pg.OperationalError):
            if doing == "reached":
                return self._fail("cannot be reached", text,
                                  "is the server running, and are the host and port in the URL right?")
            return self._fail(f"could not be {doing}: the connection to the server was lost", text)
        return self._fail(f"could not be {doing}", text)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
