"""keyctl/fastpath.py answers `check` and its bash TAB without Typer. Every case here
runs both ways, through the fast path (a real `python -m keyctl` process) and through
Typer (the app itself, in-process), and must print the same and exit the same."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keyctl import fastpath

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(run, db_path):
    assert run("create", "-n", "ci", "-s", "inputs.patch,predict").code == 0
    made = run("create", "-n", "off", "-s", "models.train", "--json")
    assert run("disable", "off").code == 0
    secret = run("create", "-n", "all", "-s", "all", "--json").json["secret"]
    return {"secret": secret, "off_id": made.json["id"], "db": str(db_path)}


def _typer(args, stdin=None, env=None):
    """Typer's path, in-process (the fast path is only in keyctl.cli.main)."""
    from keyctl.cli import app

    r = CliRunner().invoke(app, list(args), input=stdin, env=env, prog_name="keyctl")
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _fast(args, stdin=None, env=None):
    p = subprocess.run([sys.executable, "-m", "keyctl", *args], input=stdin, capture_output=True,
                       text=True, env={**os.environ, **(env or {})}, cwd=str(ROOT), timeout=60)
    return p.returncode, p.stdout, p.stderr


CASES = [
    (["check", "ci", "inputs.get"], None),
    (["check", "ci", "inputs.get", "--json"], None),
    (["check", "--json", "ci", "predict", "models.train"], None),
    (["check", "ci"], None),
    (["check", "ci", "all", "--json"], None),
    (["check", "ci", "inputs.*"], None),
    (["check", "ci", "Inputs:Patch"], None),
    (["check", "ci", "predict.call"], None),
    (["check", "off", "predict.call", "--json"], None),
    (["check", "{off_id}", "models.train"], None),
    (["check", "{secret}", "models.add", "--json"], None),
    (["check", "-", "inputs.get"], "{secret}\n"),
    (["check", "-", "inputs.get"], ""),
    (["check", "kc_" + "A" * 36, "search", "--json"], None),
    (["check", "kc_short", "search"], None),
    (["check", "nope", "search"], None),
    (["check", "ci", "inputs.pach"], None),
    (["check", "ci", ""], None),
    (["check", ""], None),
    (["--db", "{db}", "check", "ci", "search"], None),
    (["--db={db}", "check", "ci", "search", "--json"], None),
    (["--catalog", "clarifai", "check", "ci", "search"], None),
    (["--catalog", "clarifai-live", "check", "ci", "search"], None),
    (["--catalog", "nope", "check", "ci", "search"], None),
    # the global options after the command's name, and given twice
    (["check", "ci", "search", "--db", "{db}"], None),
    (["check", "--db={db}", "ci", "search", "--json"], None),
    (["check", "ci", "--catalog", "clarifai-live", "search"], None),
    (["--db", "{db}", "check", "ci", "search", "--db", "{db}"], None),
    (["--db", "{db}", "check", "ci", "search", "--db", "{db}.other"], None),
    (["--db", "{db}", "--db", "{db}.other", "check", "ci", "search"], None),
    (["check", "ci", "search", "--db"], None),
    (["check", "ci", "search", "--db="], None),
    # --quiet: the exit status alone
    (["check", "ci", "inputs.get", "-q"], None),
    (["check", "--quiet", "ci", "predict.call"], None),
    (["check", "-q", "nope", "search"], None),
    (["check", "ci", "-q", "--json"], None),
]


