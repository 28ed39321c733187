"""The console script builds only the commands named on its command line (start-up,
issue 7; keyctl/cli.py main). A real process must behave exactly as Typer's full
build does: help, errors with did-you-mean, subcommand groups, completion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from keyctl.cli import app

LAZY = "from keyctl.cli import main; main()"  # the console script's entry point
FULL = "from keyctl.cli import app; app(prog_name='keyctl')"  # Typer builds every command


def run(code: str, *args: str, env: dict | None = None) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "100", **(env or {})}, timeout=60)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def store(sh):
    assert sh("create", "-n", "ci", "-s", "predict", "-s", "inputs.get").code == 0


@pytest.mark.parametrize("args", [
    ["--help"], [], ["--version"], ["scope", "--help"], ["scope"], ["catalog", "list"], ["check", "--help"],
    ["chek", "ci"],  # misspelt: the suggestion needs every name
    ["list", "--bogus"], ["scope", "ad", "ci", "search"], ["check", "ci", "inputs.get", "predict.call"],
    ["check", "ci", "inputs.gte"], ["show", "ci", "--json"], ["nothing-like-a-command"],
])
def test_the_console_script_answers_as_the_full_app(store, args):
    assert run(LAZY, *args) == run(FULL, *args)


def test_a_global_option_value_that_is_a_command_name(store, tmp_path, db_path, monkeypatch):
    """`--db list check ...`: the store is named like a command; the command still runs."""
    (tmp_path / "list").write_bytes(db_path.read_bytes())
    (tmp_path / "list").chmod(0o600)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(LAZY, "--db", "list", "check", "ci", "predict.call")
    assert (code, err) == (0, "") and "allowed" in out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("words, cword", [
    ("keyctl ", 1), ("keyctl ch", 1), ("keyctl sc", 1), ("keyctl scope ", 2), ("keyctl scope add c", 3),
    ("keyctl check ci inputs.", 3), ("keyctl catalog ", 2), ("keyctl --db x.db che", 3),
])
def test_completion_is_the_same(store, shell, words, cword):
    # bash passes the words and the index of the current one; Typer's zsh and fish
    # scripts pass the command line in _TYPER_COMPLETE_ARGS.
    env = {"_KEYCTL_COMPLETE": f"complete_{shell}", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    if shell != "bash":
        env = {"_KEYCTL_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": words}
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    lazy = run(LAZY, env=env)
    assert lazy == run(FULL, env=env)
    assert lazy[0] == 0 and lazy[1].strip()  # something was completed


def test_the_app_object_keeps_every_command_after_a_call(store):
    """main() filters Typer's lists only while it runs (tests and gen_man use the app)."""
    before = [c.callback for c in app.registered_commands], [g.typer_instance for g in app.registered_groups]
    from keyctl.cli import main

    with pytest.raises(SystemExit):
        sys_argv, sys.argv = sys.argv, ["keyctl", "--version"]
        try:
            main()
        finally:
            sys.argv = sys_argv
    assert ([c.callback for c in app.registered_commands], [g.typer_instance for g in app.registered_groups]) == before
