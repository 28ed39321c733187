"""A throwaway PostgreSQL server for the tests (a pytest plugin, loaded by conftest.py).

One server per test run, started on first use: Debian's PostgreSQL (``initdb``,
``pg_ctl``; as the ``postgres`` user under ``runuser`` when the tests run as root,
since initdb refuses root), with its data folder and unix socket in a temporary
folder, no TCP (``listen_addresses=''``) and no fsync. Each test gets a schema of its
own in the database ``keyctl`` (``pg_url``). The server is stopped and its folder
removed at the end of the run.

Where no server can be started the tests that need one skip with the reason, unless
KEYCTL_REQUIRE_POSTGRES=1 (.ci/run sets it): then they fail.

Logins: every role is trusted over the socket except ``keyctl_pw``, whose password is
checked (SCRAM), for the wrong-password test.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

DATABASE = "keyctl"
PASSWORD_ROLE, PASSWORD = "keyctl_pw", "right-password"
HBA = f"local all {PASSWORD_ROLE} scram-sha-256\nlocal all all trust\n"


class Unavailable(Exception):
    """No server can be started here; the message says why."""


def unavailable(reason: str) -> None:
    if os.environ.get("KEYCTL_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"KEYCTL_REQUIRE_POSTGRES=1 but no PostgreSQL server could be started: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server for the tests: {reason}")


def _bindir() -> str | None:
    """The folder of initdb and pg_ctl: Debian keeps them out of PATH, by version."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]) if
                   p.split("/")[-2].isdigit() else 0, reverse=True)
    on_path = shutil.which("initdb")
    for folder in found + ([os.path.dirname(os.path.realpath(on_path))] if on_path else []):
        if os.access(os.path.join(folder, "initdb"), os.X_OK) and os.access(os.path.join(folder, "pg_ctl"), os.X_OK):
            return folder
    return None


class PgServer:
    """The server: ``url()`` names a database, user and schema on it; ``sql()`` runs
    statements as the superuser; ``stop()`` and ``start()`` for the fault tests."""

    def __init__(self, root: Path, bindir: str) -> None:
        self.root, self.bindir = root, bindir
        self.data, self.socket, self.log = root / "data", root, root / "server.log"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, tool: str, *args: str) -> None:
        p = subprocess.run([*self.as_postgres, os.path.join(self.bindir, tool), *args], capture_output=True,
                           text=True, timeout=120, cwd="/")
        if p.returncode != 0:
            raise Unavailable(f"{tool} failed: {(p.stderr or p.stdout).strip()[-400:]}")

    def initialise(self) -> None:
        if self.as_postgres:
            if shutil.which("runuser") is None:
                raise Unavailable("running as root, and runuser is missing")
            shutil.chown(self.root, user="postgres")
        self.root.chmod(0o755)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        (self.data / "pg_hba.conf").write_text(HBA)
        self.start()
        self.sql(f"CREATE DATABASE {DATABASE}", database="postgres")
        self.sql(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}' SUPERUSER")

    def start(self) -> None:
        options = (f"-c listen_addresses='' -k {self.socket} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server as a crash would. It commits asynchronously (for speed), so
        what was committed is made durable first, as a real server's commits are."""
        try:
            self.sql("CHECKPOINT")
        except Exception:  # not running: nothing to keep
            pass
        subprocess.run([*self.as_postgres, os.path.join(self.bindir, "pg_ctl"), "-D", str(self.data), "-m", mode,
                        "-w", "stop"], capture_output=True, timeout=120, cwd="/")

    def remove(self) -> None:
        """Stop the server (if it runs) and delete its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, schema: str | None = None, user: str = "postgres", database: str = DATABASE,
            password: str | None = None) -> str:
        login = f"{user}:{quote(password, safe='')}" if password is not None else user
        url = f"postgresql://{login}@/{database}?host={quote(str(self.socket), safe='/')}"
        return url + (f"&options=-csearch_path%3D{schema}" if schema else "")

    def sql(self, *statements: str, database: str = DATABASE) -> list[tuple]:
        """Run statements as the superuser (autocommit); the rows of the last one."""
        import psycopg

        with psycopg.connect(self.url(database=database), autocommit=True) as conn:
            rows: list[tuple] = []
            for statement in statements:
                cursor = conn.execute(statement)
                rows = cursor.fetchall() if cursor.description else []
            return rows


def start_server() -> PgServer:
    """A new server in a new temporary folder (bench/postgres.py uses it too)."""
    bindir = _bindir()
    if bindir is None:
        raise Unavailable("initdb and pg_ctl were not found (apt-get install postgresql)")
    server = PgServer(Path(tempfile.mkdtemp(prefix="keyctl-pg-")), bindir)  # short: socket paths are limited
    try:
        server.initialise()
    except BaseException:
        server.remove()
        raise
    return server


@pytest.fixture(scope="session")
def pg_server():
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        unavailable(f"psycopg is not installed ({exc}); pip install -e '.[test]'")
    try:
        server = start_server()
    except Unavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def pg_schema() -> str:
    """A schema name no other test uses."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_url(pg_server: PgServer, pg_schema: str) -> str:
    """The URL of a store of this test's own (its schema does not exist yet)."""
    return pg_server.url(pg_schema)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path: Path) -> str:
    """A store that does not exist yet, on each backend in turn: the contract tests."""
    if request.param == "sqlite":
        return str(tmp_path / "contract.db")
    return request.getfixturevalue("pg_url")
