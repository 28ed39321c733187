#!/usr/bin/env python3
"""keyctl's benchmark: start-up and scale, each measurement beside its baseline.

    python bench/run.py              # 15 interleaved runs per measurement
    python bench/run.py --runs 25    # more runs on a noisy machine
    python bench/run.py --python /tmp/venv/bin/python   # the keyctl installed in a venv
    python bench/run.py --no-postgres   # without the PostgreSQL rows (bench/postgres.py)
    python bench/run.py --scale      # and the million-key rows (bench/scale.py; minutes)

Builds what it needs in a temporary folder (a store of 10 keys, a store of 100,000 keys,
a 10,000-key manifest), runs every process measurement and its baseline alternately in
the same run (so both share the machine's noise), and prints one Markdown table on
stdout: measurement, keyctl, baseline, ratio, target, pass/fail (progress goes to
stderr); with --scale a second table follows. Exits 1 when a target is missed.
bench/README.md explains each row.

Process measurements run the installed ``keyctl`` console script and the baseline runs
the same interpreter (this one, or --python's, with the keyctl script beside it). The
library's rows run in this process: run the script with the interpreter whose keyctl
they should measure. Timing assertions never go into the test suite: this script is run
by hand and its tables committed as bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fixtures
import harness as h
import library
import peers
from fixtures import NAME, SMALL
from harness import Pair, Row, expect, log, ratio_row, run

BIG = 100_000
MANIFEST_KEYS = 10_000


def find_keyctl() -> str:
    # The console script beside the interpreter first: `shutil.which` alone may find a
    # version manager's shim (pyenv's is a bash script that adds ~100 ms to every call).
    found = shutil.which("keyctl", path=os.path.dirname(h.PYTHON))
    if not found and h.PYTHON == sys.executable:
        found = shutil.which("keyctl")
    if not found:
        sys.exit("bench: no `keyctl` console script found; run `pip install -e .` first")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement (at least 10 for a table to commit)")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter to measure, with keyctl installed (default: this one)")
    parser.add_argument("--no-postgres", action="store_true",
                        help="leave out the PostgreSQL rows (they start a throwaway server; bench/postgres.py)")
    parser.add_argument("--scale", action="store_true",
                        help="also the million-key rows (bench/scale.py: minutes, and about 2 GB in $TMPDIR)")
    args = parser.parse_args()
    h.PYTHON = os.path.abspath(args.python)
    if args.runs < 10:
        log(f"bench: {args.runs} runs; the committed table needs at least 10")

    keyctl_bin = find_keyctl()
    tmp = Path(tempfile.mkdtemp(prefix="keyctl-bench-"))
    try:
        return bench(keyctl_bin, tmp, args.runs, not args.no_postgres, args.scale)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(kc: str, tmp: Path, runs: int, postgres: bool = True, scale: bool = False) -> int:
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

    def env(db: "Path | str", **extra: str) -> dict[str, str]:
        return {**base_env, "KEYCTL_DB": str(db), **extra}

    log(f"bench: building a {SMALL}-key store, a {BIG:,}-key store and a {MANIFEST_KEYS:,}-key manifest in {tmp}")
    t = time.perf_counter()
    fixtures.build_small(small)
    sample = fixtures.fill(big, BIG)
    fixtures.build_live(live)
    huge_catalog = tmp / "huge.toml"
    fixtures.write_huge_catalog(huge_catalog)
    fixtures.build_huge(huge, huge_catalog)
    fixtures.build_huge(huge_text, huge_catalog, compiled=False)
    manifest = tmp / "team.toml"
    fixtures.write_manifest(manifest, MANIFEST_KEYS)
    schema = tmp / "schema.sql"
    fixtures.write_schema(small, schema)
    baseline_script = tmp / "baseline_apply.py"
    baseline_script.write_text(fixtures.APPLY_BASELINE, encoding="utf-8")
    mini = tmp / "mini.py"
    mini.write_text(fixtures.MINI_APP, encoding="utf-8")
    log(f"bench: built in {time.perf_counter() - t:.1f} s")

    pairs, start_rows = start_up(kc, tmp, small, big, live, huge, huge_text, mini, env, base_env)
    peer = peers.pairs(h, kc, small, tmp, env)
    log(f"bench: start-up and lookups, {runs} interleaved runs each")
    h.run_pairs(list(pairs.values()) + peer, runs)
    rows = [ratio_row(name, pairs[key], limit) for key, name, limit in start_rows]
    rows += [ratio_row(name, pair, None) for name, pair in zip(peers.ROWS, peer)]
    if not peer:
        rows += [Row(name, "n/a (no sqlite-utils beside the interpreter)", "–", "–", "report", "n/a")
                 for name in peers.ROWS]
    rows += list_rows(kc, small, big, runs, env)
    rows += apply_rows(kc, tmp, manifest, schema, baseline_script, runs, env, base_env)
    rows += library_rows(big, sample, runs)

    if postgres:
        from postgres import measure  # bench/postgres.py, beside this script

        rows += measure(h, kc, runs, big, small, sample.secrets, manifest, env)

    print_header(runs)
    h.print_table(rows)
    if scale:
        import scale as scale_rows  # bench/scale.py

        scaled = scale_rows.measure(h, kc, tmp, small, runs, env)
        print()
        print(f"`--scale` (bench/scale.py), in the same run: stores of up to 1,000,000 keys; the slow rows "
              f"(apply, export, list) are medians of {max(3, runs // 5)} runs.")
        print()
        h.print_table(scaled)
        rows += scaled
    return 1 if any(r.verdict == "FAIL" for r in rows) else 0


def start_up(kc: str, tmp: Path, small: Path, big: Path, live: Path, huge: Path, huge_text: Path, mini: Path,
             env, base_env) -> tuple[dict[str, Pair], list[tuple[str, str, float | None]]]:
    """The process pairs of the start-up table (each command checked first to do what
    it is measured doing), and their rows: (pair, measurement, target)."""
    check = [kc, "check", NAME, "inputs.get"]
    check_db_after = [kc, "check", NAME, "inputs.get", "--db", str(small)]
    complete_op = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": f"keyctl check {NAME} inputs.",
                   "COMP_CWORD": "3"}
    complete_key = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check user-0000", "COMP_CWORD": "2"}
    check_live = [kc, "check", NAME, "PostModelOutputs"]
    complete_live = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": f"keyctl check {NAME} ", "COMP_CWORD": "3"}
    check_huge = [kc, "check", NAME, "r00001.write"]
    listing = [kc, "list", "--json"]
    create = [kc, "create", "--scope", "predict"]
    floor = lambda r: run([h.PYTHON, "-c", "import sqlite3"], base_env)  # noqa: E731

    def fresh_create(r: int) -> h.Run:
        copy = tmp / "create.db"
        h.remove_db(copy)
        shutil.copy(small, copy)
        return expect(run(create, env(copy)), (0,), "keyctl create")

    expect(run(check, env(small), capture=True), (3,), "check on the small store", b"redacted")
    expect(run(check, env(big), capture=True), (3,), "check on the big store", b"redacted")
    expect(run(check_db_after, base_env, capture=True), (3,), "check --db after the name", b"redacted")
    expect(run([kc], env(small, **complete_op), capture=True), (0,), "operation completion", b"inputs.get")
    expect(run([kc], env(big, **complete_key), capture=True), (0,), "key-name completion", b"user-0000001")
    expect(run([kc, "--version"], base_env, capture=True), (0,), "--version", b"keyctl")
    expect(run(check_live, env(live), capture=True), (0,), "check on the clarifai-live store", b"PostModelOutputs")
    expect(run([kc], env(live, **complete_live), capture=True), (0,), "endpoint completion", b"PostModelOutputs")
    for db in (huge, huge_text):
        expect(run(check_huge, env(db), capture=True), (0,), f"check on {db.name}", b"allowed")
    expect(run([h.PYTHON, str(mini), "hello", "x"], base_env, capture=True), (0,), "the minimal Typer app", b"hello x")
    expect(run(listing, env(small), capture=True), (0,), "list --json", b"user-000009")
    pairs = {
        "check": Pair("check", lambda r: run(check, env(small)), floor),
        "check_db_after": Pair("check_db_after", lambda r: run(check_db_after, base_env), floor),
        "complete_op": Pair("complete_op", lambda r: run([kc], env(small, **complete_op)), floor),
        "version": Pair("version", lambda r: run([kc, "--version"], base_env), floor),
        "typer": Pair("typer", lambda r: run([h.PYTHON, str(mini), "hello", "x"], base_env), floor),
        "create": Pair("create", fresh_create, floor),
        "list": Pair("list", lambda r: run(listing, env(small)), floor),
        "check_big": Pair("check_big", lambda r: run(check, env(big)), lambda r: run(check, env(small))),
        "check_live": Pair("check_live", lambda r: run(check_live, env(live)), lambda r: run(check, env(small))),
        "complete_live": Pair("complete_live", lambda r: run([kc], env(live, **complete_live)), floor),
        "check_huge": Pair("check_huge", lambda r: run(check_huge, env(huge)), floor),
        "check_huge_text": Pair("check_huge_text", lambda r: run(check_huge, env(huge_text)), floor),
        "complete_key": Pair("complete_key", lambda r: run([kc], env(big, **complete_key)),
                             lambda r: run([kc], env(small, **complete_key))),
    }
    rows = [
        ("check", f"`keyctl check {NAME} inputs.get` ({SMALL} keys) vs `python -c \"import sqlite3\"`", 3.2),
        ("check_db_after", "the same with a global option after the command (`check NAME inputs.get --db PATH`) "
                           "vs the same floor", 3.2),
        ("complete_op", "completion of an operation name (`check NAME inputs.<TAB>`) vs the same floor", 4.5),
        ("version", "`keyctl --version` vs the same floor", 4.0),
        ("create", f"`keyctl create --scope predict` (a copy of the {SMALL}-key store) vs the same floor", 5.0),
        ("list", f"`keyctl list --json` ({SMALL} keys) vs the same floor", 4.5),
        ("typer", "for scale: a minimal two-command Typer app vs the same floor", None),
        ("check_big", f"`check` on {BIG:,} keys vs on {SMALL} keys", 1.10),
        ("complete_key", f"completion of key names by prefix (`user-0000<TAB>`) on {BIG:,} keys vs on {SMALL} keys",
         None),
        ("check_live", f"`check {NAME} PostModelOutputs` on a clarifai-live store vs `check {NAME} inputs.get` "
                       "on a clarifai store", 1.15),
        ("complete_live", f"completion of every endpoint (`check {NAME} <TAB>`, clarifai-live) vs "
                          "`python -c \"import sqlite3\"`", 4.5),
        ("check_huge", f"`check` on a {fixtures.HUGE_SCOPES:,}-scope catalog vs the same floor", 5.0),
        ("check_huge_text", "for scale: the same on a store that keeps only the catalog's text (parsed and validated)",
         None),
    ]
    return pairs, rows


def list_rows(kc: str, small: Path, big: Path, runs: int, env) -> list[Row]:
    log(f"bench: `keyctl list --json` on {BIG:,} keys")
    listing = [kc, "list", "--json"]
    lst = Pair("list", lambda r: run(listing, env(big), first_byte=True),
               lambda r: run(listing, env(small), first_byte=True))
    expect(run(listing, env(big), capture=True), (0,), "list --json", b"user-0099999")
    mem = Pair("memory", lambda r: h.peak_rss(listing, env(big)), lambda r: h.peak_rss(listing, env(small)))
    h.run_pairs([lst, mem], runs, warmup=1)
    ttfb = h.median([r.first_byte or 0.0 for r in lst.k])
    total = h.median([r.seconds for r in lst.k])
    return [h.memory_row(f"`keyctl list --json` on {BIG:,} keys: peak memory vs on {SMALL} keys", mem, limit_mib=100),
            Row(f"`keyctl list --json` on {BIG:,} keys: first byte vs last (streaming)", h.ms(ttfb), h.ms(total),
                f"{ttfb / total:.2f}×", "≤ 0.5×", "pass" if ttfb / total <= 0.5 else "FAIL")]


def apply_rows(kc: str, tmp: Path, manifest: Path, schema: Path, baseline_script: Path, runs: int, env,
               base_env) -> list[Row]:
    log(f"bench: `keyctl apply` of {MANIFEST_KEYS:,} keys against a stdlib script")

    def apply_run(r: int) -> h.Run:
        db = tmp / f"apply-{r}.db"
        result = expect(run([kc, "apply", str(manifest), "--json"], env(db)), (0,), "keyctl apply")
        h.remove_db(db)
        return result

    def baseline_run(r: int) -> h.Run:
        db = tmp / f"baseline-{r}.db"
        result = expect(run([h.PYTHON, str(baseline_script), str(manifest), str(schema), str(db)], base_env), (0,),
                        "the apply baseline")
        h.remove_db(db)
        return result

    check_db = tmp / "apply-check.db"
    expect(run([kc, "apply", str(manifest), "--json"], env(check_db)), (0,), "keyctl apply")
    created = sqlite3.connect(check_db).execute("SELECT count(*) FROM keys").fetchone()[0]
    if created != MANIFEST_KEYS:
        sys.exit(f"bench: keyctl apply created {created} keys, not {MANIFEST_KEYS}")
    pair = Pair("apply", apply_run, baseline_run)
    h.run_pairs([pair], runs, warmup=1)
    return [ratio_row(f"`keyctl apply` of {MANIFEST_KEYS:,} keys vs a stdlib script inserting the same rows",
                      pair, 10.0)]


def library_rows(big: Path, sample: fixtures.Filled, runs: int) -> list[Row]:
    log("bench: KeyStore.check in one process, random keys")
    from keyctl import KeyStore

    with KeyStore(big) as ks:
        assert ks.check(sample.secret, library.OPERATION).outcome.value == "redacted"
    got = library.rates(big, runs, library.check_sides(big, sample.secrets, sample.names, sample.ids))
    rows = [Row(f"`KeyStore.check(secret, operation)` on {BIG:,} keys, random keys, vs the floor (hash + SELECT "
                "+ subset test), in one process", f"{got['secret']:,.0f}/s", f"{got['floor']:,.0f}/s",
                f"{got['secret'] / got['floor']:.2f}×", "≥ 0.7× and ≥ 50,000/s",
                "pass" if got["secret"] >= max(0.7 * got["floor"], 50_000) else "FAIL")]
    for kind in ("name", "id"):
        slower = got["secret"] / got[kind]
        rows.append(Row(f"`KeyStore.check({kind}, operation)` on {BIG:,} keys vs by secret (time per call)",
                        f"{got[kind]:,.0f}/s", f"{got['secret']:,.0f}/s", f"{slower:.2f}×", "≤ 1.3×",
                        "pass" if slower <= 1.3 else "FAIL"))
    return rows


def print_header(runs: int) -> None:
    versions = subprocess.run(
        [h.PYTHON, "-c", "import keyctl, platform, typer; "
                         "print(keyctl.__version__, typer.__version__, platform.python_version())"],
        capture_output=True, text=True).stdout.split()
    kv, tv, pv = versions if len(versions) == 3 else ("?", "?", "?")
    where = "" if h.PYTHON == sys.executable else f" ({h.PYTHON})"
    load = os.getloadavg()
    print(f"keyctl {kv}, Typer {tv}, Python {pv}{where} "
          f"on {platform.system()} {platform.machine()}, {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%d %H:%M')} UTC{time.strftime('%z')}; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; medians of {runs} interleaved runs.")
    print()


if __name__ == "__main__":
    sys.exit(main())
