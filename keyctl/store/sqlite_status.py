"""`keyctl status` on a SQLite store (SQLiteStore.describe): where it is, what it is,
and what is wrong with it, as facts; imported by `status` alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import KeyctlError

if TYPE_CHECKING:  # pragma: no cover
    from .sqlite import SQLiteStore


def describe(store: "SQLiteStore") -> dict[str, Any]:
    """Facts for `keyctl status`: where, what, and what is wrong with it."""
    info: dict[str, Any] = {"backend": "sqlite", "location": str(store.path), "exists": store.exists(),
                            "schema_version": None, "mode": None, "warnings": []}
    try:
        info["mode"] = f"{stat.S_IMODE(store.path.stat().st_mode):04o}"
    except OSError:
        pass
    if store.loose_permissions():
        info["warnings"].append(f"the store {store.path} is readable or writable by other users; "
                                f"run `chmod 600 {store.path}`")
    folder = store._target().parent
    try:
        mode = folder.stat().st_mode
        # In a sticky folder (/tmp) others may add files but not replace ours.
        if mode & (stat.S_IWGRP | stat.S_IWOTH) and not mode & stat.S_ISVTX:
            info["warnings"].append(f"the folder {folder} is writable by other users, who could replace "
                                    f"the store; run `chmod go-w {folder}`")
    except OSError:
        pass
    try:
        conn = store._conn()
        if conn is not None:
            info["schema_version"] = conn.execute("PRAGMA user_version").fetchone()[0]
    except KeyctlError as exc:
        info["problem"] = exc.message  # why it cannot be used
        return info
    if conn is None and not os.access(_nearest_folder(store), os.W_OK):
        info["problem"] = f"the store {store.path} cannot be created: {_nearest_folder(store)} is not writable"
    elif conn is not None and not os.access(store.path, os.W_OK):
        info["warnings"].append(f"the store {store.path} is read-only: reads work, changes fail")
    return info


def _nearest_folder(store: "SQLiteStore") -> Path:
    return next((f for f in store._target().parents if f.exists()), Path("/"))
