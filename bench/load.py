"""Parallel writers (and readers) against one keyctl store: the load benchmark, and the
worker processes that tests/test_load.py starts.

Run by hand (the full size of issue 8; prints a table and exits 1 on any failure)::

    python bench/load.py                          # 8 processes x 100 keys, fresh store
    python bench/load.py --processes 4 --keys 25 --readers 2

The store does not exist when the writers start: they are released together (a "go"
file) and race to create it, which is the path keyctl.store builds in a temporary file
and links into place. Each worker runs the real command line in-process, one
``keyctl --db DB create ...`` after another (a fresh State, KeyStore and SQLite
connection per command, as a new process would have), so that the load is made of
keyctl commands rather than of Python start-ups.

Worker modes (used by the tests)::

    python bench/load.py writer DB PREFIX COUNT GO_FILE
    python bench/load.py reader DB STOP_FILE GO_FILE

A writer exits 0 when all its creates exit 0. A reader loops ``list --json``, then
``check`` and ``log`` of keys it saw, until STOP_FILE exists (and then makes one last
pass); it prints one line of JSON (passes, keys seen, checks) and exits 1 after the
first problem it sees: a failed command, a key with a missing field, a check of a listed
key that gives no verdict, or a listed key without its create audit entry.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

KEY_FIELDS = {
    "id": str, "name": str, "scopes": list, "status": str, "created_at": str, "hint": str,
    "in_keyring": bool,
}


def _command():
    """keyctl's click command, built once per process."""
    import typer.main

    from keyctl.cli import app

    return typer.main.get_command(app)


