"""Hostile input, table-driven: names, times, scopes, KEYs, options and manifests that
are wrong on purpose. Each gives the right exit code (2 usage, 1 runtime, 0 where the
input is valid after all), a clear `error:` line, never a traceback, and the store
changes only when the command succeeds.

In-process (CliRunner), because a real process cannot receive a NUL in its argv.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import store_content

from keyctl import KeyStore


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str = ""  # in the error line (or, for check, in stdout)
    stdin: str | None = None
    changes: int = 0  # keys the command adds when it succeeds


def _mistyped(secret: str) -> str:
    """The secret with one character changed (the checksum then fails)."""
    i = 12
    return secret[:i] + ("B" if secret[i] != "B" else "C") + secret[i + 1:]


SECRET = "{secret}"  # replaced by the store's real secret for "ok"
MISTYPED = "{mistyped}"

CASES: dict[str, Case] = {
    # names
    "empty name": Case(("create", "-n", "", "-s", "predict"), 2, "cannot be empty"),
    "10 KB name": Case(("create", "-n", "n" * 10240, "-s", "predict"), 2, "at most 64 characters"),
    "name with a newline": Case(("create", "-n", "ci\nbot", "-s", "predict"), 2, "may hold only"),
    "name with a NUL": Case(("create", "-n", "ci\0bot", "-s", "predict"), 2, "may hold only"),
    "name with a right-to-left mark": Case(("create", "-n", "ci\u200fbot", "-s", "predict"), 2, "may hold only"),
    "name with a right-to-left override": Case(("create", "-n", "\u202etob-ic", "-s", "predict"), 2, "may hold only"),
    "name that is an emoji": Case(("create", "-n", "\U0001f511", "-s", "predict"), 2, "may hold only"),
    "name with quotes": Case(("create", "-n", "ci\"bot'", "-s", "predict"), 2, "may hold only"),
    "name that is SQL": Case(("create", "-n", "x'); DROP TABLE keys;--", "-s", "predict"), 2, "may hold only"),
    "name like a secret": Case(("create", "-n", "kc_bot", "-s", "predict"), 2, "may not start with"),
    "name like an id": Case(("create", "-n", "key_bot", "-s", "predict"), 2, "may not start with"),
    "name taken": Case(("create", "-n", "ok", "-s", "predict"), 1, "taken"),
    "rename to SQL": Case(("update", "ok", "-n", "ok' OR '1'='1"), 2, "may hold only"),
    "rename to empty": Case(("update", "ok", "-n", ""), 2, "cannot be empty"),
    # --expires
    "expires garbage": Case(("create", "-s", "predict", "-e", "next tuesday"), 2, "not a time"),
    "expires zero": Case(("create", "-s", "predict", "-e", "0"), 2, "not a time"),
    "expires zero days": Case(("create", "-s", "predict", "-e", "0d"), 2, "not in the future"),
    "expires negative": Case(("create", "-s", "predict", "-e", "-5d"), 2, "not a time"),
    "expires in the past": Case(("create", "-s", "predict", "-e", "2001-09-09"), 2, "not in the future"),
    "expires empty": Case(("create", "-s", "predict", "-e", ""), 2, "not a time"),
    "expires beyond 9999": Case(("create", "-s", "predict", "-e", "99999999d"), 2, "9999"),
    "expires SQL": Case(("update", "ok", "-e", "1d'; DELETE FROM keys;--"), 2, "not a time"),
    # scopes
    "scope with a space": Case(("create", "-s", "inputs get"), 2, "did you mean 'inputs.get'"),
    "scope with stray commas": Case(("create", "-s", "inputs.get,,"), 2, "empty scope name"),
    "scope with a leading comma": Case(("create", "-s", ",predict"), 2, "empty scope name"),
    "scope that is empty": Case(("create", "-s", ""), 2, "empty scope name"),
    "scope that is only a comma": Case(("create", "-s", ","), 2, "empty scope name"),
    "scope that is SQL": Case(("create", "-s", "predict' OR 1=1--"), 2, "unknown scope"),
    "scope with a NUL": Case(("scope", "add", "ok", "inputs.get\0"), 2, "unknown scope"),
    "scope of 10 KB": Case(("create", "-s", "s" * 10240), 2, "unknown scope"),
    "operation with an escape sequence": Case(("check", "ok", "predict\x1b[2J"), 2, "unknown operation"),
    "scope mixed case (valid)": Case(("create", "-s", "Inputs.GET"), 0, changes=1),
    "scope display form (valid)": Case(("create", "-s", "Inputs:Patch,PREDICT"), 0, changes=1),
    "no scope at all": Case(("create", "-n", "bare"), 2, "--scope"),
    "scope set to nothing": Case(("scope", "set", "ok"), 2, "missing argument"),
    # descriptions
    "description with a terminal escape": Case(("create", "-s", "predict", "-d", "ok\x1b[2J\x1b]0;pwned\x07"), 2,
                                                "control character"),
    "description with a NUL": Case(("update", "ok", "-d", "a\0b"), 2, "control character"),
    "description with a bidi override": Case(("update", "ok", "-d", "\u202eevil"), 2, "control character"),
    "description with emoji (valid)": Case(("create", "-s", "predict", "-d", "bot \U0001f916 for CI"), 0, changes=1),
    # KEY
    "KEY empty": Case(("check", "", "predict.call"), 2, "KEY is empty"),
    "KEY empty for show": Case(("show", ""), 2, "KEY is empty"),
    "KEY a secret with one character changed": Case(("check", MISTYPED, "predict.call"), 4, "malformed"),
    "KEY a mistyped secret for show": Case(("show", MISTYPED), 1, "malformed"),
    "KEY a mistyped secret for rotate": Case(("rotate", MISTYPED), 1, "malformed"),
    "KEY a secret with a character added": Case(("check", SECRET + "x", "predict.call"), 4, "malformed"),
    "KEY 1 MB on stdin": Case(("check", "-", "predict.call"), 2, "too long", stdin="k" * 1_000_000),
    "KEY 1 MB on stdin for rotate": Case(("rotate", "-"), 2, "too long", stdin="kc_" * 333_334),
    "KEY nothing on stdin": Case(("check", "-", "predict.call"), 2, "holds no secret", stdin=""),
    "KEY a blank line on stdin": Case(("disable", "-"), 2, "holds no secret", stdin="\n\n"),
    "KEY a 10 KB name": Case(("check", "k" * 10240, "predict.call"), 1, "no key with the name"),
    "KEY with a right-to-left override": Case(("show", "\u202eko"), 1, "no key with the name"),
    "KEY with a NUL": Case(("disable", "ok\0"), 1, "no key with the name"),
    "KEY an unknown id": Case(("delete", "key_aaaaaaaaaaaaaaaa", "--yes"), 1, "no key with the id"),
    "KEY that is SQL": Case(("delete", "' OR 1=1 --", "--yes"), 1, "no key with the name"),
    # options and commands
    "unknown option": Case(("create", "-s", "predict", "--frobnicate"), 2, "no such option"),
    "unknown global option": Case(("--frobnicate", "list"), 2, "no such option"),
    "unknown command": Case(("frobnicate",), 2, "no such command"),
    "unknown operation": Case(("check", "ok", "predict.cal"), 2, "unknown operation"),
    "status garbage": Case(("list", "--status", "revoked"), 2, "not one of"),
    "limit zero": Case(("log", "--limit", "0"), 2, "--limit"),
    "limit text": Case(("log", "--limit", "ten"), 2, "--limit"),
    "delete without --yes and no terminal": Case(("delete", "ok"), 2, "--yes"),
    "--db with a NUL": Case(("--db", "keys\0.db", "list"), 2, "NUL"),
}


@pytest.fixture
def store(db_path: Path) -> str:
    with KeyStore(db_path) as ks:
        secret = ks.create(scopes=["predict"], name="ok").secret
    return secret


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_hostile_input(name: str, store: str, run, db_path: Path) -> None:
    case = CASES[name]
    args = tuple(a.replace(SECRET, store).replace(MISTYPED, _mistyped(store)) for a in case.args)
    before = store_content(db_path)
    r = run(*args, input=case.stdin)
    assert r.code == case.code, r
    assert "Traceback" not in r.stdout + r.stderr
    assert store not in r.stdout + r.stderr  # the real secret is never echoed back
    if case.code in (1, 2):
        errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, r
        assert case.says in errors[0], r
        assert len(errors[0]) < 400  # a 10 KB input is not echoed whole
        assert errors[0].isprintable()  # nor a raw NUL, newline, escape or bidi override
        assert r.stdout == ""
    elif case.code == 4:
        assert case.says in r.stdout, r
    else:
        assert "error:" not in r.stderr
    after = store_content(db_path)
    if case.changes:
        assert len(after[0]) == len(before[0]) + case.changes
        assert len(after[1]) == len(before[1]) + case.changes
    else:
        assert after == before


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


# --- manifests (`keyctl apply`) ---------------------------------------------------------------
def _write(name: str, text: str | bytes) -> "callable":
    def make(tmp: Path) -> Path:
        path = tmp / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path
    return make


def _folder(tmp: Path) -> Path:
    (tmp / "folder.toml").mkdir()
    return tmp / "folder.toml"


MANIFESTS = {
    "nested 5,000 arrays deep": (
        _write("deep.toml", "[keys.a]\nscopes = " + "[" * 5000 + "]" * 5000 + "\n"), "nested too deeply"),
    "nested 3,000 tables deep": (
        _write("tables.toml", "[keys.a]\nscopes = [\"predict\"]\nx = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n"),
        "nested too deeply"),
    "20,000 keys, the last one bad": (
        _write("huge.toml", "".join(f"[keys.k{i}]\nscopes = [\"predict\"]\n" for i in range(20000))
               + "[keys.last]\nscopes = [\"predictt\"]\n"), "keys.last.scopes"),
    "64 MB": (_write("big.toml", "# " + "x" * (64 * 1024 * 1024) + "\n"), "larger than"),
    "binary": (_write("binary.toml", b"\x00\xff\xfe" * 1000), "UTF-8"),
    "a name that is SQL": (
        _write("sql.toml", "[keys.\"x'); DROP TABLE keys;--\"]\nscopes = [\"predict\"]\n"), "DROP TABLE"),
    "a description with a terminal escape": (
        _write("escape.toml", "[keys.ok]\nscopes = [\"predict\"]\ndescription = \"\\u001b[2J\"\n"),
        "control character"),
    "a folder": (_folder, "folder"),
    "missing": (lambda tmp: tmp / "missing.toml", "cannot be read"),
}


@pytest.mark.parametrize("which", MANIFESTS, ids=list(MANIFESTS))
def test_hostile_manifest(which: str, store: str, run, db_path: Path, tmp_path: Path) -> None:
    make, says = MANIFESTS[which]
    path = make(tmp_path)
    before = store_content(db_path)
    r = run("apply", str(path))
    assert r.code == 2, r
    assert "Traceback" not in r.stdout + r.stderr
    errors = r.stderr.splitlines()
    assert errors and all(line.startswith("error: ") for line in errors), r
    assert any(says in line for line in errors), r
    assert path.name in errors[0]
    assert all(len(line) < 400 for line in errors)
    assert store_content(db_path) == before


def test_an_unknown_long_or_unprintable_key_is_named_escaped_and_cut(store: str, run) -> None:
    r = run("show", "k" * 10240)
    assert r.stderr == f"error: no key with the name '{'k' * 80}...'; see `keyctl list`\n"
    r = run("show", "\u202eko")
    assert r.stderr == "error: no key with the name '\\u202eko'; see `keyctl list`\n"


# --- edges found in review: the name '-', empty operation names, empty descriptions ---
def test_dash_cannot_be_a_key_name(run, db_path):
    r = run("create", "-n", "-", "-s", "predict")
    assert r.code == 2
    assert "cannot be '-'" in r.stderr
    assert not db_path.exists()


def test_empty_operation_is_called_an_operation(run):
    assert run("create", "-n", "ci", "-s", "predict").code == 0
    r = run("check", "ci", "")
    assert r.code == 2
    assert r.stderr.startswith("error: empty operation name")


def test_empty_description_means_none(run):
    created = run("create", "-n", "ci", "-s", "predict", "-d", "", "--json")
    assert created.code == 0 and created.json["description"] is None
    assert run("update", "ci", "-d", "CI predictions").code == 0
    cleared = run("update", "ci", "-d", "", "--json")
    assert cleared.code == 0 and cleared.json["description"] is None
    assert run("show", "ci", "--json").json["description"] is None
