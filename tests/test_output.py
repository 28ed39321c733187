"""Output that cannot be written, in real processes: a full disk (/dev/full), a reader
that went away (a closed pipe, `| head -1`), a stdout that takes only ASCII.

* A secret reaches stdout before the change that made it commits: when it cannot be
  written, nothing is created, rotated or applied (exit 1, one `error:` line); when
  the commit fails after it was written, the error says the printed secret does not
  work.
* A command that only reads stops quietly on a closed pipe (exit 1, nothing on
  stderr), and says why on a full disk (exit 1, one `error:` line); never the bug line.
* An ASCII-only stdout gets ASCII marks and escaped text; JSON stays valid JSON, the
  export stays valid TOML, and the exit statuses stay the documented ones.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT, rows, store_content

from keyctl import KeyStore
from keyctl.errors import StoreError

DESCRIPTION = "caf\u00e9 \u2615 r\u00e9sum\u00e9"


def keyctl(db: Path, *args: str, stdout=subprocess.PIPE, env: dict | None = None,
           **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keyctl", "--db", str(db), *args], stdout=stdout,
                          stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, cwd=str(ROOT), **popen)


@pytest.fixture
def store(db_path: Path) -> dict[str, str]:
    """bob (predict, a non-ASCII description) and his secret; a manifest that adds one key."""
    with KeyStore(db_path) as ks:
        secret = ks.create(scopes=["predict"], name="bob", description=DESCRIPTION).secret
    manifest = db_path.parent / "team.toml"
    manifest.write_text('[keys.bob]\nscopes = ["predict"]\ndescription = "caf\u00e9 \u2615 r\u00e9sum\u00e9"\n\n'
                        '[keys.new-hire]\nscopes = ["search"]\n', encoding="utf-8")
    return {"secret": secret, "manifest": str(manifest)}


def only_error(stderr: bytes, after: int = 0) -> str:
    """The one error line of stderr (after ``after`` lines of apply's plan)."""
    lines = stderr.decode().splitlines()[after:]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "bug" not in lines[0] and "Traceback" not in lines[0]
    return lines[0]


PLAN_LINES = 4  # apply --json shows its plan on stderr: = bob, + new-hire, its scopes, the summary


# --- a full disk -------------------------------------------------------------------------------
SECRET_COMMANDS = {
    "create": ("create", "--scope", "search", "--name", "carol"),
    "create --json": ("create", "--scope", "search", "--name", "carol", "--json"),
    "rotate": ("rotate", "bob"),
    "rotate --json": ("rotate", "bob", "--json"),
    "apply": ("apply", "{manifest}"),
    "apply --json": ("apply", "{manifest}", "--json"),
}


@pytest.mark.parametrize("command", SECRET_COMMANDS, ids=list(SECRET_COMMANDS))
def test_a_secret_that_cannot_be_written_is_never_committed(command: str, store: dict, db_path: Path) -> None:
    before = store_content(db_path)
    args = [a.format(**store) for a in SECRET_COMMANDS[command]]
    with open("/dev/full", "w") as full:
        p = keyctl(db_path, *args, stdout=full)
    assert p.returncode == 1
    assert "No space left on device" in only_error(p.stderr, PLAN_LINES if command == "apply --json" else 0)
    assert store_content(db_path) == before  # nothing created, rotated or applied
    with KeyStore(db_path) as ks:
        assert ks.check(store["secret"], "predict.call").outcome.value == "allowed"  # the old secret works


READERS = {
    "list": ("list",), "list --json": ("list", "--json"), "show": ("show", "bob"), "log": ("log",),
    "log --json": ("log", "--json"), "export": ("export",), "scopes --json": ("scopes", "--json"),
    "catalog list": ("catalog", "list"), "check": ("check", "bob", "predict.call"),
    "--version": ("--version",), "--help": ("--help",),
    # a command's help is written by click, not by keyctl's output
    "list --help": ("list", "--help"), "check --help": ("check", "--help"),
    "check KEY --help": ("check", "bob", "--help"), "scope add --help": ("scope", "add", "--help"),
    "scope --help": ("scope", "--help"), "create --help": ("create", "--help"),
    "roles-sql --help": ("roles-sql", "--help"), "log --limit 3 --help": ("log", "--limit", "3", "--help"),
}


@pytest.mark.parametrize("command", READERS, ids=list(READERS))
def test_a_full_disk_is_one_error_line_for_every_command(command: str, store: dict, db_path: Path) -> None:
    with open("/dev/full", "w") as full:
        p = keyctl(db_path, *READERS[command], stdout=full)
    assert p.returncode == 1
    assert "No space left on device" in only_error(p.stderr)


CHANGES = {
    "update": (("update", "bob", "-d", "x"), "bob was updated"),
    "disable": (("disable", "bob"), "bob was disabled"),
    "scope add": (("scope", "add", "bob", "search"), "bob was changed"),
    "scope remove": (("scope", "remove", "bob", "predict.feedback"), "bob was changed"),
    "delete": (("delete", "bob", "--yes"), "bob was deleted"),
    "copy": (("copy", "{db}", "{tmp}/copy.db"), "the store was copied to {tmp}/copy.db"),
}


@pytest.mark.parametrize("command", CHANGES, ids=list(CHANGES))
def test_a_change_whose_confirmation_cannot_be_written_says_it_was_made(command: str, store: dict, db_path: Path,
                                                                        tmp_path: Path) -> None:
    """No secret in it: the change is committed first, and the error says so (a user
    must not run it again believing it failed)."""
    args, done = CHANGES[command]
    fill = {"db": str(db_path), "tmp": str(tmp_path)}
    before = store_content(db_path)
    with open("/dev/full", "w") as full:
        p = keyctl(db_path, *[a.format(**fill) for a in args], stdout=full)
    assert p.returncode == 1
    assert only_error(p.stderr).endswith(f"(No space left on device); {done.format(**fill)} all the same")
    assert (store_content(db_path) != before) == (command != "copy")


@pytest.mark.parametrize("args", [("update", "bob", "-d", "café ☕ résumé"), ("enable", "bob"),
                                  ("scope", "add", "bob", "predict"), ("scope", "remove", "bob", "search")])
def test_a_change_that_changed_nothing_does_not_claim_it_did(args: tuple, store: dict, db_path: Path) -> None:
    before = store_content(db_path)
    with open("/dev/full", "w") as full:
        p = keyctl(db_path, *args, stdout=full)
    assert p.returncode == 1
    error = [line for line in p.stderr.decode().splitlines() if line.startswith("error:")]
    assert error == ["error: could not write to standard output (No space left on device)"], p.stderr
    assert store_content(db_path) == before


# --- a closed pipe -----------------------------------------------------------------------------
def _into_a_closed_pipe(db: Path, *args: str) -> subprocess.CompletedProcess:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before keyctl writes a byte
    try:
        return keyctl(db, *args, stdout=write)
    finally:
        os.close(write)


@pytest.mark.parametrize("command", READERS, ids=list(READERS))
def test_a_closed_pipe_stops_a_reading_command_quietly(command: str, store: dict, db_path: Path) -> None:
    p = _into_a_closed_pipe(db_path, *READERS[command])
    assert (p.returncode, p.stderr) == (1, b"")


@pytest.mark.parametrize("command", ["create", "rotate --json", "apply --json"])
def test_a_closed_pipe_during_a_change_says_so_and_changes_nothing(command: str, store: dict,
                                                                    db_path: Path) -> None:
    before = store_content(db_path)
    p = _into_a_closed_pipe(db_path, *[a.format(**store) for a in SECRET_COMMANDS[command]])
    assert p.returncode == 1
    assert "the reader went away" in only_error(p.stderr, PLAN_LINES if command == "apply --json" else 0)
    assert store_content(db_path) == before


def test_list_and_log_into_head_stop_quietly_with_more_than_a_pipe_holds(db_path: Path) -> None:
    with KeyStore(db_path) as ks:
        ks.apply(ks.read_manifest("".join(f'[keys.user-{i:04d}]\nscopes = ["predict", "inputs.get"]\n'
                                          f'description = "member {i} of the team"\n' for i in range(1500))))
    for args in (("list", "--json"), ("list",), ("log",), ("log", "--json"), ("export",)):
        producer = subprocess.Popen([sys.executable, "-m", "keyctl", "--db", str(db_path), *args],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT))
        head = subprocess.run(["head", "-1"], stdin=producer.stdout, capture_output=True)
        producer.stdout.close()
        _, err = producer.communicate(timeout=60)
        assert head.stdout.strip(), args
        assert (producer.returncode, err) == (1, b""), (args, err)


