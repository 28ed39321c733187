"""Where keys live: the storage interface (keyctl/store/base.py) and its backends,
chosen by the form of ``--db`` / ``KEYCTL_DB``: a ``postgresql://`` (or ``postgres://``)
URL is a PostgreSQL database (keyctl/store/postgres.py, imported only then), anything
else a SQLite file (keyctl/store/sqlite.py). The only package that speaks SQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .base import AuditRow, CheckRow, KeyRow, Store, Writer, actor, default_path
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .sqlite import APPLICATION_ID, SQLiteStore

__all__ = ["APPLICATION_ID", "AuditRow", "CheckRow", "KeyRow", "MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore",
           "Store", "Writer", "actor", "default_path", "is_url", "open_store",
           "resolve_location"]


def resolve_location(location: "str | os.PathLike[str] | None") -> str | Path:
    """--db, else KEYCTL_DB, else $XDG_DATA_HOME/keyctl/keyctl.db."""
    if location:
        return location if isinstance(location, Path) else Path(location)
    env = os.environ.get("KEYCTL_DB")
    return Path(env) if env else default_path()


def open_store(location: "str | os.PathLike[str] | None", on_warning: Callable[[str], None] | None = None) -> Store:
    """The store at ``location`` (opened lazily: nothing is touched yet). None means
    ``$KEYCTL_DB``, else the default store; an empty location is refused (an unset
    shell variable must not mean the user's own store)."""
    if isinstance(location, (str, os.PathLike)) and os.fspath(location) in ("", b""):
        from ..errors import UsageError

        raise UsageError("the store's location is empty; give a SQLite path or a postgresql:// URL")
    given = location or os.environ.get("KEYCTL_DB")
    if is_url(given):
        return _postgres(str(given), on_warning)
    return SQLiteStore(resolve_location(location), on_warning=on_warning)


def is_url(location: object) -> bool:
    """True when ``location`` selects the PostgreSQL backend (a str URL, not a path)."""
    return isinstance(location, str) and location.lower().startswith(("postgresql://", "postgres://"))


def _postgres(url: str, on_warning: Callable[[str], None] | None) -> Store:
    try:
        from .postgres import PostgresStore
    except ImportError as exc:
        from ..errors import StoreError
        from .pg_url import hide_password

        raise StoreError(f"the store {hide_password(url)} is a PostgreSQL database, which needs psycopg "
                         f"({exc.msg}); install it with: pip install 'keyctl[postgres]'") from None
    return PostgresStore(url, on_warning=on_warning)
