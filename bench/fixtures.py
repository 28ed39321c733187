"""What bench/run.py measures on: stores of 10 to 1,000,000 keys, catalogs, manifests.

A big store is created by keyctl (so the schema is keyctl's, at its version), then
filled with rows inserted directly with sqlite3, ids, secrets and hashes from
``keyctl.tokens``; no audit rows. A million ``keyctl create`` calls would take days.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, NamedTuple

from keyctl import KeyStore, tokens
from keyctl.store.base import encode_scopes

SMALL = 10
NAME = "NAME"  # the key every `check` looks up, in every store
SCOPE_SETS = ("inputs.get predict.call", "search", "concepts.get inputs.add inputs.get",
              "models.get models.train", "inputs.get inputs.patch predict.call")
SAMPLE = 20_000  # secrets, names and ids kept of a big store, for the library's random look-ups


class Filled(NamedTuple):
    """A store's NAME secret, and a random sample of its keys' secrets, names and ids."""

    secret: str
    secrets: list[str]
    names: list[str]
    ids: list[str]


def build_small(path: Path) -> str:
    with KeyStore(path) as ks:
        secret = ks.create(scopes=["predict", "inputs.get"], name=NAME).secret
        for i in range(1, SMALL):
            ks.create(scopes=SCOPE_SETS[i % len(SCOPE_SETS)].split(), name=f"user-{i:06d}")
    return secret


def fill(path: Path, keys: int, prefix: str = "user") -> Filled:
    """A store of ``keys`` keys: NAME made by keyctl, the rest inserted directly
    (``prefix``-NNNNNNN names, the scope sets in turn), with a sample kept."""
    with KeyStore(path) as ks:
        secret = ks.create(scopes=["predict", "inputs.get"], name=NAME).secret
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(keys)")]
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    scopes = [encode_scopes(frozenset(s.split())) for s in SCOPE_SETS]
    chosen = set(random.sample(range(1, keys), min(SAMPLE, keys - 1)))
    sample = Filled(secret, [], [], [])
    known = {"id", "name", "description", "scopes", "secret_hash", "hint", "created_at", "updated_at",
             "expires_at", "disabled", "in_keyring", "expires_spec"}
    names = [c for c in columns if c in known]  # columns a later migration adds keep their defaults

    def rows() -> Iterator[tuple]:
        for i in range(1, keys):
            s, kid, name = tokens.new_secret(), tokens.new_id(), f"{prefix}-{i:07d}"
            stamp = (base + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            values = {"id": kid, "name": name, "scopes": scopes[i % len(scopes)],
                      "secret_hash": tokens.hash_secret(s), "hint": tokens.hint(s), "created_at": stamp,
                      "updated_at": stamp, "disabled": 0, "in_keyring": 0}
            if i in chosen:
                sample.secrets.append(s)
                sample.names.append(name)
                sample.ids.append(kid)
            yield tuple(values.get(c) for c in names)

    with conn:
        conn.executemany(f"INSERT INTO keys ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows())
    count = conn.execute("SELECT count(*) FROM keys").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert count == keys, count
    for values in (sample.secrets, sample.names, sample.ids):
        random.shuffle(values)
    return sample


def build_live(path: Path) -> None:
    """A store of the generated clarifai-live catalog, keys as in the small store."""
    with KeyStore(path, "clarifai-live") as ks:
        ks.create(scopes=["predict", "apps.get", "concepts.get", "models.get"], name=NAME)
        for i in range(1, SMALL):
            ks.create(scopes=["inputs.get", "apps.get"], name=f"user-{i:06d}")


HUGE_SCOPES = 10_000  # a catalog of this many scopes (issue 15)


def write_huge_catalog(path: Path) -> None:
    """HUGE_SCOPES scopes: a read and a write (which requires the read) per resource,
    each pair a group."""
    pairs = range(HUGE_SCOPES // 2)
    lines = ['name = "huge"', 'description = "a catalog of many scopes"', "", "[groups]"]
    lines += [f'r{i:05d} = ["r{i:05d}.read", "r{i:05d}.write"]' for i in pairs]
    for i in pairs:
        lines += ["", "[[scopes]]", f'id = "r{i:05d}.read"', f'description = "Read resource {i}."',
                  "", "[[scopes]]", f'id = "r{i:05d}.write"', f'description = "Write resource {i}."',
                  f'requires = ["r{i:05d}.read"]']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_huge(path: Path, catalog: Path, compiled: bool = True) -> None:
    """A store of the huge catalog; without ``compiled``, as a keyctl that kept only
    the catalog's text left it (parsed and validated on every command)."""
    with KeyStore(path, str(catalog)) as ks:
        ks.create(scopes=["r00001.write"], name=NAME)
        for i in range(1, SMALL):
            ks.create(scopes=[f"r{i:05d}.read"], name=f"user-{i:06d}")
    if not compiled:
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("DELETE FROM meta WHERE key = 'catalog_compiled'")
        conn.close()


def write_manifest(path: Path, keys: int, prefix: str = "team") -> None:
    with open(path, "w", encoding="utf-8") as out:
        for i in range(keys):
            scopes = ", ".join(f'"{s}"' for s in SCOPE_SETS[i % len(SCOPE_SETS)].split())
            out.write(f'[keys.{prefix}-{i:06d}]\nscopes = [{scopes}]\ndescription = "member {i}"\n\n')


def write_schema(store: Path, path: Path) -> None:
    conn = sqlite3.connect(store)
    sql = [row[0] for row in conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'keys' AND sql IS NOT NULL ORDER BY type DESC")]
    conn.close()
    path.write_text(";\n".join(sql) + ";\n", encoding="utf-8")


# The baseline of `keyctl apply`: the least a script can do to store the same keys.
# Reads the manifest with tomllib, makes a secret and its SHA-256 per key, and inserts
# the rows into a table of keyctl's schema in one transaction.
APPLY_BASELINE = r'''
import hashlib, json, secrets, sqlite3, sys, tomllib
manifest, schema, db = sys.argv[1:4]
with open(manifest, "rb") as f:
    keys = tomllib.load(f)["keys"]
conn = sqlite3.connect(db)
conn.executescript(open(schema).read())
now = "2026-01-01T00:00:00Z"
rows = []
for name, spec in keys.items():
    secret = "kc_" + secrets.token_hex(18)
    rows.append(("key_" + secrets.token_hex(8), name, spec.get("description"),
                 json.dumps(sorted(spec["scopes"]), separators=(",", ":")), hashlib.sha256(secret.encode()).hexdigest(),
                 secret[-4:], now, now))
with conn:
    conn.executemany("INSERT INTO keys (id, name, description, scopes, secret_hash, hint, "
                     "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
'''

# The Typer floor, for scale: what any two-command Typer app pays at start.
MINI_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str) -> None:
    print(f"hello {name}")


@app.command()
def bye(name: str) -> None:
    print(f"bye {name}")


app()
'''
