"""Faults: a process killed in the middle of a batch, and stores that cannot be used
(not SQLite, not keyctl's, newer, damaged, read-only, a directory, a folder that cannot
exist, a full disk). A store that cannot be used gives one `error:` line and exit 1, and
is left exactly as it was; a store that can be read but not written still answers reads.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
from conftest import snapshot

from keyctl import KeyStore, tokens
from keyctl.store import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
LOAD = str(ROOT / "bench" / "load.py")


# --- helpers ------------------------------------------------------------------------------
def _store(path: Path, names: tuple[str, ...] = ("alpha", "beta")) -> Path:
    with KeyStore(path) as ks:
        for name in names:
            ks.create(scopes=["predict"], name=name)
    return path




def _one_error(r) -> str:
    assert r.code == 1, r
    assert "Traceback" not in r.stderr + r.stdout, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r
    assert r.stdout == "", r
    return lines[0]


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


# --- stores that cannot be used at all ------------------------------------------------------
def _not_sqlite(d: Path) -> Path:
    p = d / "keyctl.db"
    p.write_bytes(b"name,secret\nci-bot,not-a-database\n" * 200)
    return p


def _other_sqlite(d: Path) -> Path:
    p = d / "keyctl.db"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()
    return p


def _newer(d: Path) -> Path:
    p = _store(d / "keyctl.db")
    conn = sqlite3.connect(p)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    return p


def _damaged(d: Path) -> Path:
    p = _store(d / "keyctl.db", names=tuple(f"k{i}" for i in range(40)))
    data = bytearray(p.read_bytes())
    data[4096:] = bytes((i * 7 + 13) % 256 for i in range(len(data) - 4096))  # all but page 1
    p.write_bytes(bytes(data))
    return p


def _empty(d: Path) -> Path:
    p = d / "keyctl.db"
    p.touch()
    return p


def _directory(d: Path) -> Path:
    p = d / "keyctl.db"
    p.mkdir()
    (p / "something").write_text("kept")
    return p


def _parent_is_a_file(d: Path) -> Path:
    (d / "plain").write_text("a file where a folder should be\n")
    return d / "plain" / "keyctl.db"


UNUSABLE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "not SQLite": (_not_sqlite, "not a SQLite database"),
    "another program's SQLite": (_other_sqlite, "not a keyctl store"),
    "from a newer keyctl": (_newer, "newer keyctl"),
    "damaged": (_damaged, "damaged"),
    "an empty file": (_empty, "empty"),
    "a directory": (_directory, "is a directory"),
    "a folder that cannot exist": (_parent_is_a_file, "not a folder"),
}
COMMANDS = {
    "list": ("list",),
    "list --json": ("list", "--json"),
    "check": ("check", "alpha", "predict.call"),
    "check a secret": ("check", tokens.new_secret(), "predict.call"),  # well-formed: looked up
    "show": ("show", "alpha"),
    "log": ("log",),
    "create": ("create", "--name", "gamma", "--scope", "predict"),
    "disable": ("disable", "alpha"),
}


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
@pytest.mark.parametrize("condition", UNUSABLE, ids=list(UNUSABLE))
def test_an_unusable_store_gives_one_error_line_and_is_left_as_it_was(
    tmp_path: Path, run, condition: str, command: str,
) -> None:
    make, says = UNUSABLE[condition]
    path = make(tmp_path)
    if os.path.isfile(path) and condition != "damaged":
        # Readable by others: no mode warning beside the error for a file keyctl refuses.
        # (A damaged store is keyctl's: it opens, and would rightly be warned about.)
        os.chmod(path, 0o644)
    before = snapshot(path)
    line = _one_error(run("--db", str(path), *COMMANDS[command]))
    assert says in line
    assert str(path) in line
    after = snapshot(path)
    assert after[0] == before[0]
    # Nothing appears beside it but, for a damaged store SQLite did open, its own -wal/-shm.
    allowed = {f"{path.name}-wal", f"{path.name}-shm"} if condition == "damaged" else set()
    assert set(after[1]) - set(before[1]) <= allowed


def test_an_unusable_store_in_a_real_process(tmp_path: Path, sh) -> None:
    path = _not_sqlite(tmp_path)
    before = snapshot(path)
    for args in (("list",), ("create", "--scope", "predict")):
        _one_error(sh("--db", str(path), *args))
    assert snapshot(path) == before


def test_a_store_newer_than_this_keyctl_names_both_versions(tmp_path: Path, run) -> None:
    line = _one_error(run("--db", str(_newer(tmp_path)), "list"))
    assert f"schema {SCHEMA_VERSION + 1}" in line and f"up to {SCHEMA_VERSION}" in line


# --- read-only: reads answer, writes refuse --------------------------------------------------
def _reads_work_writes_refuse(run, path: Path, says: str) -> None:
    before = snapshot(path)[0]
    listed = run("--db", str(path), "list", "--json")
    assert listed.code == 0, listed
    assert [k["name"] for k in listed.json] == ["alpha", "beta"]
    checked = run("--db", str(path), "check", "alpha", "predict.call")
    assert checked.code == 0, checked
    for args in (("create", "--name", "gamma", "--scope", "predict"), ("disable", "alpha"),
                 ("rotate", "beta")):
        line = _one_error(run("--db", str(path), *args))
        assert says in line
    assert snapshot(path)[0] == before


@pytest.fixture
def immutable(tmp_path: Path):
    """A store file that cannot be written. Tests run as root here, where chmod 0444 stops
    nothing: root gets `chattr +i` (the immutable flag), anyone else chmod 0444."""
    path = _store(tmp_path / "keyctl.db")
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield path
        path.chmod(0o600)
        return
    if not shutil.which("chattr"):
        pytest.skip("running as root without chattr: cannot make a file read-only for root")
    p = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"chattr +i is not supported on this filesystem: {p.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_store_file_answers_reads_and_refuses_writes(immutable: Path, run) -> None:
    _reads_work_writes_refuse(run, immutable, "read-only")


_PRIVATE: list[bool] = []


def _private_mounts() -> None:
    """From now on, mounts made by this test process (and its children) live in a mount
    namespace of its own: no other process sees them, and they vanish with the process
    even if it is killed before its fixtures unmount them. Where that cannot be done,
    the mounts are ordinary ones, unmounted by the fixture."""
    if _PRIVATE:
        return
    _PRIVATE.append(True)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) == 0:  # CLONE_NEWNS
        subprocess.run(["mount", "--make-rprivate", "/"], capture_output=True)


def _mount_tmpfs(where: Path, size: str) -> None:
    _private_mounts()
    where.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount rights): {p.stderr.strip()}")


@pytest.fixture
def tmpfs(tmp_path: Path):
    """A small filesystem of our own, unmounted afterwards."""
    where = tmp_path / "mnt"
    mounted: list[Path] = []

    def mount(size: str = "256k") -> Path:
        _mount_tmpfs(where, size)
        mounted.append(where)
        return where

    yield mount
    gc.collect()  # close the connections of in-process commands that still hold files there
    for m in mounted:
        if subprocess.run(["umount", str(m)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(m)], check=True)  # busy: detach it anyway


def test_a_store_on_a_read_only_filesystem_answers_reads_and_refuses_writes(tmpfs, run) -> None:
    mnt = tmpfs("1m")
    path = _store(mnt / "keyctl.db")
    assert sorted(os.listdir(mnt)) == ["keyctl.db"]  # closed cleanly: no -wal, no -shm
    p = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    _reads_work_writes_refuse(run, path, "read-only")
    line = _one_error(run("--db", str(mnt / "new.db"), "create", "--scope", "predict"))
    assert "cannot be created" in line
    assert sorted(os.listdir(mnt)) == ["keyctl.db"]


# --- a full disk -------------------------------------------------------------------------------
def _fill(folder: Path, leave: int) -> None:
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    (folder / "filler").write_bytes(b"\0" * max(0, free - leave))


def test_a_nearly_full_disk_refuses_writes_and_keeps_the_store(tmpfs, run) -> None:
    mnt = tmpfs("512k")
    path = _store(mnt / "keyctl.db")
    _fill(mnt, leave=40 * 1024)  # room for SQLite's 32 KB -shm, not for a transaction
    before = snapshot(path)[0]
    listed = run("--db", str(path), "list", "--json")
    assert listed.code == 0 and len(listed.json) == 2, listed
    shown = []
    for args in (("create", "--name", "gamma", "--scope", "predict", "--description", "x" * 1000),
                 ("rotate", "alpha", "--json"), ("delete", "beta", "--yes")):
        r = run("--db", str(path), *args)
        if args[0] == "delete":
            line = _one_error(r)
        else:
            # The secret is written out before the change commits (so that no key is made
            # whose secret nobody saw); the commit then fails, and the line says so.
            assert r.code == 1 and len(r.stderr.splitlines()) == 1, r
            line = r.stderr.strip()
            assert "does not work" in line and ("not created" in line or "not rotated" in line)
            shown.append(r.stdout.split("kc_")[1][:36])
        assert "full" in line
    assert snapshot(path)[0] == before
    (mnt / "filler").unlink()
    after = run("--db", str(path), "list", "--json")
    assert [k["name"] for k in after.json] == ["alpha", "beta"]
    for secret in shown:  # what was printed never became a key's secret
        assert run("--db", str(path), "check", "kc_" + secret, "predict.call").code == 4
    assert _integrity(path) == "ok"
    assert run("--db", str(path), "create", "--name", "gamma", "--scope", "predict").code == 0


def test_a_full_disk_gives_one_error_and_creates_nothing(tmpfs, run) -> None:
    mnt = tmpfs("512k")
    path = _store(mnt / "keyctl.db")
    _fill(mnt, leave=0)
    before = snapshot(path)
    for args in (("list",), ("check", "alpha", "predict.call"), ("create", "--scope", "predict")):
        line = _one_error(run("--db", str(path), *args))
        assert "full" in line
    line = _one_error(run("--db", str(mnt / "other.db"), "create", "--scope", "predict"))
    assert "full" in line
    assert snapshot(path)[0] == before[0]
    # SQLite may leave an empty -wal/-shm beside the store; nothing else appears.
    assert {n for n in os.listdir(mnt)} - set(before[1]) <= {"keyctl.db-wal", "keyctl.db-shm"}


def test_a_file_size_limit_refuses_writes_in_a_real_process(tmp_path: Path) -> None:
    """`ulimit -f`: the same refusal without a filesystem of our own (works unprivileged)."""
    path = _store(tmp_path / "keyctl.db")
    before = snapshot(path)[0]
    limit = 32 * 1024

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def keyctl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "keyctl", "--db", str(path), *args],
                              capture_output=True, text=True, preexec_fn=limited, cwd=str(ROOT))

    listed = keyctl("list", "--json")
    assert listed.returncode == 0, listed.stderr
    made = keyctl("create", "--scope", "predict", "--description", "x" * 1000)
    assert made.returncode == 1, made
    assert "Traceback" not in made.stderr
    lines = made.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "could not be written" in lines[0]
    assert snapshot(path)[0] == before
    assert KeyStore(path).store.counts()["total"] == 2


# --- SIGKILL in the middle of a batch ----------------------------------------------------
def _count(path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute("SELECT count(*) FROM keys").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _complete(path: Path) -> int:
    """Every key has every field and its create entry in the audit trail (and back)."""
    assert _integrity(path) == "ok"
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id, name, scopes, secret_hash, hint, created_at FROM keys").fetchall()
    for kid, name, scopes, secret_hash, hint, created in rows:
        assert re.fullmatch(r"key_[a-z2-7]{16}", kid)
        assert name and scopes and len(hint) == 4 and created
        assert re.fullmatch(r"[0-9a-f]{64}", secret_hash)
    audited = {k for (k,) in conn.execute("SELECT key_id FROM audit WHERE action = 'create'")}
    conn.close()
    assert audited == {r[0] for r in rows}
    return len(rows)


def test_sigkill_during_a_loop_of_creates_leaves_only_whole_keys(tmp_path: Path, run) -> None:
    path = tmp_path / "keyctl.db"
    go = tmp_path / "go"
    go.touch()
    total = 0
    for round_ in range(3):
        worker = subprocess.Popen([sys.executable, LOAD, "writer", str(path), f"r{round_}", "100000", str(go)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(ROOT))
        deadline = time.monotonic() + 60
        while _count(path) < total + 20 + 7 * round_ and time.monotonic() < deadline:
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert worker.returncode == -signal.SIGKILL
        total = _complete(path)
        assert total >= 20 * (round_ + 1)
    listed = run("--db", str(path), "list", "--json")
    assert listed.code == 0 and len(listed.json) == total
    assert run("--db", str(path), "create", "--name", "after", "--scope", "predict").code == 0
    assert _complete(path) == total + 1


BATCH = r"""
import sys
from keyctl import tokens
from keyctl.store import KeyRow, open_store
store = open_store(sys.argv[1])
n = int(sys.argv[2])
with store.transaction() as tx:
    # A small page cache makes SQLite spill the open transaction into the WAL, as a
    # batch of thousands of keys does on its own: the crash leaves uncommitted frames.
    tx._run("PRAGMA cache_size = 20")
    rows, audits = [], []
    for i in range(n):
        secret = tokens.new_secret()
        row = KeyRow(tokens.new_id(), f"batch-{i}", None, frozenset({"predict.call"}),
                     tokens.hint(secret), "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", None, False)
        rows.append((row, tokens.hash_secret(secret)))
        audits.append(("2026-01-01T00:00:00Z", "create", row.id, row.name, {"name": row.name}))
    tx.insert_keys(rows)
    tx.audit_many(audits)
    print("inserted", flush=True)
    if sys.argv[3] == "wait":
        sys.stdin.readline()   # killed here, inside the transaction
