"""Where keys live: the storage interface (keyctl/store/base.py) and its backend,
chosen by the form of ``--db`` / ``KEYCTL_DB``. The only package that speaks SQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .base import AuditRow, CheckRow, KeyRow, Store, Writer, actor, default_path
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .sqlite import APPLICATION_ID, SQLiteStore

__all__ = ["APPLICATION_ID", "AuditRow", "CheckRow", "KeyRow", "MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore",
           "Store", "Writer", "actor", "default_path", "open_store", "resolve_location"]


def resolve_location(location: "str | os.PathLike[str] | None") -> str | Path:
    """--db, else KEYCTL_DB, else $XDG_DATA_HOME/keyctl/keyctl.db."""
    if location:
        return location if isinstance(location, Path) else Path(location)
    env = os.environ.get("KEYCTL_DB")
    return Path(env) if env else default_path()


def open_store(location: "str | os.PathLike[str] | None", on_warning: Callable[[str], None] | None = None) -> Store:
    """The store at ``location`` (opened lazily: nothing is touched yet)."""
    return SQLiteStore(resolve_location(location), on_warning=on_warning)
