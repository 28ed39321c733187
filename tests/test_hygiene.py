"""Secret hygiene: a secret is printed by create, rotate and apply (and `secret`) and
nowhere else: not in the store's files, the audit trail, other commands' output, error
messages or crash reports; every KEY argument reads it from stdin with `-`; a store
readable by others is warned about, once per command.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyctl import KeyStore

ROOT = Path(__file__).resolve().parent.parent


def _mistyped(secret: str) -> str:
    return secret[:10] + ("Q" if secret[10] != "Q" else "R") + secret[11:]


def _files(db: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name)}


def test_no_secret_in_the_store_files_even_with_the_wal_in_use(db_path: Path, tmp_path: Path) -> None:
    ks = KeyStore(db_path)  # left open: the changes sit in the -wal, with its -shm beside it
    created = ks.create(scopes=["inputs.patch"], name="ci-bot", description="CI")
    rotated = ks.rotate("ci-bot")
    manifest = tmp_path / "team.toml"
    manifest.write_text('[keys.etl]\nscopes = ["inputs.add"]\n')
    from keyctl.manifest import parse_manifest
    from keyctl.when import utcnow

    applied = ks.apply(parse_manifest(manifest.read_text(), str(manifest), ks.catalog, utcnow()))
    secrets_ = [created.secret, rotated.secret, *(c.secret for c in applied.created)]
    assert len(secrets_) == 3
    files = _files(db_path)
    assert {f"{db_path.name}-wal", f"{db_path.name}-shm"} <= set(files)
    everything = b"".join(files.values())
    # What is kept is there (so these are the right files) ...
    assert hashlib.sha256(rotated.secret.encode()).hexdigest().encode() in everything
    # ... and no secret, whole or without its prefix, in any encoding SQLite might use.
    for secret in secrets_:
        for form in (secret, secret[3:]):
            assert form.encode() not in everything
            assert form.encode("utf-16-le") not in everything
    ks.close()
    everything = b"".join(_files(db_path).values())
    assert not any(s[3:].encode() in everything for s in secrets_)


@pytest.fixture
def known(run, db_path: Path) -> dict[str, str]:
    """A store with a known secret (ci-bot) and a second key."""
    r = run("create", "--name", "ci-bot", "--scope", "inputs.patch", "--json")
    assert r.code == 0
    other = run("create", "--name", "etl", "--scope", "all", "--json")
    return {"secret": r.json["secret"], "id": r.json["id"], "other": other.json["secret"]}


# Every command that is not create, rotate, apply or secret, with the secret given the
# ways a user gives it: "-" (stdin), or in the arguments.
QUIET = [
    ("list",), ("list", "--json"), ("list", "--scope", "inputs"),
    ("show", "ci-bot"), ("show", "ci-bot", "--json"), ("show", "-"), ("show", "{secret}"),
    ("check", "-", "inputs.get"), ("check", "-", "--json"), ("check", "{secret}", "inputs.patch"),
    ("check", "{mistyped}", "inputs.get"), ("check", "{mistyped}", "--json"), ("show", "{mistyped}"),
    ("check", "-", "models.train"),
    ("scope", "add", "-", "concepts.get"), ("scope", "remove", "{secret}", "concepts.get"),
    ("scope", "set", "-", "inputs.patch", "--json"),
    ("update", "-", "--description", "CI bot"), ("update", "{secret}", "--expires", "30d", "--json"),
    ("disable", "-"), ("enable", "{secret}", "--json"), ("disable", "{secret}", "--json"), ("enable", "-"),
    ("log",), ("log", "--json"), ("log", "-", "--json"), ("log", "{secret}"),
    ("export",), ("export", "--json"), ("scopes",), ("scopes", "--json"),
    ("delete", "{mistyped}", "--yes"), ("rotate", "{mistyped}"), ("secret", "-"), ("secret", "ci-bot"),
    ("create", "--name", "{secret}", "--scope", "predict"), ("list", "{secret}"),
    ("check", "{secret}", "{secret}"), ("scope", "add", "ci-bot", "{secret}"),
    ("update", "ci-bot", "--name", "{secret}"),
    ("delete", "-", "--yes", "--json"),
]


def test_no_other_command_prints_the_secret(run, known: dict[str, str]) -> None:
    secret = known["secret"]
    values = {"{secret}": secret, "{mistyped}": _mistyped(secret)}
    seen_codes = set()
    for args in QUIET:
        argv = [values.get(a, a) for a in args]
        r = run(*argv, input=secret + "\n")
        seen_codes.add(r.code)
        out = r.stdout + r.stderr
        for leak in (secret, secret[3:], _mistyped(secret), _mistyped(secret)[3:], known["other"]):
            assert leak not in out, (args, r)
        assert "Traceback" not in out, (args, r)
    assert {0, 1, 2, 4} <= seen_codes  # successes, and the errors and rejections
    assert run("list", "--json").json[0]["name"] == "etl"  # the last `delete -` found ci-bot


def test_the_commands_that_print_a_secret_do(run, known: dict[str, str], tmp_path: Path) -> None:
    """The check above can fail: the same search finds the secrets where they belong."""
    created = run("create", "--scope", "predict")
    rotated = run("rotate", "-", input=known["secret"] + "\n")
    manifest = tmp_path / "m.toml"
    manifest.write_text('[keys.new-one]\nscopes = ["predict"]\n')
    applied = run("apply", str(manifest), "--json")
    for r in (created, rotated, applied):
        assert r.code == 0
        assert "kc_" in r.stdout
    rotated_secret = [w for w in rotated.stdout.split() if w.startswith("kc_")][0]
    assert run("check", rotated_secret, "inputs.get").code == 3  # redacted: no concepts.get
    assert run("check", known["secret"], "inputs.get").code == 4  # the old one stopped


def test_the_audit_trail_holds_no_secret(run, known: dict[str, str], db_path: Path) -> None:
    run("rotate", "ci-bot")
    run("disable", "-", input=known["other"] + "\n")
    trail = run("log", "--json")
    assert {e["action"] for e in trail.json} == {"create", "rotate", "disable"}
    import sqlite3

    conn = sqlite3.connect(db_path)
    rows = " ".join(str(r) for r in conn.execute("SELECT * FROM audit"))
    conn.close()
    for secret in (known["secret"], known["other"]):
        assert secret[3:] not in rows and secret[3:] not in trail.stdout


# --- crashes: no traceback, no locals ----------------------------------------------------------
FAKE = "kc_SecretInALocalVariable000000000000000"


def _boom(*args: object, **kwargs: object) -> None:
    secret_in_a_local = FAKE  # noqa: F841  (what a pretty traceback with locals would show)
    raise RuntimeError("an unexpected failure")


def _bug_line(stderr: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: keyctl hit an unexpected problem (RuntimeError)")
    assert "please report it" in lines[0]


def test_an_unexpected_crash_prints_one_bug_report_line(run, known, monkeypatch) -> None:
    monkeypatch.setattr(KeyStore, "check_many", _boom)
    r = run("check", "-", "inputs.get", input=known["secret"] + "\n")
    assert r.code == 1
    _bug_line(r.stderr)
    assert r.stdout == ""
    assert FAKE not in r.stderr and known["secret"] not in r.stderr


CRASH = """
import sys
import keyctl.api
def boom(*args, **kwargs):
    secret_in_a_local = {fake!r}
    raise RuntimeError("an unexpected failure " + {message!r})
