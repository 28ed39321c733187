#!/usr/bin/env python3
"""keyctl's benchmark: start-up and scale (issue 7), each measurement beside its baseline.

    python bench/run.py              # 15 interleaved runs per measurement
    python bench/run.py --runs 25    # more runs on a noisy machine
    python bench/run.py --python /tmp/venv/bin/python   # the keyctl installed in a venv
    python bench/run.py --no-postgres   # without the PostgreSQL rows (bench/postgres.py)

Builds what it needs in a temporary folder (a store of 10 keys, a store of 100,000 keys,
a 10,000-key manifest), runs every process measurement and its baseline alternately in
the same run (so both share the machine's noise), and prints one Markdown table on
stdout: measurement, keyctl, baseline, ratio, target, pass/fail (progress goes to
stderr). Exits 1 when a target is missed. bench/README.md explains each row.

Process measurements run the installed ``keyctl`` console script and the baseline runs
the same interpreter (this one, or --python's, with the keyctl script beside it). Timing assertions never go into the test suite:
this script is run by hand and its table committed as bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from keyctl import KeyStore, tokens
from keyctl.store.base import encode_scopes

BIG = 100_000
SMALL = 10
MANIFEST_KEYS = 10_000
HUGE_SCOPES = 10_000  # a catalog of this many scopes (issue 15)
NAME = "NAME"  # the key every `check` looks up, in both stores
PYTHON = sys.executable  # the interpreter measured (--python); fixtures are built by this one
SCOPE_SETS = ("inputs.get predict.call", "search", "concepts.get inputs.add inputs.get",
              "models.get models.train", "inputs.get inputs.patch predict.call")

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


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def find_keyctl() -> str:
    # The console script beside the interpreter first: `shutil.which` alone may find a
    # version manager's shim (pyenv's is a bash script that adds ~100 ms to every call).
    found = shutil.which("keyctl", path=os.path.dirname(PYTHON))
    if not found and PYTHON == sys.executable:
        found = shutil.which("keyctl")
    if not found:
        sys.exit("bench: no `keyctl` console script found; run `pip install -e .` first")
    return found


# --- running a process -------------------------------------------------------------------
@dataclass
class Run:
    seconds: float
    code: int
    maxrss_kib: int  # meaningful only from peak_rss()
    first_byte: float | None = None
    out: bytes = b""


def run(argv: list[str], env: dict[str, str], capture: bool = False, first_byte: bool = False) -> Run:
    """One whole process, timed from spawn to exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if capture or first_byte else subprocess.DEVNULL)
    ttfb = None
    out = b""
    if proc.stdout is not None:
        chunk = proc.stdout.read1(65536) if first_byte else b""
        if first_byte:
            ttfb = time.perf_counter() - start
        rest = proc.stdout.read() if capture else _drain(proc.stdout)
        out = chunk + rest if capture else b""
        proc.stdout.close()
    code = proc.wait()
    return Run(time.perf_counter() - start, code, 0, ttfb, out)


# Peak memory needs a small parent: a child forked from this process (which holds the
# 100,000-key build in memory) starts with this process's high-water mark, and the
# kernel keeps it across exec. So the child is started by a bare `python -S` that
# reports its wait4 ru_maxrss.
PEAK_RSS = ("import os, sys; pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ); "
            "_, status, usage = os.wait4(pid, 0); "
            "sys.stderr.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}')")


def peak_rss(argv: list[str], env: dict[str, str]) -> Run:
    """A process's own peak RSS (KiB), measured through the PEAK_RSS launcher."""
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-S", "-c", PEAK_RSS, *argv], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    code, kib = done.stderr.split()[-2:]
    return Run(time.perf_counter() - start, int(code), int(kib))


def _drain(stream) -> bytes:
    while stream.read1(1 << 20):
        pass
    return b""


# --- the fixtures ----------------------------------------------------------------------
def build_small(path: Path) -> None:
    with KeyStore(path) as ks:
        ks.create(scopes=["predict", "inputs.get"], name=NAME)
        for i in range(1, SMALL):
            ks.create(scopes=SCOPE_SETS[i % len(SCOPE_SETS)].split(), name=f"user-{i:06d}")


