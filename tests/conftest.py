"""Shared fixtures. Every test gets its own store in a temporary folder: no test
touches the real home, the real keyring or another test's keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent

# The throwaway PostgreSQL server and the fixtures that run a test on both backends.
pytest_plugins = ["pgserver"]


def rows(db: Path, sql: str, *args) -> list[tuple]:
    """What a query finds in a store, read with a connection of its own (closed after)."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def store_content(db: Path) -> tuple:
    """Every row of every table: the store's content, whatever the WAL holds (what
    "changed nothing" compares)."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return tuple(tuple(conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall())
                     for table in ("keys", "audit", "meta"))
    finally:
        conn.close()


# The seed catalog's scopes in catalog order, written out by hand from the source
# document: an oracle independent of keyctl's catalog file (the catalog and decision
# tests check the code against it).
SEED_SCOPE_IDS = (
    "predict.call", "predict.feedback", "search",
    "inputs.add", "inputs.get", "inputs.patch", "inputs.delete",
    "concepts.add", "concepts.get", "concepts.patch",
    "models.add", "models.get", "models.patch", "models.delete", "models.train",
)


def command_tree() -> list[tuple[tuple[str, ...], object, object]]:
    """(path, command, context) for every visible command of the CLI, groups included,
    walked with click's API (the help, man and completion tests share it)."""
    import typer.main

    from keyctl.cli import app

    out = []

    def walk(cmd, path, parent):
        ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent, **(cmd.context_settings or {}))
        out.append((path, cmd, ctx))
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if not sub.hidden:
                    walk(sub, path + (name,), ctx)

    walk(typer.main.get_command(app), ("keyctl",), None)
    return out


def create_key(run, *scopes: str, name: str | None = None, extra: tuple[str, ...] = ()) -> dict:
    """``keyctl create`` through the CLI, which must succeed; its JSON."""
    args = ["create", "--json"]
    for s in scopes:
        args += ["--scope", s]
    if name is not None:
        args += ["--name", name]
    r = run(*args, *extra)
    assert r.code == 0, r
    return r.json


def warnings(stderr: str) -> list[str]:
    """The ``warning:`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def snapshot(path: Path) -> object:
    """What "left exactly as it was" compares: the bytes of the store (or the listing of
    a directory in its place) and the names in its folder."""
    import hashlib

    folder = path.parent if path.parent.is_dir() else path.parent.parent
    if path.is_dir():
        content: object = sorted(os.listdir(path))
    elif path.exists():
        content = hashlib.sha256(path.read_bytes()).hexdigest()
    else:
        content = None
    return content, sorted(os.listdir(folder))


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point keyctl at a store in tmp_path; keep the OS keyring out of reach."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("KEYCTL_DB", str(tmp_path / "keyctl.db"))
    monkeypatch.delenv("KEYCTL_CATALOG", raising=False)
    monkeypatch.delenv("KEYCTL_DEBUG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    # A test that wants a keyring sets its own backend (keyring.set_keyring).
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return tmp_path


@pytest.fixture
def ks(tmp_path: Path):
    """A KeyStore of its own, closed after the test."""
    from keyctl import KeyStore

    store = KeyStore(tmp_path / "api.db")
    yield store
    store.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "keyctl.db"


class Result:
    """What a user sees: exit code, stdout, stderr (and stdout parsed as JSON)."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def json(self):
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"Result(code={self.code}, stdout={self.stdout[:500]!r}, stderr={self.stderr[:500]!r})"


def pretend_terminal(monkeypatch: pytest.MonkeyPatch, *streams: str) -> None:
    """Make CliRunner's streams named here ("<stdin>", "<stdout>") terminals. CliRunner
    swaps in its own streams at each invocation, so the patch goes on their class."""
    import typer.testing

    # The stream class moved: typer._click.testing on Typer 0.26, typer.testing from 0.27.
    wrapper = getattr(typer.testing, "_NamedTextIOWrapper", None)
    if wrapper is None:
        from typer._click import testing as click_testing

        wrapper = click_testing._NamedTextIOWrapper
    monkeypatch.setattr(wrapper, "isatty", lambda self: self.name in streams, raising=False)


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stdout is a terminal (120 columns unless a test sets COLUMNS)."""
    pretend_terminal(monkeypatch, "<stdout>")
    monkeypatch.setenv("COLUMNS", "120")


def unstyled(text: str) -> str:
    """Terminal output without its styles (NO_COLOR leaves bold and dim)."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture
def run():
    """Run keyctl in-process through Typer's CliRunner: run("create", "-s", "predict")."""
    from keyctl.cli import app

    runner = CliRunner()

    def _run(*args: str, input: str | None = None) -> Result:
        r = runner.invoke(app, list(args), input=input, prog_name="keyctl")
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            raise r.exception
        return Result(r.exit_code, r.stdout, r.stderr)

    return _run


def answering(*args: str, answer: str) -> Result:
    """keyctl as a real process whose stdin is a terminal (a pseudo-terminal) on
    which ``answer`` is typed."""
    import pty

    leader, follower = pty.openpty()
    try:
        p = subprocess.Popen([sys.executable, "-m", "keyctl", *args], stdin=follower, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
        os.write(leader, answer.encode())
        out, err = p.communicate(timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    return Result(p.returncode, out, err)


def in_terminal(*args: str, columns: int = 80, env: dict | None = None) -> Result:
    """keyctl as a real process whose stdout is a terminal (a pseudo-terminal of
    ``columns`` columns, COLUMNS unset): what a person sees, with the newlines the
    terminal driver writes turned back into ``\\n``."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full_env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in ("COLUMNS", "LINES")}
    try:
        p = subprocess.Popen([sys.executable, "-m", "keyctl", *args], stdin=subprocess.DEVNULL, stdout=follower,
                             stderr=subprocess.PIPE, env=full_env, cwd=str(ROOT))
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        err = p.stderr.read().decode()
        code = p.wait(timeout=60)
    finally:
        os.close(leader)
    return Result(code, b"".join(chunks).decode().replace("\r\n", "\n"), err)


@pytest.fixture
def sh():
    """Run keyctl as a real process (python -m keyctl): sh("check", "ci", input=...)."""

    def _sh(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 60) -> Result:
        full_env = {**os.environ, **(env or {})}
        p = subprocess.run(
            [sys.executable, "-m", "keyctl", *args], input=input, capture_output=True,
            text=True, env=full_env, timeout=timeout, cwd=str(ROOT),
        )
        return Result(p.returncode, p.stdout, p.stderr)

    return _sh
