"""Parallel writers and readers against one store, as real processes.

Writers race to create a store that does not exist yet, then create their keys; readers
run `list --json`, `check` and `log` in a loop meanwhile. The worker processes are
bench/load.py's (each runs keyctl's command line in-process, one command after another,
with a fresh connection per command). The full size of issue 8 (8 x 100) is marked
slow: `python -m pytest -m slow tests/test_load.py` or `python bench/load.py`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOAD = str(ROOT / "bench" / "load.py")


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, LOAD, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(ROOT))


def _finish(p: subprocess.Popen) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=600)
    return p.returncode, out, err


def _load(tmp_path: Path, processes: int, keys: int, readers: int) -> None:
    db = tmp_path / "store" / "keyctl.db"  # neither the folder nor the file exists yet
    go, stop = str(tmp_path / "go"), str(tmp_path / "stop")
    writers = [_spawn("writer", str(db), f"p{p}", str(keys), go) for p in range(processes)]
    reading = [_spawn("reader", str(db), stop, go) for _ in range(readers)]
    time.sleep(0.3)  # not a measurement: lets the workers import keyctl before the start line
    Path(go).touch()
    wrote = [_finish(w) for w in writers]
    Path(stop).touch()
    read = [_finish(r) for r in reading]

    for code, _, err in wrote:
        assert code == 0, err
        assert "database is locked" not in err and "error:" not in err and "Traceback" not in err, err
    for code, out, err in read:
        assert code == 0, (out, err)
        assert "Traceback" not in err, err
        summary = json.loads(out)
        # The last pass starts after every writer exited: it saw every key and checked each.
        assert summary["seen"] == processes * keys
        assert summary["checks"] >= 2 * processes * keys

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    names = {n for (n,) in conn.execute("SELECT name FROM keys")}
    assert names == {f"p{p}-{i}" for p in range(processes) for i in range(keys)}
    creates = conn.execute(
        "SELECT count(*), count(DISTINCT key_id) FROM audit WHERE action = 'create'").fetchone()
    assert creates == (processes * keys, processes * keys)
    orphans = conn.execute(
        "SELECT count(*) FROM keys WHERE id NOT IN (SELECT key_id FROM audit WHERE action = 'create')"
    ).fetchone()[0]
    assert orphans == 0
    conn.close()
    # No temporary store was left behind by the processes that lost the race to create it.
    assert sorted(p.name for p in db.parent.iterdir() if p.name.endswith(".tmp")) == []


def test_parallel_writers_race_to_create_the_store_and_lose_nothing(tmp_path: Path) -> None:
    _load(tmp_path, processes=4, keys=25, readers=0)


def test_readers_during_writes_never_fail_and_never_see_a_half_written_key(tmp_path: Path) -> None:
    _load(tmp_path, processes=3, keys=15, readers=2)


def test_real_processes_read_while_keys_are_created(tmp_path: Path, sh) -> None:
    """`python -m keyctl check` and `list --json` as separate processes during writes."""
    db = tmp_path / "keyctl.db"
    first = sh("--db", str(db), "create", "--name", "first", "--scope", "predict")
    assert first.code == 0, first
    go = str(tmp_path / "go")
    writers = [_spawn("writer", str(db), f"w{p}", "40", go) for p in range(2)]
    time.sleep(0.3)
    Path(go).touch()
    rounds = 0
    while rounds < 4 or any(w.poll() is None for w in writers):
        listed = sh("--db", str(db), "list", "--json")
        assert listed.code == 0 and "Traceback" not in listed.stderr, listed
        assert all(k["scopes"] and len(k["hint"]) == 4 for k in listed.json)
        checked = sh("--db", str(db), "check", "first", "predict.call", "--json")
        assert checked.code == 0 and checked.json["outcome"] == "allowed", checked
        rounds += 1
        if rounds > 200:
            break
    for w in writers:
        code, _, err = _finish(w)
        assert code == 0, err
    assert len(sh("--db", str(db), "list", "--json").json) == 81


@pytest.mark.slow
def test_full_size_load_eight_processes_of_a_hundred_keys(tmp_path: Path) -> None:
    """Issue 8's full size. Run with: python -m pytest -m slow tests/test_load.py"""
    _load(tmp_path, processes=8, keys=100, readers=2)


def test_bench_script_reports_ok(tmp_path: Path) -> None:
    """The documented command works (at a small size) and checks what it reports."""
    p = subprocess.run([sys.executable, LOAD, "--processes", "2", "--keys", "5", "--readers", "1",
                        "--db", str(tmp_path / "b.db")], capture_output=True, text=True, cwd=str(ROOT),
                       env={**os.environ}, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "| 2 | 5 | 1 | 10 of 10 | 10 | ok |" in p.stdout
    assert p.stdout.rstrip().endswith("OK")
