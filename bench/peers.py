"""A peer side by side: the sqlite-utils command line (installed with keyctl, beside
the interpreter measured) doing what ``keyctl check`` and ``keyctl create`` do to the
store, as a script would without keyctl:

* the look-up: ``sqlite-utils query STORE "SELECT ... FROM keys WHERE name = :name"
  -p name NAME`` against ``keyctl check NAME inputs.get``;
* the insert: ``sqlite-utils insert STORE keys ROW.json`` of one key's row (the id,
  name, scopes, hash, hint and times keyctl writes) into a fresh copy of the 10-key
  store, against ``keyctl create --scope predict`` into another fresh copy.

Reported (no target): sqlite-utils does less (no secret, no audit entry, no verdict),
so a ratio below 1 means keyctl is faster for doing more.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Callable

LOOKUP = "SELECT id, name, scopes, disabled, expires_at FROM keys WHERE name = :name"
ROW = {"id": "key_peerpeerpeerpeer", "name": "peer", "description": None, "scopes": '["predict.call"]',
       "secret_hash": "0" * 64, "hint": "abcd", "created_at": "2026-01-01T00:00:00Z",
       "updated_at": "2026-01-01T00:00:00Z", "disabled": 0, "in_keyring": 0}


def find(python: str) -> str | None:
    found = shutil.which("sqlite-utils", path=os.path.dirname(python))
    return found


def pairs(h: ModuleType, kc: str, small: Path, tmp: Path, env: Callable[..., dict]) -> list:
    """The two Pairs (keyctl first), or [] when there is no sqlite-utils beside the
    interpreter."""
    su = find(h.PYTHON)
    if su is None:
        return []
    row = tmp / "peer-row.json"
    row.write_text(json.dumps(ROW), encoding="utf-8")

    def fresh(tag: str) -> Path:
        copy = tmp / f"peer-{tag}.db"
        h.remove_db(copy)
        shutil.copy(small, copy)
        return copy

    def create(r: int) -> object:
        return h.expect(h.run([kc, "create", "--scope", "predict"], env(fresh("keyctl"))), (0,), "keyctl create")

    def insert(r: int) -> object:
        return h.expect(h.run([su, "insert", str(fresh("su")), "keys", str(row)], env(small)), (0,), "sqlite-utils insert")

    check = [kc, "check", "NAME", "inputs.get"]
    query = [su, "query", str(small), LOOKUP, "-p", "name", "NAME"]
    h.expect(h.run(query, env(small), capture=True), (0,), "sqlite-utils query", b"NAME")
    return [h.Pair("peer_check", lambda r: h.run(check, env(small)), lambda r: h.run(query, env(small))),
            h.Pair("peer_create", create, insert)]


ROWS = ("`keyctl check NAME inputs.get` vs `sqlite-utils query` of the same key (10 keys)",
        "`keyctl create --scope predict` vs `sqlite-utils insert` of one key's row (10 keys)")
