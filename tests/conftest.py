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


def rows(db: Path, sql: str, *args) -> list[tuple]:
    """What a query finds in a store, read with a connection of its own (closed after)."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


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