# --- a commit that fails after the secret went out --------------------------------------------------
class _CommitFails(sqlite3.Connection):
    armed = False

    def execute(self, sql, *args):  # noqa: ANN001
        if _CommitFails.armed and sql == "COMMIT":
            exc = sqlite3.OperationalError("disk I/O error")
            exc.sqlite_errorname = "SQLITE_IOERR"
            raise exc
        return super().execute(sql, *args)


@pytest.fixture
def failing_commit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sqlite3, "connect", functools.partial(sqlite3.connect, factory=_CommitFails))
    monkeypatch.setattr(_CommitFails, "armed", False)
    return _CommitFails


@pytest.mark.parametrize("command", ["create", "rotate", "apply"])
def test_a_commit_failing_after_delivery_says_the_printed_secret_does_not_work(
        command: str, store: dict, db_path: Path, failing_commit, run) -> None:
    before = store_content(db_path)
    failing_commit.armed = True
    r = run(*[a.format(**store) for a in SECRET_COMMANDS[command]])
    failing_commit.armed = False
    assert r.code == 1 and "kc_" in r.stdout  # it was delivered...
    assert r.stderr.startswith("error: ") and ("does not work" in r.stderr or "do not work" in r.stderr)  # void
    assert store_content(db_path) == before
    with KeyStore(db_path) as ks:
        assert ks.check(store["secret"], "predict.call").outcome.value == "allowed"