@pytest.mark.parametrize("args, stdin", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_fast_path_matches_typer(store, args, stdin):
    args = [a.format(**store) for a in args]
    stdin = stdin.format(**store) if stdin is not None else None
    fast = _fast(args, stdin)
    assert fast == _typer(args, stdin)
    assert fast[0] in (0, 1, 2, 3, 4)
    assert "Traceback" not in fast[2]


@pytest.mark.parametrize("args", [
    ["check", "ci", "inputs.get"], ["--db", "x", "check", "k"], ["--catalog=c", "check", "-"],
    ["check", "k", "--db", "x"], ["check", "-q", "k"], ["--db", "x", "check", "k", "--db=x"],
])
def test_plain_check_is_taken_by_the_fast_path(monkeypatch, args):
    seen = []
    monkeypatch.setattr(fastpath, "run_check", lambda a: seen.append(list(a)) or 0)
    assert fastpath.main(args, {}) == 0
    assert seen == [args]


@pytest.mark.parametrize("args", [
    ["check"], ["check", "--help"], ["check", "-h"], ["check", "ci", "--", "x"], ["check", "ci", "--jsn"],
    ["--db", "a", "--db", "b", "check", "ci"], ["--db"], ["--db", "", "check", "ci"], ["--verbose", "check", "ci"],
    ["list"], ["create", "-s", "check"], [], ["--version"], ["scope", "add", "check", "x"],
    ["--db", "a", "check", "ci", "--db", "b"], ["check", "ci", "--db"], ["check", "ci", "--catalog="],
    ["check", "ci", "-q", "--json"], ["check", "ci", "-qq"], ["list", "--db", "x", "check"],
])
def test_everything_else_is_left_to_typer(args, db_path):
    assert fastpath.run_check(args) is None
    assert not db_path.exists()


def test_fast_path_does_not_import_typer(store):
    code = ("import runpy, sys\n"
            "sys.argv = ['keyctl', 'check', 'ci', 'inputs.get']\n"
            "try:\n    runpy.run_module('keyctl', run_name='__main__')\n"
            "except SystemExit as e:\n    code = e.code\n"
            "print('CODE', code, sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich', 'sqlite_utils', 'keyring')))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=60)
    assert p.stdout.strip().splitlines()[-1] == "CODE 3 []", p


# --- bash completion --------------------------------------------------------------------
COMPLETIONS = [
    ("keyctl check ci inputs.", 3),
    ("keyctl check ci ", 3),
    ("keyctl check ci mod", 3),
    ("keyctl check ci MOD", 3),
    ("keyctl check ci a", 3),
    ("keyctl check ci inputs.get inputs.p", 4),
    ("keyctl --db {db} check ci models.", 5),
    ("keyctl check ci --db {db} models.", 5),
    ("keyctl check --catalog clarifai-live ci inputs.", 5),
    ("keyctl check - pre", 3),
    ("keyctl check ci zzz", 3),
]


@pytest.mark.parametrize("words, cword", COMPLETIONS, ids=[w for w, _ in COMPLETIONS])
def test_bash_completion_matches_typer(store, words, cword):
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": words.format(**store), "COMP_CWORD": str(cword)}
    assert fastpath.complete_bash(env) is not None  # the fast path answers these
    fast = _fast([], env=env)
    assert fast == _typer([], env=env)
    assert fast[0] == 0


def test_bash_completion_gives_exactly_the_inputs_operations(store):
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check ci inputs.", "COMP_CWORD": "3"}
    assert _fast([], env=env)[1].split() == ["inputs.add", "inputs.get", "inputs.patch", "inputs.delete"]


@pytest.mark.parametrize("words, cword", [
    ("keyctl check c", 2), ("keyctl che", 1), ("keyctl check ci --js", 3), ("keyctl scope add ci mod", 4),
    ("keyctl check ci --json inp", 4), ('keyctl check "ci inp', 3),
])
def test_other_completions_are_left_to_typer(words, cword):
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    assert fastpath.complete_bash(env) is None
    assert fastpath.complete_bash({**env, "_KEYCTL_COMPLETE": "complete_zsh"}) is None


def test_completion_on_a_refused_store_is_empty_both_ways(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not sqlite at all" * 100)
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": f"keyctl --db {bad} check ci inp", "COMP_CWORD": "5"}
    assert _fast([], env=env) == _typer([], env=env) == (0, "\n", "")


def test_fast_path_reads_the_store_it_is_given(store, tmp_path):
    other = tmp_path / "other.db"
    r = _fast(["--db", str(other), "check", "ci", "search"])
    assert r[0] == 1 and "no key with the name 'ci'" in r[2]
    assert not other.exists()
    # The default store was not touched by that call either.
    assert sqlite3.connect(store["db"]).execute("SELECT count(*) FROM keys").fetchone()[0] == 3


# --- random command lines: whatever the fast path takes, it answers as Typer does --------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WORDS = ["check", "ci", "off", "all", "-", "--json", "--db", "--catalog", "clarifai", "clarifai-live",
         "inputs.get", "inputs.*", "models", "predict.call", "Inputs:Patch", "nope", "", "kc_short",
         "--help", "--", "x" * 100, "inputs.pach", "scope", "list", "-q", "--quiet", "--db={db}",
         "--catalog=clarifai", "{db}"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
def test_random_command_lines_match_typer(store, capsys, monkeypatch, words):
    import io

    args = ["check", *words] if words[0] != "check" and len(words) % 2 else words
    args = [a.format(**store) for a in args]
    monkeypatch.setattr("sys.stdin", io.StringIO(store["secret"] + "\n"))
    capsys.readouterr()
    code = fastpath.run_check(args)
    if code is None:
        return  # left to Typer
    out, err = capsys.readouterr()
    assert (code, out, err) == _typer(args, store["secret"] + "\n")


# --- the clarifai-live catalog: endpoints in Clarifai's spelling, any case typed ---------
@pytest.fixture
def live(run, db_path):
    assert run("--catalog", "clarifai-live", "create", "-n", "web", "-s", "predict,apps.get").code == 0
    return {"db": str(db_path)}


LIVE_CASES = [
    ["check", "web", "PostModelOutputs"],
    ["check", "web", "postmodeloutputs", "DELETEAPP", "--json"],
    ["check", "web", "Models_Get", "models"],
    ["check", "web"],
    ["check", "web", "--json"],
    ["check", "web", "ListStatusCodes", "MyScopes", "ListScopes"],
    ["check", "web", "PostModelOutput"],
]


@pytest.mark.parametrize("args", LIVE_CASES, ids=[" ".join(a) for a in LIVE_CASES])
def test_live_catalog_both_ways(live, args):
    fast = _fast(args)
    assert fast == _typer(args)
    assert fast[0] in (0, 2, 4)


LIVE_COMPLETIONS = ["keyctl check web postmodel", "keyctl check web PostModelO", "keyctl check web ",
                    "keyctl check web deleteap", "keyctl check web ALL", "keyctl check web models.g"]


@pytest.mark.parametrize("words", LIVE_COMPLETIONS)
def test_live_catalog_completion_matches_typer(live, words):
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": "3"}
    assert fastpath.complete_bash(env) is not None
    fast = _fast([], env=env)
    assert fast == _typer([], env=env)


def test_live_catalog_completion_offers_endpoints_in_clarifai_spelling(live):
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check web postmodelo", "COMP_CWORD": "3"}
    assert _fast([], env=env)[1].split() == ["PostModelOutputs"]
    env["COMP_WORDS"] = "keyctl check web ListInput"
    assert _fast([], env=env)[1].split() == ["ListInputs", "ListInputsAddJobs", "ListInputsExtractionJobs"]
