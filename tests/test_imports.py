"""Import discipline (issue 7): the paths paid on every shell-loop iteration and every
TAB load none of the heavy libraries. Deterministic: which modules a real process has
loaded when it exits, never how long it took (timings live in bench/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import keyctl

HEAVY = ("sqlite_utils", "rich", "keyring", "pydantic", "psycopg")  # psycopg: PostgreSQL stores only

# keyctl as the console script runs it, then the names of every loaded module, written
# to a file (stdout belongs to keyctl) once keyctl has exited.
RUNNER = """
import json, runpy, sys
out = sys.argv.pop(1)
sys.argv[0] = "keyctl"
code = 0
try:
    runpy.run_module("keyctl", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
finally:
    with open(out, "w") as f:
        json.dump(sorted(sys.modules), f)
sys.exit(code)
"""


def keyctl_modules(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, set[str]]:
    out = tmp_path / "modules.json"
    p = subprocess.run([sys.executable, "-c", RUNNER, str(out), *args], capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=60)
    return p, set(json.loads(out.read_text()))


def heavy(modules: set[str], names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names)


@pytest.fixture
def small_store(sh) -> str:
    """A real store of a few keys, made by keyctl itself; returns NAME's secret."""
    secret = sh("create", "-n", "NAME", "-s", "predict", "-s", "inputs.get", "--json").json["secret"]
    for i in range(3):
        assert sh("create", "-n", f"user-{i}", "-s", "search").code == 0
    return secret


def test_check_by_name_imports_nothing_heavy(tmp_path, small_store):
    p, modules = keyctl_modules(tmp_path, "check", "NAME", "inputs.get")
    assert p.returncode == 3, p.stderr  # the check really ran: inputs.get is redacted
    assert "redacted" in p.stdout and "inputs.get" in p.stdout
    assert heavy(modules) == []


def test_check_by_secret_and_as_json_imports_nothing_heavy(tmp_path, small_store):
    p, modules = keyctl_modules(tmp_path, "check", small_store, "predict.call", "inputs.get", "--json")
    assert p.returncode == 3, p.stderr
    assert json.loads(p.stdout)["key"]["name"] == "NAME"
    assert heavy(modules) == []


def test_check_from_stdin_imports_nothing_heavy(tmp_path, small_store):
    out = tmp_path / "modules.json"
    p = subprocess.run([sys.executable, "-c", RUNNER, str(out), "check", "-", "predict.call"],
                       input=small_store + "\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert heavy(set(json.loads(out.read_text()))) == []


def test_version_imports_no_library_and_not_the_store(tmp_path, small_store):
    p, modules = keyctl_modules(tmp_path, "--version")
    assert p.returncode == 0 and p.stdout.startswith("keyctl ")
    assert heavy(modules) == []
    # A bare --version is answered before Typer loads (keyctl/cli.py main), and has no
    # business with the store or the decisions.
    assert heavy(modules, ("typer", "click", "sqlite3", "tomllib")) == []
    assert not {"keyctl.app", "keyctl.api", "keyctl.store", "keyctl.decide", "keyctl.catalog"} & modules


def test_version_among_other_options_goes_through_typer(tmp_path, small_store):
    p, modules = keyctl_modules(tmp_path, "--db", "elsewhere.db", "--version")
    assert (p.returncode, p.stdout.split()[:2]) == (0, ["keyctl", keyctl.__version__])
    assert "typer" in modules and heavy(modules) == []
    assert not {"keyctl.api", "keyctl.store", "keyctl.decide", "keyctl.catalog"} & modules


def test_completing_an_operation_imports_nothing_heavy(tmp_path, small_store):
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check NAME inputs.", "COMP_CWORD": "3"}
    p, modules = keyctl_modules(tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    completed = p.stdout.split()
    assert "inputs.get" in completed and "inputs.patch" in completed
    assert "predict.call" not in completed
    assert heavy(modules) == []


def test_completing_a_key_name_imports_nothing_heavy(tmp_path, small_store):
    env = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check user-", "COMP_CWORD": "2"}
    p, modules = keyctl_modules(tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    assert sorted(p.stdout.split()) == ["user-0", "user-1", "user-2"]
    assert heavy(modules) == []


def test_list_json_imports_nothing_heavy(tmp_path, small_store):
    p, modules = keyctl_modules(tmp_path, "list", "--json")
    assert p.returncode == 0, p.stderr
    assert sorted(k["name"] for k in json.loads(p.stdout)) == ["NAME", "user-0", "user-1", "user-2"]
    assert heavy(modules) == []


@pytest.mark.parametrize("args", [
    ("check", "NAME", "inputs.get", "predict.call"),
    ("check", "NAME", "inputs.get", "--db", "keyctl.db", "--json"),
    ("list",),
    ("list", "--json"),
    ("show", "user-2", "--json"),
    ("create", "-n", "another", "-s", "search"),
    ("scope", "add", "user-0", "inputs.get"),
    ("scope", "remove", "NAME", "inputs.get"),
    ("scope", "set", "user-1", "search", "predict"),
    ("update", "user-1", "--description", "a key"),
    ("disable", "user-2"),
    ("rotate", "user-1", "--json"),
    ("delete", "user-0", "--yes"),
    ("log", "--json"),
    ("export",),
], ids=lambda a: " ".join(a[:2]))
def test_commands_on_an_existing_store_import_no_sqlite_utils(tmp_path, small_store, args, monkeypatch):
    """Reads and writes are plain sqlite3; sqlite-utils builds and migrates stores only.
    psycopg is for PostgreSQL stores only; rich and keyring for the commands that use
    them."""
    monkeypatch.chdir(tmp_path)  # where --db keyctl.db is
    p, modules = keyctl_modules(tmp_path, *args)
    assert p.returncode in (0, 3), p.stderr
    assert heavy(modules, ("sqlite_utils", "psycopg", "rich", "keyring")) == []


def test_a_command_loads_only_what_it_uses(tmp_path, small_store):
    """The console script imports the module of the command it runs, and the command
    the parts of keyctl it uses: `list --json` no catalog, no decisions, no table, no
    manifests and no other command; `create` no manifests, plans or decisions."""
    p, modules = keyctl_modules(tmp_path, "list", "--json")
    assert p.returncode == 0, p.stderr
    unused = {"keyctl.catalog", "keyctl.decide", "keyctl.table", "keyctl.plan", "keyctl.manifest",
              "keyctl.commands.check", "keyctl.commands.manifest", "keyctl.commands.catalog", "keyctl.commands.store"}
    assert sorted(unused & modules) == []
    p, modules = keyctl_modules(tmp_path, "create", "-n", "fresh", "-s", "search")
    assert p.returncode == 0, p.stderr
    assert sorted({"getpass", "keyctl.plan", "keyctl.manifest", "keyctl.decide"} & modules) == []
    assert "secrets" in modules  # a new secret comes from the secrets module (README, Security model)


def test_the_write_that_creates_the_store_does_import_sqlite_utils(tmp_path):
    """The discipline test above can fail: the path that builds a store shows the library."""
    p, modules = keyctl_modules(tmp_path, "create", "-n", "first", "-s", "search")
    assert p.returncode == 0, p.stderr
    assert "sqlite_utils" in modules
