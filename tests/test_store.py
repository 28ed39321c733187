"""The SQLite store: where it lives, how it is created (modes), what a read creates
(nothing), WAL, schema versions and migrations, the audit trail, and that no secret
reaches any of its files."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from keyctl import tokens
from keyctl.store import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from conftest import rows as query


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- creation and modes -----------------------------------------------------------------
def test_first_write_creates_file_0600_and_folder_0700(run, tmp_path):
    db = tmp_path / "fresh" / "keys.db"
    r = run("--db", str(db), "create", "-s", "search")
    assert r.code == 0, r
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700
    assert sorted(p.name for p in db.parent.iterdir() if not p.name.startswith(db.name)) == []  # no temp files left


def test_an_existing_folder_keeps_its_mode(run, tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    db = folder / "keys.db"
    assert run("--db", str(db), "create", "-s", "search").code == 0
    assert mode(folder) == 0o755
    assert mode(db) == 0o600


def test_mode_0600_whatever_the_umask(sh, tmp_path):
    db = tmp_path / "loose" / "keys.db"
    code = (
        "import os, sys; os.umask(0); from keyctl.cli import main; "
        f"sys.argv = ['keyctl', '--db', {str(db)!r}, 'create', '-s', 'search']; main()"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700


def test_wal_and_shm_files_are_private_too(tmp_path):
    from keyctl import KeyStore

    db = tmp_path / "keys.db"
    with KeyStore(db) as ks:
        ks.create(scopes=["search"])
        ks.create(scopes=["predict"])
        for suffix in ("-wal", "-shm"):
            extra = Path(f"{db}{suffix}")
            if extra.exists():
                assert mode(extra) & 0o077 == 0, suffix


@pytest.mark.parametrize(
    "args",
    [("list",), ("list", "--json"), ("check", "kc_" + "A" * 36, "search"), ("show", "ghost"),
     ("check", "ghost"), ("log",), ("log", "--json"), ("log", "key_aaaaaaaaaaaaaaaa")],
)
def test_a_read_on_a_missing_store_creates_nothing(run, tmp_path, args):
    db = tmp_path / "nowhere" / "keys.db"
    r = run("--db", str(db), *args)
    assert r.code in (0, 1, 4), r
    assert "Traceback" not in r.stderr
    assert not db.parent.exists()


def test_reads_on_the_default_location_create_nothing(sh, tmp_path, monkeypatch):
    monkeypatch.delenv("KEYCTL_DB")
    xdg = tmp_path / "xdg"
    for args in (("list",), ("check", tokens.new_secret()), ("log",), ("show", "nobody")):
        sh(*args)
    assert not xdg.exists()


def test_list_on_a_missing_store_in_a_real_process(sh, tmp_path):
    db = tmp_path / "none" / "k.db"
    r = sh("--db", str(db), "list")
    assert r.code == 0, r
    assert r.stdout == "NAME\tID\tSTATUS\tSCOPES\tCREATED\tEXPIRES\n"  # piped: the header alone
    assert r.stderr == f"note: no store at {db} yet; `keyctl create` makes it\n"
    assert not db.parent.exists()


# --- where the store lives ----------------------------------------------------------------
def _names_in(db: Path) -> list[str]:
    return [n for (n,) in query(db, "SELECT name FROM keys")] if db.exists() else []


def test_db_option_beats_env_beats_xdg(run, tmp_path, monkeypatch):
    opt, env = tmp_path / "opt.db", tmp_path / "env.db"
    xdg = tmp_path / "xdg" / "keyctl" / "keyctl.db"
    monkeypatch.setenv("KEYCTL_DB", str(env))
    assert run("--db", str(opt), "create", "-s", "search", "-n", "by-option").code == 0
    assert run("create", "-s", "search", "-n", "by-env").code == 0
    monkeypatch.delenv("KEYCTL_DB")
    assert run("create", "-s", "search", "-n", "by-xdg").code == 0
    assert (_names_in(opt), _names_in(env), _names_in(xdg)) == (["by-option"], ["by-env"], ["by-xdg"])
    assert mode(xdg.parent) == 0o700
    # and the reads follow the same order
    monkeypatch.setenv("KEYCTL_DB", str(env))
    assert [k["name"] for k in run("--db", str(opt), "list", "--json").json] == ["by-option"]
    assert [k["name"] for k in run("list", "--json").json] == ["by-env"]


def test_home_default_when_xdg_is_unset(sh, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("KEYCTL_DB", "XDG_DATA_HOME")}
    env["HOME"] = str(home)
    p = subprocess.run([sys.executable, "-m", "keyctl", "create", "-s", "search", "-n", "home"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert _names_in(home / ".local" / "share" / "keyctl" / "keyctl.db") == ["home"]


def test_db_and_env_through_a_real_process(sh, tmp_path):
    env_db = tmp_path / "env.db"
    r = sh("create", "-s", "search", "-n", "env-key", "--json", env={"KEYCTL_DB": str(env_db)})
    assert r.code == 0, r
    assert _names_in(env_db) == ["env-key"]
    opt_db = tmp_path / "opt.db"
    r = sh("--db", str(opt_db), "list", "--json", env={"KEYCTL_DB": str(env_db)})
    assert r.code == 0 and r.json == []
    assert not opt_db.exists()


# --- SQLite settings, versions, migrations ------------------------------------------------
def test_wal_mode_and_identity(run, db_path):
    assert run("create", "-s", "search").code == 0
    assert query(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert query(db_path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert query(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_a_command_closes_the_store_whether_it_succeeds_or_fails(sh, db_path):
    """The last connection to close checkpoints the write-ahead log and removes it: every
    command, the fast path's `check` too, leaves the store a single file, also when it
    fails (what refers to the store then may be garbage the process never collects)."""
    assert sh("create", "-n", "ci", "-s", "search").code == 0
    for args, code in ((("show", "ci"), 0), (("show", "nobody"), 1), (("check", "nobody", "search"), 1),
                       (("check", "ci", "search", "inputs.get"), 4), (("scope", "add", "ci", "nosuch"), 2),
                       (("update", "nobody", "-d", "x"), 1), (("create", "-n", "ci", "-s", "search"), 1)):
        r = sh(*args)
        assert r.code == code, (args, r)
        assert sorted(p.name for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)) == ["keyctl.db"], args


def test_a_store_from_a_newer_keyctl_is_refused_and_untouched(run, sh, db_path, tmp_path):
    assert sh("create", "-s", "search", "-n", "ci").code == 0  # a real process: closed on exit
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    assert set(before) == {"keyctl.db"}
    for args in (("list",), ("create", "-s", "search"), ("check", "ci"), ("scope", "add", "ci", "inputs")):
        r = run(*args)
        assert r.code == 1, (args, r)
        assert r.stderr.startswith("error: the store ")
        assert "newer keyctl" in r.stderr
        assert len(r.stderr.splitlines()) == 1
        assert snapshot(tmp_path) == before
    r = sh("list")
    assert r.code == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert snapshot(tmp_path) == before


def test_a_file_that_is_not_a_keyctl_store_is_refused(run, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not SQLite at all, just some text" * 100)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    junk.chmod(0o600)
    other.chmod(0o600)
    for path in (junk, other, tmp_path):
        before = snapshot(tmp_path)
        r = run("--db", str(path), "create", "-s", "search")
        assert r.code == 1, r
        assert r.stderr.startswith("error: the store ")
        assert snapshot(tmp_path) == before


def _old_store(path: Path) -> str:
    """A store as the first keyctl wrote it: only the first migration applied.
    Returns the secret of the one key it holds."""
    import sqlite_utils

    db = sqlite_utils.Database(path)
    db.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.conn.execute("PRAGMA journal_mode = WAL")
    for _, migrate in MIGRATIONS[:1]:
        migrate(db)
    secret = tokens.new_secret()
    db["keys"].insert({
        "id": "key_aaaaaaaaaaaaaaaa", "name": "veteran", "description": "from long ago",
        "scopes": "inputs.get inputs.patch", "secret_hash": tokens.hash_secret(secret),
        "hint": tokens.hint(secret), "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z", "expires_at": None, "disabled": 0,
    })
    db["audit"].insert({"at": "2025-01-01T00:00:00Z", "actor": "someone", "action": "create",
                        "key_id": "key_aaaaaaaaaaaaaaaa", "details": "{}"})
    db.conn.execute("PRAGMA user_version = 1")
    db.conn.commit()
    db.conn.close()
    return secret


def test_an_older_store_is_migrated_on_open_and_keeps_its_keys(run, db_path):
    secret = _old_store(db_path)
    assert query(db_path, "PRAGMA user_version") == [(1,)]
    r = run("list", "--json")
    assert r.code == 0, r
    [key] = r.json
    assert (key["id"], key["name"], key["description"], key["scopes"]) == (
        "key_aaaaaaaaaaaaaaaa", "veteran", "from long ago", ["inputs.get", "inputs.patch"])
    assert key["in_keyring"] is False
    assert query(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    columns = {c for (_, c, *_) in query(db_path, "PRAGMA table_info(keys)")}
    assert {"in_keyring", "expires_spec"} <= columns
    assert run("check", secret, "inputs.get").code == 3
    assert run("scope", "add", "veteran", "concepts.get").code == 0
    assert run("check", secret, "inputs.patch").code == 0
    assert [e["action"] for e in run("log", "veteran", "--json").json] == ["scope.add", "create"]


# --- the audit trail --------------------------------------------------------------------
def test_audit_rows_carry_utc_time_user_action_key_and_details(run, db_path):
    created = run("create", "-s", "inputs.patch", "-n", "ci", "--json").json
    run("scope", "remove", "ci", "inputs.get")  # refused: would leave no scope
    run("scope", "add", "ci", "search")
    run("delete", "ci", "--yes")
    audit = query(db_path, "SELECT at, actor, action, key_id, details FROM audit ORDER BY id")
    assert [(a, k) for _, _, a, k, _ in audit] == [
        ("create", created["id"]), ("scope.add", created["id"]), ("delete", created["id"])]
    for at, actor, _, _, details in audit:
        moment = datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert abs(moment - datetime.now(timezone.utc)) < timedelta(minutes=5)
        assert actor == getpass.getuser()
        assert isinstance(json.loads(details), dict)
    details = [json.loads(d) for *_, d in audit]
    assert details[0]["scopes"] == ["inputs.get", "inputs.patch"]
    assert details[1]["before"] == ["inputs.get", "inputs.patch"]
    assert details[1]["after"] == ["inputs.get", "inputs.patch", "search"]
    assert details[2]["name"] == "ci"


def test_a_refused_change_writes_no_audit_entry(run, db_path):
    run("create", "-s", "search", "-n", "a")
    run("create", "-s", "search", "-n", "b")
    run("update", "b", "--name", "a")  # taken
    run("scope", "remove", "a", "search")  # would leave none
    assert [a for (a,) in query(db_path, "SELECT action FROM audit")] == ["create", "create"]


# --- no secret in any file ------------------------------------------------------------------
def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _assert_no_secret(files: dict[str, bytes], secrets_: list[str]) -> None:
    assert files
    for name, data in files.items():
        for secret in secrets_:
            body = secret[: -tokens.CHECKSUM_LENGTH]
            for needle in (secret, body, body[len(tokens.SECRET_PREFIX):]):
                assert needle.encode() not in data, f"a secret is in {name}"


def test_no_secret_in_the_store_files_open_or_closed(tmp_path):
    from keyctl import KeyStore

    folder = tmp_path / "store"
    ks = KeyStore(folder / "keys.db")
    secrets_ = []
    for i in range(5):
        created = ks.create(scopes=["inputs.patch"], name=f"k{i}", description="a key")
        secrets_.append(created.secret)
        secrets_.append(ks.rotate(f"k{i}").secret)
        ks.scope_add(f"k{i}", ["search"])
    ks.delete("k0")
    # without closing: the WAL holds the recent pages
    open_files = _files(folder)
    assert {"keys.db", "keys.db-wal", "keys.db-shm"} <= set(open_files)
    assert len(open_files["keys.db-wal"]) > 0
    _assert_no_secret(open_files, secrets_)
    # the secrets are real: the store knows the rotated ones by their hash
    assert ks.check(secrets_[3], "inputs.get").outcome.value == "redacted"
    ks.close()
    _assert_no_secret(_files(folder), secrets_)


def test_no_secret_in_the_store_files_after_cli_commands(sh, tmp_path):
    folder = tmp_path / "cli"
    db = folder / "keys.db"
    secrets_ = []
    for name in ("a", "b"):
        r = sh("--db", str(db), "create", "-s", "inputs.patch", "-n", name, "--json")
        assert r.code == 0, r
        secrets_.append(r.json["secret"])
        r = sh("--db", str(db), "rotate", name, "--json")
        secrets_.append(r.json["secret"])
    r = sh("--db", str(db), "check", "-", "inputs.get", input=secrets_[1] + "\n")
    assert r.code == 3, r
    r = sh("--db", str(db), "check", secrets_[0], "inputs.get")  # an old secret, as an argument
    assert r.code == 4, r
    _assert_no_secret(_files(folder), secrets_)
    stored = query(db, "SELECT secret_hash FROM keys ORDER BY created_at, rowid")
    assert stored == [(tokens.hash_secret(secrets_[1]),), (tokens.hash_secret(secrets_[3]),)]


# --- several writers at once ------------------------------------------------------------------
def test_parallel_creates_all_succeed(tmp_path):
    db = tmp_path / "busy.db"
    procs = [
        subprocess.Popen([sys.executable, "-m", "keyctl", "--db", str(db), "create", "-s", "search",
                          "-n", f"p{i}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    assert sorted(_names_in(db)) == ["p0", "p1", "p2", "p3"]
    assert len(query(db, "SELECT id FROM audit")) == 4
