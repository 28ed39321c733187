"""The console script imports only the module of the command named on its command line
(start-up; keyctl/cli.py main). A real process must answer exactly as the app with
every command does: help, errors with did-you-mean, groups, options before and after
the command, completion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from keyctl.cli import COMMANDS, app

LAZY = "from keyctl.cli import main; main()"  # the console script's entry point
FULL = "from keyctl.cli import app; app(prog_name='keyctl')"  # Typer builds every command


def run(code: str, *args: str, env: dict | None = None) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "100", **(env or {})}, timeout=60)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def store(sh):
    assert sh("create", "-n", "ci", "-s", "predict", "-s", "inputs.get").code == 0


def test_every_command_is_where_the_console_script_looks_for_it():
    """COMMANDS (the module of each command, in help order) is the full app's list."""
    import typer.main

    assert list(typer.main.get_command(app).commands) == list(COMMANDS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("args", [
    ["--help"], ["scope", "--help"], ["chek", "ci"], ["list", "--bogus"], ["scope", "ad", "ci", "search"],
    ["--db", "list", "show", "ci", "--json"],
])
def test_the_console_script_answers_as_the_full_app(store, args):
    assert run(LAZY, *args) == run(FULL, *args)


@pytest.mark.parametrize("shell, words, cword", [("bash", "keyctl sc", 1), ("bash", "keyctl scope ", 2),
                                                 ("bash", "keyctl show c", 2), ("zsh", "keyctl scope a", 2)])
def test_completion_is_the_same(store, shell, words, cword):
    # bash passes the words and the index of the current one; Typer's zsh script passes
    # the command line in _TYPER_COMPLETE_ARGS.
    env = {"_KEYCTL_COMPLETE": f"complete_{shell}", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    if shell != "bash":
        env = {"_KEYCTL_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": words}
    lazy = run(LAZY, env=env)
    assert lazy == run(FULL, env=env)
    assert lazy[0] == 0 and lazy[1].strip()  # something was completed