def test_a_library_commit_failing_after_delivery_raises_and_keeps_the_old_secret(
        store: dict, db_path: Path, failing_commit) -> None:
    ks = KeyStore(db_path)
    delivered = []
    failing_commit.armed = True
    with pytest.raises(StoreError, match="its old secret still works, and the one printed does not work"):
        ks.rotate("bob", deliver=delivered.append)
    failing_commit.armed = False
    assert len(delivered) == 1
    assert ks.check(delivered[0].secret, "predict.call").status.code == 11009
    assert ks.check(store["secret"], "predict.call").outcome.value == "allowed"
    ks.close()


def test_a_commit_failing_in_a_real_process_names_the_void_secret(store: dict, db_path: Path) -> None:
    """`ulimit -f`: the write-ahead log cannot grow at COMMIT, after the secret went out."""
    import resource
    import signal

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, 32 * 1024))

    before = store_content(db_path)
    p = keyctl(db_path, "create", "--scope", "search", "--description", "x" * 1000, "--json", preexec_fn=limited)
    assert p.returncode == 1
    secret = json.loads(p.stdout)["secret"]
    assert "the key was not created, and the secret printed for it does not work" in only_error(p.stderr)
    assert store_content(db_path) == before
    with KeyStore(db_path) as ks:
        assert ks.check(secret, "search").status.code == 11009


# --- a stdout that takes only ASCII ------------------------------------------------------------------
ASCII_ONLY = {"PYTHONIOENCODING=ascii": {"PYTHONIOENCODING": "ascii"},
              "LC_ALL=C PYTHONUTF8=0": {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}}


@pytest.mark.parametrize("locale", ASCII_ONLY, ids=list(ASCII_ONLY))
def test_an_ascii_only_stdout_gets_ascii_text_valid_json_and_the_documented_exit_codes(
        locale: str, store: dict, db_path: Path) -> None:
    env = ASCII_ONLY[locale]

    def ok(*args: str, code: int = 0) -> bytes:
        p = keyctl(db_path, *args, env=env)
        assert (p.returncode, p.stderr) == (code, b""), (args, p.stderr)
        p.stdout.decode("ascii")  # nothing but ASCII reached stdout
        return p.stdout

    assert ok("check", "bob", "predict.call").startswith(b"[allowed]")
    assert b"[rejected]" in ok("check", "bob", "predict.call", "inputs.get", code=4)
    assert json.loads(ok("check", "bob", "--json", code=4))["outcome"] == "rejected"
    assert json.loads(ok("list", "--json"))[0]["description"] == DESCRIPTION
    assert json.loads(ok("show", "bob", "--json"))["description"] == DESCRIPTION
    assert json.loads(ok("log", "--json"))[0]["details"]["description"] == DESCRIPTION
    assert json.loads(ok("export", "--json"))["keys"]["bob"]["description"] == DESCRIPTION
    assert tomllib.loads(ok("export").decode())["keys"]["bob"]["description"] == DESCRIPTION
    shown = ok("show", "bob")
    assert b"caf\\xe9" in shown
    # the outcome of each operation in show's table, marked in ASCII (Rich must not take
    # "[allowed]" for markup and print an empty cell)
    assert re.search(rb"\npredict\.call\t\[allowed\]\t", shown) and re.search(rb"\ninputs\.get\t\[rejected\]\t", shown)
    for args in (("list",), ("log",), ("scopes",), ("catalog", "list")):
        ok(*args)
    created = json.loads(ok("create", "--scope", "search", "--description", DESCRIPTION, "--json"))
    assert created["description"] == DESCRIPTION and created["secret"].startswith("kc_")


def test_json_to_a_pipe_keeps_non_ascii_text_as_it_is(store: dict, db_path: Path) -> None:
    p = keyctl(db_path, "show", "bob", "--json", env={"PYTHONIOENCODING": "utf-8"})
    assert DESCRIPTION.encode() in p.stdout
    assert rows(db_path, "SELECT description FROM keys WHERE name = 'bob'") == [(DESCRIPTION,)]


def test_the_bug_line_names_no_url_and_only_commands_that_exist(run, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from conftest import command_tree

    def broken(*args, **kwargs):
        raise RuntimeError("an unexpected failure")

    monkeypatch.setattr(KeyStore, "list", broken)
    r = run("list")
    assert r.code == 1 and "This is a bug" in r.stderr and "RuntimeError" in r.stderr
    assert "http" not in r.stderr and "Traceback" not in r.stderr
    commands = {" ".join(path) for path, _, _ in command_tree()}
    for named in re.findall(r"`(keyctl[^`]*)`", r.stderr):
        assert named.split(" --")[0] in commands, named


def test_completion_into_a_closed_pipe_stops_quietly(store: dict, db_path: Path) -> None:
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check bob inputs.", "COMP_CWORD": "3"}
    read, write = os.pipe()
    os.close(read)
    try:
        p = subprocess.run([sys.executable, "-m", "keyctl"], stdout=write, stderr=subprocess.PIPE, cwd=str(ROOT),
                           env={**os.environ, **env})
    finally:
        os.close(write)
    assert (p.returncode, p.stderr) == (1, b"")