def build_big(path: Path) -> str:
    """A store created by keyctl (so the schema is keyctl's), then filled with rows
    inserted directly: 100,000 `keyctl create` calls would take hours."""
    with KeyStore(path) as ks:
        secret = ks.create(scopes=["predict", "inputs.get"], name=NAME).secret
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(keys)")]
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def rows():
        for i in range(1, BIG):
            s = tokens.new_secret()
            stamp = (base + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            values = {
                "id": tokens.new_id(), "name": f"user-{i:06d}", "description": None,
                "scopes": encode_scopes(frozenset(SCOPE_SETS[i % len(SCOPE_SETS)].split())),
                "secret_hash": tokens.hash_secret(s),
                "hint": tokens.hint(s), "created_at": stamp, "updated_at": stamp,
                "expires_at": None, "disabled": 0, "in_keyring": 0, "expires_spec": None,
            }
            yield tuple(values.get(c) for c in names)

    # Columns a later migration adds are left to their defaults.
    names = [c for c in columns if c in {"id", "name", "description", "scopes", "secret_hash", "hint",
                                          "created_at", "updated_at", "expires_at", "disabled",
                                          "in_keyring", "expires_spec"}]
    with conn:
        conn.executemany(
            f"INSERT INTO keys ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows()
        )
    count = conn.execute("SELECT count(*) FROM keys").fetchone()[0]
    conn.close()
    assert count == BIG, count
    return secret


def build_live(path: Path) -> None:
    """A store of the generated clarifai-live catalog, keys as in the small store."""
    with KeyStore(path, "clarifai-live") as ks:
        ks.create(scopes=["predict", "apps.get", "concepts.get", "models.get"], name=NAME)
        for i in range(1, SMALL):
            ks.create(scopes=["inputs.get", "apps.get"], name=f"user-{i:06d}")


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


def write_manifest(path: Path) -> None:
    lines = []
    for i in range(MANIFEST_KEYS):
        scopes = ", ".join(f'"{s}"' for s in SCOPE_SETS[i % len(SCOPE_SETS)].split())
        lines.append(f'[keys.team-{i:05d}]\nscopes = [{scopes}]\ndescription = "member {i}"\n')
    path.write_text("\n".join(lines), encoding="utf-8")


def write_schema(store: Path, path: Path) -> None:
    conn = sqlite3.connect(store)
    sql = [row[0] for row in conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'keys' AND sql IS NOT NULL ORDER BY type DESC")]
    conn.close()
    path.write_text(";\n".join(sql) + ";\n", encoding="utf-8")


def has_apply(keyctl_bin: str, env: dict[str, str]) -> bool:
    return run([keyctl_bin, "apply", "--help"], env).code == 0


# --- measurements ------------------------------------------------------------------------
@dataclass
class Pair:
    """A keyctl process and its baseline, run alternately."""

    name: str
    keyctl: Callable[[int], Run]
    baseline: Callable[[int], Run]
    k: list[Run] = field(default_factory=list)
    b: list[Run] = field(default_factory=list)


@dataclass
class Row:
    measurement: str
    keyctl: str
    baseline: str
    ratio: str
    target: str
    verdict: str  # pass | FAIL | report | n/a


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_pairs(pairs: list[Pair], runs: int, warmup: int = 2) -> None:
    """Round-robin over the pairs; inside a pair the order alternates (ABBA), so drift
    in the machine's load falls on both sides alike."""
    for r in range(warmup + runs):
        for pair in pairs:
            first, second = (pair.keyctl, pair.baseline) if r % 2 == 0 else (pair.baseline, pair.keyctl)
            a, b = first(r), second(r)
            if r < warmup:
                continue
            k, base = (a, b) if r % 2 == 0 else (b, a)
            pair.k.append(k)
            pair.b.append(base)
        log(f"  round {r + 1}/{warmup + runs}")


def expect(result: Run, codes: tuple[int, ...], what: str, contains: bytes | None = None) -> Run:
    if result.code not in codes or (contains is not None and contains not in result.out):
        sys.exit(f"bench: {what} exited {result.code} (expected {codes}); output: {result.out[:300]!r}")
    return result


def ratio_row(name: str, pair: Pair, limit: float | None) -> Row:
    k = median([r.seconds for r in pair.k])
    b = median([r.seconds for r in pair.b])
    ratio = k / b
    if limit is None:
        return Row(name, ms(k), ms(b), f"{ratio:.2f}×", "report", "report")
    return Row(name, ms(k), ms(b), f"{ratio:.2f}×", f"≤ {limit:g}×", "pass" if ratio <= limit else "FAIL")


def library_rate(store: "Path | str", secret: str, runs: int, lookup: Callable[[str], object]) -> tuple[float, float]:
    """KeyStore.check calls per second against ``store``, and the floor of the same
    work in one process: hash the secret, ``lookup(hash)`` (one indexed SELECT),
    interleaved."""
    ks = KeyStore(store)
    n = 20_000

    def keyctl_round() -> float:
        start = time.perf_counter()
        for _ in range(n):
            ks.check(secret, "inputs.get")
        return n / (time.perf_counter() - start)

    def floor_round() -> float:
        start = time.perf_counter()
        for _ in range(n):
            lookup(hashlib.sha256(secret.encode()).hexdigest())
        return n / (time.perf_counter() - start)

    assert ks.check(secret, "inputs.get").outcome.value == "redacted"
    keyctl_round(), floor_round()  # warm-up (prepared statements, caches)
    k, b = [], []
    for _ in range(runs):
        k.append(keyctl_round())
        b.append(floor_round())
    ks.close()
    return median(k), median(b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement (at least 10 for a table to commit)")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter to measure, with keyctl installed (default: this one)")
    parser.add_argument("--no-postgres", action="store_true",
                        help="leave out the PostgreSQL rows (they start a throwaway server; bench/postgres.py)")
    args = parser.parse_args()
    global PYTHON
    PYTHON = os.path.abspath(args.python)
    if args.runs < 10:
        log(f"bench: {args.runs} runs; the committed table needs at least 10")

    keyctl_bin = find_keyctl()
    tmp = Path(tempfile.mkdtemp(prefix="keyctl-bench-"))
    try:
        return bench(keyctl_bin, tmp, args.runs, not args.no_postgres)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(kc: str, tmp: Path, runs: int, postgres: bool = True) -> int:
    base_env = dict(os.environ)
    base_env.update({"NO_COLOR": "1", "XDG_DATA_HOME": str(tmp / "xdg"),
                     "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    base_env.pop("KEYCTL_DB", None)
    # Byte-code as an installed keyctl has it: `pip install` compiles every module, but
    # an editable install run with PYTHONDONTWRITEBYTECODE=1 (as on the machines where
    # this was written) compiles keyctl's sources again on every call, ~40 ms that no
    # user pays. The cache goes to the temporary folder, never into the source tree;
    # the warm-up runs fill it, for the baseline's modules too.
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)
    base_env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    small, big = tmp / "small.db", tmp / "big.db"
    live, huge, huge_text = tmp / "live.db", tmp / "huge.db", tmp / "huge-text.db"

    def env(db: Path, **extra: str) -> dict[str, str]:
        return {**base_env, "KEYCTL_DB": str(db), **extra}

    log(f"bench: building a {SMALL}-key store, a {BIG:,}-key store and a {MANIFEST_KEYS:,}-key manifest in {tmp}")
    t = time.perf_counter()
    build_small(small)
    secret = build_big(big)
    build_live(live)
    huge_catalog = tmp / "huge.toml"
    write_huge_catalog(huge_catalog)
    build_huge(huge, huge_catalog)
    build_huge(huge_text, huge_catalog, compiled=False)
    manifest = tmp / "team.toml"
    write_manifest(manifest)
    schema = tmp / "schema.sql"
    write_schema(small, schema)
    baseline_script = tmp / "baseline_apply.py"
    baseline_script.write_text(APPLY_BASELINE, encoding="utf-8")
    log(f"bench: built in {time.perf_counter() - t:.1f} s")

    check = [kc, "check", NAME, "inputs.get"]
    check_db_after = lambda db: [kc, "check", NAME, "inputs.get", "--db", str(db)]  # noqa: E731
    complete_op = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": f"keyctl check {NAME} inputs.",
                   "COMP_CWORD": "3"}
    complete_key = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check user-0000",
                    "COMP_CWORD": "2"}
    check_live = [kc, "check", NAME, "PostModelOutputs"]
    complete_live = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": f"keyctl check {NAME} ", "COMP_CWORD": "3"}
    check_huge = [kc, "check", NAME, "r00001.write"]
    floor = lambda r: run([PYTHON, "-c", "import sqlite3"], base_env)  # noqa: E731
    mini = tmp / "mini.py"
    mini.write_text(MINI_APP, encoding="utf-8")

    # Sanity first: each command does what it is measured doing.
    expect(run(check, env(small), capture=True), (3,), "check on the small store", b"redacted")
    expect(run(check, env(big), capture=True), (3,), "check on the big store", b"redacted")
    expect(run(check_db_after(small), base_env, capture=True), (3,), "check --db after the name", b"redacted")
    expect(run([kc], env(small, **complete_op), capture=True), (0,), "operation completion", b"inputs.get")
    expect(run([kc], env(big, **complete_key), capture=True), (0,), "key-name completion", b"user-000001")
    expect(run([kc, "--version"], base_env, capture=True), (0,), "--version", b"keyctl")
    expect(run(check_live, env(live), capture=True), (0,), "check on the clarifai-live store", b"PostModelOutputs")
    expect(run([kc], env(live, **complete_live), capture=True), (0,), "endpoint completion", b"PostModelOutputs")
    for db in (huge, huge_text):
        expect(run(check_huge, env(db), capture=True), (0,), f"check on {db.name}", b"allowed")
    expect(run([PYTHON, str(mini), "hello", "x"], base_env, capture=True), (0,), "the minimal Typer app", b"hello x")
    apply_ok = has_apply(kc, env(small))

    pairs = {
        "check": Pair("check", lambda r: run(check, env(small)), floor),
        "check_db_after": Pair("check_db_after", lambda r: run(check_db_after(small), base_env), floor),
        "complete_op": Pair("complete_op", lambda r: run([kc], env(small, **complete_op)), floor),
        "version": Pair("version", lambda r: run([kc, "--version"], base_env), floor),
        "typer": Pair("typer", lambda r: run([PYTHON, str(mini), "hello", "x"], base_env), floor),
        "check_big": Pair("check_big", lambda r: run(check, env(big)), lambda r: run(check, env(small))),
        "check_live": Pair("check_live", lambda r: run(check_live, env(live)), lambda r: run(check, env(small))),
        "complete_live": Pair("complete_live", lambda r: run([kc], env(live, **complete_live)), floor),
        "check_huge": Pair("check_huge", lambda r: run(check_huge, env(huge)), floor),
        "check_huge_text": Pair("check_huge_text", lambda r: run(check_huge, env(huge_text)), floor),
        "complete_key": Pair("complete_key", lambda r: run([kc], env(big, **complete_key)),
                             lambda r: run([kc], env(small, **complete_key))),
    }
    log(f"bench: start-up and lookups, {runs} interleaved runs each")
    run_pairs(list(pairs.values()), runs)

    log("bench: `keyctl list --json` on 100,000 keys")
    lst = Pair("list", lambda r: run([kc, "list", "--json"], env(big), first_byte=True),
               lambda r: run([kc, "list", "--json"], env(small), first_byte=True))
    expect(run([kc, "list", "--json"], env(big), capture=True), (0,), "list --json", b"user-099999")
    mem = Pair("memory", lambda r: peak_rss([kc, "list", "--json"], env(big)),
               lambda r: peak_rss([kc, "list", "--json"], env(small)))
    run_pairs([lst, mem], runs, warmup=1)

    apply_pair = None
    if apply_ok:
        log(f"bench: `keyctl apply` of {MANIFEST_KEYS:,} keys against a stdlib script")

        def apply_run(r: int) -> Run:
            db = tmp / f"apply-{r}.db"
            result = run([kc, "apply", str(manifest), "--json"], env(db))
            expect(result, (0,), "keyctl apply")
            _remove_db(db)
            return result

        def baseline_run(r: int) -> Run:
            db = tmp / f"baseline-{r}.db"
            result = run([PYTHON, str(baseline_script), str(manifest), str(schema), str(db)], base_env)
            expect(result, (0,), "the apply baseline")
            _remove_db(db)
            return result

        check_db = tmp / "apply-check.db"
        expect(run([kc, "apply", str(manifest), "--json"], env(check_db)), (0,), "keyctl apply")
        created = sqlite3.connect(check_db).execute("SELECT count(*) FROM keys").fetchone()[0]
        if created != MANIFEST_KEYS:
            sys.exit(f"bench: keyctl apply created {created} keys, not {MANIFEST_KEYS}")
        apply_pair = Pair("apply", apply_run, baseline_run)
        run_pairs([apply_pair], runs, warmup=1)

    log("bench: KeyStore.check in one process")
    conn = sqlite3.connect(big)
    floor_sql = "SELECT id, name, scopes, disabled, expires_at FROM keys WHERE secret_hash = ?"
    rate, floor_rate = library_rate(big, secret, runs, lambda h: conn.execute(floor_sql, (h,)).fetchone())
    conn.close()

    rows = [
        ratio_row(f"`keyctl check {NAME} inputs.get` ({SMALL} keys) vs `python -c \"import sqlite3\"`",
                  pairs["check"], 4.5),
        ratio_row("the same with a global option after the command (`check NAME inputs.get --db PATH`) "
                  "vs the same floor", pairs["check_db_after"], 4.5),
        ratio_row("completion of an operation name (`check NAME inputs.<TAB>`) vs the same floor",
                  pairs["complete_op"], 4.5),
        ratio_row("`keyctl --version` vs the same floor", pairs["version"], 4.0),
        ratio_row("for scale: a minimal two-command Typer app vs the same floor", pairs["typer"], None),
        ratio_row(f"`check` on {BIG:,} keys vs on {SMALL} keys", pairs["check_big"], 1.10),
        ratio_row(f"completion of key names by prefix (`user-0000<TAB>`) on {BIG:,} keys vs on {SMALL} keys",
                  pairs["complete_key"], None),
        ratio_row(f"`check {NAME} PostModelOutputs` on a clarifai-live store vs `check {NAME} inputs.get` "
                  "on a clarifai store", pairs["check_live"], 1.15),
        ratio_row(f"completion of every endpoint (`check {NAME} <TAB>`, clarifai-live) vs `python -c \"import sqlite3\"`",
                  pairs["complete_live"], 4.5),
        ratio_row(f"`check` on a {HUGE_SCOPES:,}-scope catalog vs the same floor", pairs["check_huge"], 5.0),
        ratio_row("for scale: the same on a store that keeps only the catalog's text (parsed and validated)",
                  pairs["check_huge_text"], None),
    ]
    expect(mem.k[0], (0,), "list --json under the memory launcher")
    peak = median([r.maxrss_kib for r in mem.k]) / 1024
    peak_small = median([r.maxrss_kib for r in mem.b]) / 1024
    rows.append(Row(f"`keyctl list --json` on {BIG:,} keys: peak memory vs on {SMALL} keys",
                    f"{peak:.1f} MiB", f"{peak_small:.1f} MiB", f"{peak / peak_small:.2f}×", "< 100 MiB",
                    "pass" if peak < 100 else "FAIL"))
    ttfb = median([r.first_byte or 0.0 for r in lst.k])
    total = median([r.seconds for r in lst.k])
    rows.append(Row(f"`keyctl list --json` on {BIG:,} keys: first byte vs last (streaming)",
                    ms(ttfb), ms(total), f"{ttfb / total:.2f}×", "≤ 0.5×",
                    "pass" if ttfb / total <= 0.5 else "FAIL"))
    if apply_pair is not None:
        rows.append(ratio_row(f"`keyctl apply` of {MANIFEST_KEYS:,} keys vs a stdlib script inserting the same rows",
                              apply_pair, 10.0))
    else:
        rows.append(Row(f"`keyctl apply` of {MANIFEST_KEYS:,} keys vs a stdlib script inserting the same rows",
                        "n/a (apply missing)", "–", "–", "≤ 10×", "n/a"))
    rows.append(Row(f"`KeyStore.check(secret, operation)` on {BIG:,} keys vs stdlib hash + SELECT, in one process",
                    f"{rate:,.0f}/s", f"{floor_rate:,.0f}/s", f"{rate / floor_rate:.2f}×", "≥ 50,000/s",
                    "pass" if rate >= 50_000 else "FAIL"))

    if postgres:
        from postgres import measure  # bench/postgres.py, beside this script

        rows += measure(sys.modules[__name__], kc, runs, big, small, secret, manifest, env)

    print_table(rows, runs, kc)
    return 1 if any(r.verdict == "FAIL" for r in rows) else 0


def _remove_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{db}{suffix}")
        except OSError:
            pass


def print_table(rows: list[Row], runs: int, kc: str) -> None:
    versions = subprocess.run(
        [PYTHON, "-c", "import keyctl, platform, typer; "
                       "print(keyctl.__version__, typer.__version__, platform.python_version())"],
        capture_output=True, text=True).stdout.split()
    kv, tv, pv = versions if len(versions) == 3 else ("?", "?", "?")
    where = "" if PYTHON == sys.executable else f" ({PYTHON})"
    load = os.getloadavg()
    print(f"keyctl {kv}, Typer {tv}, Python {pv}{where} "
          f"on {platform.system()} {platform.machine()}, {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%d %H:%M')} UTC{time.strftime('%z')}; load average at the end "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; medians of {runs} interleaved runs.")
    print()
    print("| measurement | keyctl | baseline | ratio | target | result |")
    print("|---|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r.measurement} | {r.keyctl} | {r.baseline} | {r.ratio} | {r.target} | {r.verdict} |")


if __name__ == "__main__":
    sys.exit(main())
