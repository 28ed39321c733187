"""Help text: every command, option and argument has some, every command's help ends
with examples, and `keyctl --version` says which keyctl this is."""

from __future__ import annotations

import re

import pytest

import keyctl
from conftest import command_tree




TREE = [(" ".join(path), cmd, ctx) for path, cmd, ctx in command_tree()]
IDS = [path for path, _, _ in TREE]


def test_the_tree_holds_the_commands_of_the_readme():
    for path in ("keyctl", "keyctl create", "keyctl check", "keyctl scope", "keyctl scope add",
                 "keyctl scope remove", "keyctl scope set", "keyctl log", "keyctl scopes"):
        assert path in IDS


@pytest.mark.parametrize("path,cmd,ctx", TREE, ids=IDS)
def test_every_command_option_and_argument_has_help(path, cmd, ctx):
    assert (cmd.help or "").strip(), f"{path} has no help text"
    for param in cmd.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        name = "/".join(param.opts)
        assert (param.help or "").strip(), f"{path}: {name} has no help text"


@pytest.mark.parametrize("path,cmd,ctx", TREE, ids=IDS)
def test_every_command_help_ends_with_examples(path, cmd, ctx):
    text = cmd.help or ""
    assert "Examples:" in text, f"{path}: its help has no 'Examples:' paragraph"
    after = text.split("Examples:", 1)[1]
    lines = [line.strip() for line in after.splitlines() if line.strip() and line.strip() != "\b"]
    assert lines, f"{path}: nothing after 'Examples:'"
    # an example may sit in a pipeline or $(...), but at least one starts the line
    assert any(line.startswith("keyctl ") for line in lines), f"{path}: no example line starts with keyctl"
    assert all("keyctl" in line for line in lines), f"{path}: after the examples comes other text"
    # click's \b marker keeps the example lines as they are
    assert re.search(r"Examples:\s*\n\s*\n\x08\n", text), f"{path}: no \\b line before the examples"


@pytest.mark.parametrize("path", IDS)
def test_help_shows_the_examples_unwrapped(run, path):
    words = path.split()[1:]
    cmd = dict((p, c) for p, c, _ in TREE)[path]
    r = run(*words, "--help")
    assert r.code == 0, r
    assert r.stdout.startswith(f"Usage: {path} ")
    assert "Examples:" in r.stdout
    first = next(line.strip() for line in cmd.help.split("Examples:", 1)[1].splitlines()
                 if line.strip().startswith("keyctl"))
    assert f"\n    {first}\n" in r.stdout  # a whole line, however long


def test_version_in_process(run):
    r = run("--version")
    assert r.code == 0
    assert r.stdout == f"keyctl {keyctl.__version__} (scoped API keys; not the keyutils keyctl)\n"


def test_version_as_a_real_process(sh):
    r = sh("--version")
    assert r.code == 0, r
    assert r.stdout.split()[:2] == ["keyctl", keyctl.__version__]
    assert "not the keyutils keyctl" in r.stdout
    assert r.stderr == ""


def test_version_comes_first_and_needs_no_store(sh, db_path):
    r = sh("--db", str(db_path), "--version")
    assert r.code == 0 and keyctl.__version__ in r.stdout
    assert not db_path.exists()