print("committed", flush=True)
"""


@pytest.mark.parametrize("killed", [True, False], ids=["killed", "finished"])
def test_a_batch_transaction_is_there_entirely_or_not_at_all(tmp_path: Path, run, killed: bool) -> None:
    path = _store(tmp_path / "keyctl.db")
    n = 3000
    p = subprocess.Popen([sys.executable, "-c", BATCH, str(path), str(n), "wait" if killed else "go"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
    assert p.stdout.readline().strip() == "inserted"
    if killed:
        wal = Path(f"{path}-wal")
        assert wal.stat().st_size > 100_000  # uncommitted pages of the batch were on disk
        p.send_signal(signal.SIGKILL)
        p.wait()
    else:
        assert p.stdout.readline().strip() == "committed"
        p.wait()
        assert p.returncode == 0
    assert _integrity(path) == "ok"
    listed = run("--db", str(path), "list", "--json")
    assert listed.code == 0
    names = [k["name"] for k in listed.json]
    assert len(names) == (2 if killed else 2 + n)
    conn = sqlite3.connect(path)
    creates = conn.execute("SELECT count(*) FROM audit WHERE action = 'create'").fetchone()[0]
    conn.close()
    assert creates == len(names)


def test_sigkill_during_apply_of_twenty_thousand_keys_leaves_none_of_them(tmp_path: Path, run) -> None:
    """`keyctl apply` in a real process, killed once its transaction has spilled
    megabytes into the WAL (well before its commit): all of the batch or none of it."""
    path = _store(tmp_path / "keyctl.db")
    n = 20000
    manifest = tmp_path / "team.toml"
    manifest.write_text("".join(f'[keys.member-{i}]\nscopes = ["predict", "inputs.get"]\n'
                                f'description = "{"onboarded " * 10}"\n' for i in range(n)))
    manifest.write_text("[keys.alpha]\nscopes = [\"predict\"]\n[keys.beta]\nscopes = [\"predict\"]\n"
                        + manifest.read_text())
    wal = Path(f"{path}-wal")
    p = subprocess.Popen([sys.executable, "-m", "keyctl", "--db", str(path), "apply", str(manifest), "--json"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(ROOT))
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > 2_000_000:
            break
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL  # it was still running: killed mid-batch
    assert _integrity(path) == "ok"
    listed = run("--db", str(path), "list", "--json")
    assert listed.code == 0
    assert len(listed.json) in (2, 2 + n)  # entirely or not at all
    assert _complete(path) == len(listed.json)
    made = run("--db", str(path), "create", "--name", "after", "--scope", "predict")
    assert made.code == 0, made  # no lock or journal left behind