keyctl.api.KeyStore.list = boom
from keyctl.cli import main
sys.argv = ["keyctl", "list"]
main()
"""


@pytest.mark.parametrize("debug", [False, True], ids=["default", "KEYCTL_DEBUG=1"])
def test_a_crash_in_a_real_process_shows_no_locals(tmp_path: Path, debug: bool) -> None:
    env = {**os.environ, "KEYCTL_DB": str(tmp_path / "k.db"), "COLUMNS": "200"}
    env.pop("KEYCTL_DEBUG", None)
    if debug:
        env["KEYCTL_DEBUG"] = "1"
    p = subprocess.run([sys.executable, "-c", CRASH.format(fake=FAKE, message="")], capture_output=True,
                       text=True, env=env, cwd=str(ROOT))
    assert p.returncode == 1
    assert FAKE not in p.stderr + p.stdout
    assert "secret_in_a_local" not in p.stderr  # no locals table
    if debug:
        assert "RuntimeError" in p.stderr and "an unexpected failure" in p.stderr  # the traceback, asked for
    else:
        _bug_line(p.stderr)
        assert "Traceback" not in p.stderr


# --- "-": KEY from standard input ------------------------------------------------------------
@pytest.mark.parametrize("args, expect", [
    (("check", "-", "inputs.get"), "redacted"),
    (("show", "-", "--json"), '"name": "ci-bot"'),
    (("disable", "-", "--json"), '"status": "disabled"'),
    (("scope", "add", "-", "concepts.get", "--json"), '"concepts.get"'),
    (("update", "-", "--description", "from stdin", "--json"), '"description": "from stdin"'),
    (("log", "-", "--json"), '"action": "create"'),
    (("rotate", "-", "--json"), '"secret": "kc_'),
    (("delete", "-", "--yes", "--json"), '"name": "ci-bot"'),
])
def test_every_key_argument_reads_the_secret_from_stdin(run, known, args, expect) -> None:
    r = run(*args, input=known["secret"] + "\n")
    assert r.code in (0, 3), r
    assert expect in r.stdout
    assert known["secret"] not in r.stdout


def test_check_dash_in_a_real_process_keeps_the_secret_out_of_argv(sh, known) -> None:
    r = sh("check", "-", "inputs.patch", "--json", input=known["secret"] + "\n")
    assert r.code == 3 and r.json["key"]["name"] == "ci-bot"  # redacted: no concepts.get
    assert known["secret"] not in r.stdout + r.stderr


# --- a store readable by others --------------------------------------------------------------
WARNING = "is readable or writable by other users; run `chmod 600"


@pytest.mark.parametrize("args", [
    ("list",), ("check", "ci-bot", "inputs.get"), ("check", "-", "inputs.get"), ("show", "ci-bot"),
    ("create", "--scope", "predict"), ("rotate", "ci-bot"), ("scope", "add", "ci-bot", "models"),
    ("log",), ("export",),
])
def test_a_store_readable_by_others_is_warned_about_once(run, known, db_path: Path, args) -> None:
    db_path.chmod(0o644)
    r = run(*args, input=known["secret"] + "\n")
    assert r.code in (0, 3), r
    assert r.stderr.count(WARNING) == 1, r
    assert [line for line in r.stderr.splitlines() if WARNING in line][0].startswith("warning: the store ")


def test_a_private_store_is_not_warned_about(run, known, db_path: Path) -> None:
    assert oct(db_path.stat().st_mode & 0o777) == "0o600"
    for args in (("list",), ("create", "--scope", "predict"), ("rotate", "ci-bot")):
        assert WARNING not in run(*args).stderr


def test_the_warning_once_in_a_real_process_that_writes(sh, known, db_path: Path, tmp_path: Path) -> None:
    db_path.chmod(0o640)
    manifest = tmp_path / "m.toml"
    manifest.write_text('[keys.ci-bot]\nscopes = ["predict"]\n[keys.etl]\nscopes = ["all"]\n')
    r = sh("apply", str(manifest), "--prune")
    assert r.code == 0, r
    assert r.stderr.count(WARNING) == 1