def _invoke(cmd, args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cmd.main(args, prog_name="keyctl", standalone_mode=False)
    return int(code or 0), out.getvalue(), err.getvalue()


def _wait_for(path: str) -> None:
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            sys.exit(f"{path} never appeared")
        time.sleep(0.005)


def writer(db: str, prefix: str, count: int, go: str) -> int:
    cmd = _command()  # import everything before the start line: the race is on the store
    _wait_for(go)
    failures = 0
    for i in range(count):
        code, out, err = _invoke(cmd, ["--db", db, "create", "--name", f"{prefix}-{i}",
                                       "--scope", "predict", "--json"])
        # Everything but the once-only note goes through, for the test to read.
        for line in err.splitlines():
            if not line.startswith("note: the secret is shown only this once"):
                sys.stderr.write(line + "\n")
        if code != 0 or not json.loads(out or "{}").get("secret", "").startswith("kc_"):
            failures += 1
            sys.stderr.write(f"create {prefix}-{i} exited {code}\n")
    return 1 if failures else 0


def _problem(key: dict) -> str | None:
    for field, kind in KEY_FIELDS.items():
        if not isinstance(key.get(field), kind):
            return f"field {field!r} missing or not {kind.__name__}"
    if not key["scopes"] or len(key["hint"]) != 4 or key["status"] != "active":
        return "empty scopes, a hint that is not 4 characters, or a status that is not active"
    return None


def reader(db: str, stop: str, go: str) -> int:
    cmd = _command()
    _wait_for(go)
    passes = checks = seen = 0
    last = False
    while True:
        last = os.path.exists(stop)  # read before the pass: the last pass sees every key
        code, out, err = _invoke(cmd, ["--db", db, "list", "--json"])
        if code != 0:
            return _fail(f"list exited {code}: {err.strip()}", passes, checks, seen)
        keys = json.loads(out)
        seen = max(seen, len(keys))
        for key in keys:
            problem = _problem(key)
            if problem:
                return _fail(f"half-written key {key.get('id')}: {problem}", passes, checks, seen)
        sample = keys if last else random.sample(keys, min(3, len(keys)))
        for key in sample:
            for ref in (key["name"], key["id"]):
                code, out, err = _invoke(cmd, ["--db", db, "check", ref, "predict.call", "--json"])
                verdict = json.loads(out) if out else {}
                if code != 0 or verdict.get("outcome") != "allowed":
                    return _fail(f"check {ref} exited {code} with {out.strip()!r} {err.strip()!r}",
                                 passes, checks, seen)
                checks += 1
            code, out, err = _invoke(cmd, ["--db", db, "log", key["id"], "--json"])
            if code != 0 or [e["action"] for e in json.loads(out)] != ["create"]:
                return _fail(f"log {key['id']} exited {code}: {out.strip()!r}", passes, checks, seen)
        passes += 1
        if last:
            print(json.dumps({"passes": passes, "checks": checks, "seen": seen}))
            return 0


def _fail(message: str, passes: int, checks: int, seen: int) -> int:
    sys.stderr.write(f"reader: {message}\n")
    print(json.dumps({"passes": passes, "checks": checks, "seen": seen, "problem": message}))
    return 1


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate()
    return process.returncode, out, err


def run(db: Path, processes: int, keys: int, readers: int = 0) -> dict:
    """Start the writers (and readers) together against ``db``; wait; count. Returns a
    summary; ``ok`` is False when any process failed or the counts are wrong."""
    here = str(Path(__file__).resolve())
    work = Path(tempfile.mkdtemp(prefix="keyctl-load-"))
    go, stop = str(work / "go"), str(work / "stop")
    env = {**os.environ, "NO_COLOR": "1", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    spawn = lambda *a: subprocess.Popen(  # noqa: E731
        [sys.executable, here, *a], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    writers = [spawn("writer", str(db), f"p{p}", str(keys), go) for p in range(processes)]
    readers_ = [spawn("reader", str(db), stop, go) for _ in range(readers)]
    time.sleep(0.5)  # let every process import keyctl; then release them together
    start = time.perf_counter()
    Path(go).touch()
    results = [_finish(w) for w in writers]
    seconds = time.perf_counter() - start
    Path(stop).touch()
    reads = [_finish(r) for r in readers_]
    import sqlite3

    conn = sqlite3.connect(str(db))
    count = conn.execute("SELECT count(*) FROM keys").fetchone()[0]
    creates = conn.execute("SELECT count(*) FROM audit WHERE action = 'create'").fetchone()[0]
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    return {
        "processes": processes, "keys": keys, "readers": readers, "seconds": round(seconds, 2),
        "count": count, "creates": creates, "integrity": integrity,
        "writers": [{"code": c, "stderr": e} for c, _, e in results],
        "reader_results": [{"code": c, "stdout": o, "stderr": e} for c, o, e in reads],
        "ok": (count == creates == processes * keys and integrity == "ok"
               and all(c == 0 for c, _, _ in results) and all(c == 0 for c, _, _ in reads)),
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        _, _, db, prefix, count, go = sys.argv
        return writer(db, prefix, int(count), go)
    if len(sys.argv) > 1 and sys.argv[1] == "reader":
        _, _, db, stop, go = sys.argv
        return reader(db, stop, go)
    parser = argparse.ArgumentParser(description="Parallel keyctl writers against one fresh store.")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--keys", type=int, default=100, help="keys created by each process")
    parser.add_argument("--readers", type=int, default=2, help="reader processes (list/check/log)")
    parser.add_argument("--db", help="the store (must not exist); default: a new temporary folder")
    ns = parser.parse_args()
    db = Path(ns.db) if ns.db else Path(tempfile.mkdtemp(prefix="keyctl-bench-")) / "keyctl.db"
    if db.exists():
        parser.error(f"{db} exists; the benchmark starts from no store")
    r = run(db, ns.processes, ns.keys, ns.readers)
    total = ns.processes * ns.keys
    print("| processes | keys each | readers | keys in store | create events | integrity | seconds | creates/s |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {ns.processes} | {ns.keys} | {ns.readers} | {r['count']} of {total} | {r['creates']} | "
          f"{r['integrity']} | {r['seconds']} | {total / r['seconds']:.0f} |")
    for i, w in enumerate(r["writers"]):
        if w["code"] or w["stderr"].strip():
            print(f"writer {i}: exit {w['code']}: {w['stderr'].strip()}")
    for i, rd in enumerate(r["reader_results"]):
        print(f"reader {i}: exit {rd['code']}: {rd['stdout'].strip()} {rd['stderr'].strip()}")
    print("OK" if r["ok"] else "FAILED")
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
