"""The PostgreSQL rows of bench/run.py, against a throwaway server over its unix socket
(the tests' server, tests/pgserver.py: Debian's initdb and pg_ctl, fsync off).

* ``KeyStore.check`` calls per second on random keys of the 100,000-key store, copied into PostgreSQL
  with ``keyctl copy``, against the floor of the same work in one process: hash the
  secret and run one indexed SELECT on a kept psycopg cursor. Target: 10,000/s.
* ``keyctl check NAME inputs.get`` as a process on PostgreSQL against the same on the
  SQLite store of 10 keys (the psycopg import is most of the difference). Reported.
* ``keyctl apply`` of the 10,000-key manifest into a new PostgreSQL schema against the
  same into a new SQLite file. Reported.

Where no server can be started, the rows say why (n/a) and the run goes on.
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
TARGET = 10_000
NAMES = (
    ("`KeyStore.check(secret, operation)` on 100,000 keys in PostgreSQL (unix socket), random keys, vs psycopg "
     "hash + SELECT, in one process", f"≥ {TARGET:,}/s"),
    ("`keyctl check NAME inputs.get` on PostgreSQL vs on SQLite (10 keys)", "report"),
    ("`keyctl apply` of 10,000 keys into PostgreSQL vs into SQLite", "report"),
)


def _server():
    sys.path.insert(0, str(ROOT / "tests"))
    from pgserver import Unavailable, start_server

    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"psycopg is not installed ({exc})") from None
    return start_server()


def library_rate(url: str, secrets: list[str], runs: int) -> tuple[float, float]:
    """KeyStore.check on random keys of the PostgreSQL copy, and the floor of the same
    look-up with psycopg: hash the secret, one indexed SELECT on a kept cursor."""
    import psycopg

    import library

    conn = psycopg.connect(url, autocommit=True)
    cursor = conn.cursor()
    sql = "SELECT id, name, scopes, disabled, expires_at FROM keyctl.keys WHERE secret_hash = %s"

    def floor(ks: object):
        return lambda s: cursor.execute(sql, (hashlib.sha256(s.encode()).hexdigest(),)).fetchone()

    def by_secret(ks: object):
        return lambda s: ks.check(s, library.OPERATION)  # type: ignore[attr-defined]

    try:
        got = library.rates(url, runs, {"secret": (secrets, by_secret), "floor": (secrets, floor)})
    finally:
        conn.close()
    return got["secret"], got["floor"]


def measure(h: ModuleType, kc: str, runs: int, big: Path, small: Path, secrets: list[str], manifest: Path,
            env: Callable[..., dict]) -> list:
    """The rows (``h``: bench/harness.py; ``secrets``: a random sample of the big store's)."""
    try:
        server = _server()
    except Exception as exc:  # Unavailable, or anything that kept a server from starting
        reason = f"n/a ({exc})"[:200]
        return [h.Row(name, reason, "–", "–", target, "n/a") for name, target in NAMES]
    try:
        url = server.url()  # the default schema, keyctl
        h.log("bench: copying the 100,000-key store into PostgreSQL")
        h.expect(h.run([kc, "copy", str(big), url], env(small), capture=True), (0,), "keyctl copy")
        small_url = server.url("small")
        h.expect(h.run([kc, "copy", str(small), small_url], env(small), capture=True), (0,), "keyctl copy")
        check = [kc, "check", "NAME", "inputs.get"]
        h.expect(h.run(check, env(small_url), capture=True), (3,), "check on PostgreSQL", b"redacted")

        def apply_into(target: str) -> Callable[[int], object]:
            def one(r: int) -> object:
                where = server.url(f"a_{uuid.uuid4().hex[:8]}") if target == "pg" else big.parent / f"pg-{r}.db"
                result = h.expect(h.run([kc, "apply", str(manifest), "--json"], env(where)), (0,), "keyctl apply")
                if target != "pg":
                    h.remove_db(where)
                return result
            return one

        pairs = [h.Pair("pg_check", lambda r: h.run(check, env(small_url)), lambda r: h.run(check, env(small))),
                 h.Pair("pg_apply", apply_into("pg"), apply_into("sqlite"))]
        h.log(f"bench: PostgreSQL: `check` and `apply`, {runs} interleaved runs each")
        h.run_pairs(pairs[:1], runs)
        h.run_pairs(pairs[1:], runs, warmup=1)
        h.log("bench: PostgreSQL: KeyStore.check in one process")
        rate, floor = library_rate(url, secrets, runs)
    finally:
        server.remove()
    return [
        h.Row(NAMES[0][0], f"{rate:,.0f}/s", f"{floor:,.0f}/s", f"{rate / floor:.2f}×", NAMES[0][1],
              "pass" if rate >= TARGET else "FAIL"),
        h.ratio_row(NAMES[1][0], pairs[0], None),
        h.ratio_row(NAMES[2][0], pairs[1], None),
    ]
