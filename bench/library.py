"""The library's hot path, in this process: ``KeyStore.check`` calls per second on
random keys of a store, beside the floor of the same work done by hand with the
standard library, interleaved (rounds of one, then the other), medians.

The floor (``raw_lookup``) is what a service would write without keyctl: hash the
secret (SHA-256), one indexed SELECT of the key's scopes and state, decode the scopes
and test that the operation's are among them. ``KeyStore.check`` does that and more
(the secret's format, the catalog's revision read in the same query, the key's
state, the verdict with its reason): its target is a share of the floor's rate.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from keyctl import KeyStore

CALLS = 20_000  # per round
OPERATION = "inputs.get"
NEEDS = frozenset({"inputs.get"})  # what inputs.get requires in the clarifai catalog


def raw_lookup(store: Path) -> Callable[[str], bool]:
    """The floor: SHA-256, one indexed SELECT, the subset test."""
    conn = sqlite3.connect(store, check_same_thread=False)
    sql = "SELECT scopes, disabled, expires_at FROM keys WHERE secret_hash = ?"

    def lookup(secret: str) -> bool:
        row = conn.execute(sql, (hashlib.sha256(secret.encode()).hexdigest(),)).fetchone()
        return row is not None and not row[1] and NEEDS <= frozenset(json.loads(row[0]))

    return lookup


def rates(store: "Path | str", runs: int, sides: dict[str, tuple[list[str], Callable[[Any], Callable[[str], object]]]]
          ) -> dict[str, float]:
    """Calls per second of each side, interleaved: ``sides`` maps a name to (the keys
    to draw from, a function of the KeyStore that gives the call to time)."""
    ks = KeyStore(store)
    calls = {name: make(ks) for name, (_, make) in sides.items()}
    results: dict[str, list[float]] = {name: [] for name in sides}

    def one_round(name: str) -> float:
        drawn = random.choices(sides[name][0], k=CALLS)
        call = calls[name]
        start = time.perf_counter()
        for ref in drawn:
            call(ref)
        return CALLS / (time.perf_counter() - start)

    for name in sides:  # warm-up: prepared statements, caches, the verdict memo
        one_round(name)
    for r in range(runs):
        for name in (list(sides) if r % 2 == 0 else list(reversed(sides))):
            results[name].append(one_round(name))
    ks.close()
    return {name: statistics.median(found) for name, found in results.items()}


def check_sides(store: Path, secrets: list[str], names: list[str] | None = None,
                ids: list[str] | None = None) -> dict[str, tuple[list[str], Callable[[Any], Callable[[str], object]]]]:
    """KeyStore.check by secret (and by name and id when given) and the floor."""
    def by(ks: KeyStore) -> Callable[[str], object]:
        return lambda ref: ks.check(ref, OPERATION)

    floor = raw_lookup(store)
    sides = {"secret": (secrets, by), "floor": (secrets, lambda ks: floor)}
    if names:
        sides["name"] = (names, by)
    if ids:
        sides["id"] = (ids, by)
    return sides
