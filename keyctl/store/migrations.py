"""The SQLite store's schema: an ordered registry of small migrations, counted by
SQLite's ``user_version`` (as llm keeps its own). Each runs once, in order, inside
the write lock, with a ``sqlite_utils.Database`` (imported only when a store is
created or migrated).
"""

from __future__ import annotations

import json
from typing import Any, Callable


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


def _m004_scopes_json_audit_names_catalog_rev(db: Any) -> None:
    # Scopes as a JSON array: a space-separated list let an id holding white space
    # pass for two scopes.
    conn = db.conn
    rows = conn.execute("SELECT id, scopes FROM keys").fetchall()
    conn.executemany("UPDATE keys SET scopes = ? WHERE id = ?",
                     [(json.dumps(sorted(s.split()), separators=(",", ":")), kid) for kid, s in rows])
    # The key's name at the time of each entry: the trail of a deleted or renamed key
    # is found by the name it had.
    db["audit"].add_column("key_name", str)
    conn.execute("UPDATE audit SET key_name = (SELECT name FROM keys WHERE keys.id = audit.key_id)")
    for entry_id, details in conn.execute(
            "SELECT id, details FROM audit WHERE key_name IS NULL AND key_id IS NOT NULL").fetchall():
        name = json.loads(details).get("name")
        if isinstance(name, str):
            conn.execute("UPDATE audit SET key_name = ? WHERE id = ?", (name, entry_id))
    db["audit"].create_index(["key_name", "id"])
    # A revision of the catalog, read with every check: a long-lived KeyStore notices
    # a catalog replaced by another process.
    text = conn.execute("SELECT value FROM meta WHERE key = 'catalog_text'").fetchone()
    name = conn.execute("SELECT value FROM meta WHERE key = 'catalog'").fetchone()
    from ..catalog.compiled import catalog_rev

    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('catalog_rev', ?)",
                 (catalog_rev(text[0] if text else (name[0] if name else "clarifai")),))


def _m005_lower_name_index(db: Any) -> None:
    # `apply` warns about a manifest name that differs from a stored one only by case:
    # an index on the folded name finds them without reading every key.
    db.execute("CREATE INDEX idx_keys_lower_name ON keys (lower(name))")


MIGRATIONS: tuple[tuple[str, Callable[[Any], None]], ...] = (
    ("initial", _m001_initial),
    ("in_keyring", _m002_in_keyring),
    ("expires_spec", _m003_expires_spec),
    ("scopes_json_audit_names_catalog_rev", _m004_scopes_json_audit_names_catalog_rev),
    ("lower_name_index", _m005_lower_name_index),
)
SCHEMA_VERSION = len(MIGRATIONS)
