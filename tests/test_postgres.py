"""What only the PostgreSQL backend has, against a real server (tests/pgserver.py): the
URL and its schema, a password that is never shown, the roles of `keyctl roles-sql`,
faults (a server stopped mid-apply, refused connections, a wrong password, a role
without rights), parallel writers, schema versions, and a machine without psycopg."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from keyctl import KeyStore
from keyctl.decide import Outcome
from keyctl.errors import NameTakenError, StoreError
from keyctl.store import SCHEMA_VERSION
from keyctl.store import pg_schema as ddl

ROOT = Path(__file__).resolve().parent.parent


def one_error(result, *words: str) -> None:
    """Exit 1 and one `error:` line holding every word."""
    assert result.code == 1, result
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result
    for word in words:
        assert word in result.stderr, (word, result)


@pytest.fixture
def database(pg_server) -> str:
    """A database of this test's own (the default schema is per database)."""
    name = f"d_{uuid.uuid4().hex[:10]}"
    pg_server.sql(f"CREATE DATABASE {name} STRATEGY FILE_COPY", database="postgres")  # faster with fsync off
    return name


def test_postgres_schema_has_every_sqlite_migration():
    assert ddl.version() == SCHEMA_VERSION


def test_without_psycopg_a_url_is_one_error_naming_the_extra(tmp_path):
    code = ("import sys; sys.modules['psycopg'] = None; from keyctl.cli import main; "
            "sys.argv = ['keyctl', *sys.argv[1:]]; main()")
    for args in (["--db", "postgresql://ann:hunter22@db.example.com/keyctl", "list"], ["check", "ci", "search"]):
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "KEYCTL_DB": "postgres://ann:hunter22@db.example.com/keyctl"})
        assert p.returncode == 1 and p.stderr.count("\n") == 1, p
        assert "pip install 'keyctl[postgres]'" in p.stderr and "ann:***@db.example.com" in p.stderr
        assert "hunter22" not in p.stderr


# --- the URL, the schema ------------------------------------------------------------------
def test_the_default_schema_and_a_database_that_holds_other_tables(pg_server, database, run):
    pg_server.sql("CREATE TABLE public.keys (id int)", "INSERT INTO public.keys VALUES (7)",
                  "CREATE TABLE public.meta (x text)", database=database)
    url = pg_server.url(database=database).replace("postgresql://", "postgres://")
    assert run("--db", url, "list", "--json").json == []
    assert run("--db", url, "check", "nobody", "search").code == 1
    assert pg_server.sql("SELECT nspname FROM pg_namespace WHERE nspname = 'keyctl'", database=database) == []
    assert run("--db", url, "create", "-n", "ci", "-s", "search").code == 0
    tables = pg_server.sql("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema "
                           "IN ('public', 'keyctl') ORDER BY 1, 2", database=database)
    assert tables == [("keyctl", "audit"), ("keyctl", "keys"), ("keyctl", "meta"), ("public", "keys"),
                      ("public", "meta")]
    assert pg_server.sql("SELECT * FROM public.keys", database=database) == [(7,)]
    # the search_path of the URL's options names the schema; '=' may be written as is
    team = pg_server.url(database=database) + "&options=-c%20search_path=team,public"
    assert run("--db", team, "list", "--json").json == []
    assert run("--db", team, "create", "-n", "other", "-s", "search").code == 0
    assert pg_server.sql("SELECT name FROM team.keys", database=database) == [("other",)]


def test_a_bad_url_is_a_usage_error(run):
    r = run("--db", "postgresql://ann:hunter22@/keyctl?sslmode=sometimes&colour=blue", "list")
    assert r.code == 2 and r.stderr.count("\n") == 1 and "hunter22" not in r.stderr, r
    r = run("--db", "postgresql:///keyctl?options=-csearch_path%3Dbad%25name", "list")
    assert r.code == 2 and "schema" in r.stderr, r


def test_the_password_is_never_shown(pg_server, pg_schema, run, tmp_path):
    url = pg_server.url(pg_schema, user="keyctl_pw", password="right-password")
    made = run("--db", url, "create", "-n", "ci", "-s", "search", "--json")
    assert made.code == 0, made
    backup = tmp_path / "b.db"
    with KeyStore(url) as ks:
        status = ks.status()
        copied = ks.copy_to(backup)
    assert "keyctl_pw:***@" in status["location"] and "keyctl_pw:***@" in copied.source
    assert any("password" in w for w in status["warnings"])
    outputs = [str(status), str(copied), run("--db", str(backup), "log", "--json").stdout,
               run("--db", url, "copy", url, str(tmp_path / "c.db")).stdout]
    wrong = run("--db", url.replace("right-password", "wrong-password"), "list")
    one_error(wrong, "refused the login", "keyctl_pw:***@")
    in_query = run("--db", pg_server.url(pg_schema, user="keyctl_pw") + "&password=wrong-password", "list")
    one_error(in_query, "refused the login", "password=***")
    for text in outputs + [wrong.stderr, in_query.stderr]:
        assert "right-password" not in text and "wrong-password" not in text


# --- faults: one error line each, nothing partly written ----------------------------------------
def test_a_server_that_cannot_be_reached_or_a_database_that_is_missing(pg_server, tmp_path, run, sh):
    nowhere = f"postgresql://ann@/keyctl?host={tmp_path}"  # no server's socket there
    for args in (("list",), ("create", "-s", "search"), ("check", "ci", "search")):
        one_error(run("--db", nowhere, *args), "cannot be reached", "is the server running")
    one_error(run("--db", "postgresql://ann:hunter22@127.0.0.1:1/keyctl", "list"), "cannot be reached",
              "Connection refused", "ann:***@127.0.0.1:1")
    one_error(sh("--db", nowhere, "check", "ci", "search"), "cannot be reached")  # the fast path
    one_error(run("--db", pg_server.url(database="nowhere"), "list"), "database that does not exist")


@pytest.mark.parametrize("url, problem", [
    ("postgresql://ann:hunter22@127.0.0.1:1/keyctl", "cannot be reached"),
    ("postgresql://ann:hunter22@/keyctl?host={socket}", "refused the login"),  # no such role
    ("postgresql://postgres:hunter22@/nowhere?host={socket}", "database that does not exist"),
])
def test_status_of_a_server_that_cannot_be_used_is_a_report_with_the_reason(pg_server, run, url, problem):
    """`status --json` answers as for a SQLite store that cannot be used: the report,
    usable false and the problem, exit 1 (not an error alone, which a script would have
    to tell from the report)."""
    url = url.format(socket=pg_server.socket)
    r = run("--db", url, "status", "--json")
    assert r.code == 1, r
    assert r.json["usable"] is False and problem in r.json["problem"], r.json
    assert (r.json["backend"], r.json["catalog"], r.json["keys"]) == ("postgresql", None, None)
    assert r.stderr.splitlines()[-1] == f"error: {r.json['problem']}"
    human = run("--db", url, "status")
    assert human.code == 1 and "cannot be used (below)" in human.stdout and "does not exist yet" not in human.stdout
    for text in (r.stdout, r.stderr, human.stdout, human.stderr):
        assert "hunter22" not in text


def test_a_lock_held_too_long_is_one_error_and_writes_nothing(pg_server, pg_url, pg_schema, run, monkeypatch):
    import psycopg

    from keyctl.store import pg_errors

    assert run("--db", pg_url, "create", "-n", "ci", "-s", "search").code == 0
    monkeypatch.setattr(pg_errors, "LOCK_TIMEOUT_S", 0.25)
    with psycopg.connect(pg_server.url(pg_schema)) as other:  # another writer, in the middle of its change
        other.execute(f"SELECT value FROM {pg_schema}.meta WHERE key = 'schema_version' FOR UPDATE")
        for args in (("create", "-n", "late", "-s", "search"), ("scope", "add", "ci", "predict")):
            one_error(run("--db", pg_url, *args), "another process held it locked for 0.25 s", "try again")
    assert [(k["name"], k["scopes"]) for k in run("--db", pg_url, "list", "--json").json] == [("ci", ["search"])]


def test_a_role_without_rights(pg_server, pg_url, pg_schema, run):
    role = f"r_{uuid.uuid4().hex[:8]}"
    pg_server.sql(f"CREATE ROLE {role} LOGIN")
    assert run("--db", pg_url, "create", "-n", "ci", "-s", "search").code == 0
    stranger = pg_server.url(pg_schema, user=role)
    for args in (("list",), ("check", "ci", "search"), ("create", "-s", "search"), ("scope", "add", "ci", "predict")):
        one_error(run("--db", stranger, *args), f"by the role {role}", "permission denied", "keyctl roles-sql")
    # nor may it create a store: no right to create a schema in that database
    one_error(run("--db", pg_server.url(pg_schema + "x", user=role), "create", "-s", "search"), "permission denied")
    assert [k["name"] for k in run("--db", pg_url, "list", "--json").json] == ["ci"]


def test_the_server_stopped_mid_apply_applies_nothing(pg_server, pg_url, tmp_path):
    service = KeyStore(pg_url)  # a long-lived handle, as a service keeps
    secret = service.create(scopes=["search"], name="before").secret
    manifest = tmp_path / "big.toml"
    manifest.write_text('[keys.before]\nscopes = ["search"]\n'
                        + "".join(f'[keys.k{i}]\nscopes = ["predict"]\n' for i in range(3000)))
    stderr = (tmp_path / "stderr").open("w+")  # the plan goes there: a pipe would fill up
    p = subprocess.Popen([sys.executable, "-m", "keyctl", "--db", pg_url, "apply", str(manifest), "--json"],
                         stdout=subprocess.PIPE, stderr=stderr, cwd=str(ROOT))
    # The secrets are printed before the commit; with more of them than a pipe holds,
    # keyctl waits inside its transaction until they are read.
    assert os.read(p.stdout.fileno(), 1) == b"{"  # unbuffered: the rest stays in the pipe
    pg_server.stop()
    pg_server.start()
    out, _ = p.communicate(timeout=120)
    stderr.seek(0)
    err = stderr.read()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert p.returncode == 1 and len(errors) == 1, err
    assert "connection to the server was lost" in errors[0] and "nothing was applied" in errors[0]
    assert b'"created"' in out
    assert [k.name for k in service.list()] == ["before"]  # and the service reconnected
    assert service.check(secret, "search").outcome is Outcome.ALLOWED
    service.close()


def test_a_forked_child_opens_a_session_of_its_own(pg_url):
    """A pre-forking server loads keyctl in the parent: its workers must not share the
    parent's connection (two processes on one socket mix up their answers)."""
    with KeyStore(pg_url) as ks:
        secret = ks.create(scopes=["search"]).secret
        parent = ks.store._run("SELECT pg_backend_pid()").fetchone()[0]
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its own session, then the same checks as ever
            ok = ks.check(secret, "search").outcome is Outcome.ALLOWED
            os.write(write, f"{ks.store._run('SELECT pg_backend_pid()').fetchone()[0]} {ok}".encode())
            ks.close()
            os._exit(0)
        os.waitpid(pid, 0)
        child, ok = os.read(read, 100).decode().split()
        assert (int(child) != parent, ok) == (True, "True")
        assert ks.store._run("SELECT pg_backend_pid()").fetchone()[0] == parent  # the parent's session lives on
        assert ks.check(secret, "search").outcome is Outcome.ALLOWED


def test_the_name_constraint_is_the_name_taken_error(pg_url):
    with KeyStore(pg_url) as ks:
        ks.create(scopes=["search"], name="ci")
        row = ks.store.by("name", "ci")
        with pytest.raises(NameTakenError), ks.store.transaction() as tx:
            tx.insert_keys([(row._replace(id="key_aaaaaaaaaaaaaaaa"), "another hash")])
        assert [k.name for k in ks.list()] == ["ci"]


# --- roles ----------------------------------------------------------------------------------------
def test_the_roles_of_roles_sql(pg_server, database, run, sh, tmp_path):
    tag = uuid.uuid4().hex[:6]
    owner, admin, verify = f"o_{tag}", f"a_{tag}", f"v_{tag}"
    script = run("roles-sql", "--owner", owner, "--admin", admin, "--verify", verify)
    assert script.code == 0 and "psql" in script.stdout
    pg_server.sql(script.stdout, database=database)
    as_admin, as_verify = (pg_server.url(database=database, user=r) for r in (admin, verify))
    laptop = tmp_path / "laptop.db"
    secret = run("--db", str(laptop), "create", "-n", "ci", "-s", "inputs.patch", "--json").json["secret"]
    assert run("copy", str(laptop), as_admin).code == 0
    assert run("--db", as_admin, "scope", "add", "ci", "concepts.get").code == 0
    # the verify role reads: check (a real process), list, show, log, and the library
    assert sh("--db", as_verify, "check", "-", "inputs.get", input=secret + "\n").code == 0
    assert [k["name"] for k in run("--db", as_verify, "list", "--json").json] == ["ci"]
    assert run("--db", as_verify, "show", "ci").code == 0
    assert [e["action"] for e in run("--db", as_verify, "log", "--json").json] == ["scope.add", "copy", "create"]
    with KeyStore(as_verify) as service:
        assert service.check(secret, "inputs.patch").outcome is Outcome.ALLOWED
        with pytest.raises(StoreError, match="permission denied"):
            service.disable("ci")
    # and may not write: one line, nothing written
    for args in (("create", "-s", "search"), ("disable", "ci"), ("catalog", "upgrade", "clarifai-live", "--yes")):
        one_error(run("--db", as_verify, *args), f"cannot be written by the role {verify}", "permission denied")
    # the admin role adds to the audit trail and can neither change nor delete it
    import psycopg

    with psycopg.connect(as_admin, autocommit=True) as conn:
        for statement in ("UPDATE keyctl.audit SET actor = 'someone else'", "DELETE FROM keyctl.audit"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert run("--db", as_admin, "delete", "ci", "--yes").code == 0
    assert sh("--db", as_verify, "check", secret, "inputs.get").code == 4
    owners = pg_server.sql("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'keyctl'", database=database)
    assert owners == [(owner,)]


def test_the_readme_shows_the_rights_roles_sql_grants(run):
    block = (ROOT / "README.md").read_text().split("```sql\n", 1)[1].split("```", 1)[0]
    printed = run("roles-sql").stdout.splitlines()
    assert block.count("GRANT") == 5 and all(line in printed for line in block.splitlines())


# --- writers at once, schema versions ----------------------------------------------------------------
def test_four_processes_of_fifty_creates_race_to_create_the_store_and_lose_nothing(pg_server, pg_url, pg_schema,
                                                                                  tmp_path):
    go = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "load.py"), "writer", pg_url, f"p{p}", "50",
                                 str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
               for p in range(4)]
    time.sleep(0.3)  # not a measurement: lets the workers import keyctl before the start line
    go.touch()
    results = [w.communicate(timeout=300) + (w.returncode,) for w in writers]
    notes = [err for _, err, _ in results if err]
    assert [code for _, _, code in results] == [0] * 4
    assert len(notes) == 1 and notes[0].startswith("note: created a new store at postgresql://"), notes
    names = {n for (n,) in pg_server.sql(f"SELECT name FROM {pg_schema}.keys")}
    assert names == {f"p{p}-{i}" for p in range(4) for i in range(50)}
    creates = pg_server.sql(f"SELECT count(*), count(DISTINCT key_id) FROM {pg_schema}.audit WHERE action = 'create'")
    assert creates == [(200, 200)]


def test_a_newer_schema_is_refused_and_an_upgrade_runs_once_under_the_lock(pg_server, pg_url, pg_schema, run,
                                                                           monkeypatch):
    assert run("--db", pg_url, "create", "-n", "ci", "-s", "search").code == 0
    monkeypatch.setattr(ddl, "UPGRADES", ((SCHEMA_VERSION + 1, ("ALTER TABLE {s}.keys ADD COLUMN note text",)),))
    stores = [KeyStore(pg_url) for _ in range(4)]
    threads = [threading.Thread(target=lambda ks=ks: list(ks.list())) for ks in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    version = pg_server.sql(f"SELECT value FROM {pg_schema}.meta WHERE key = 'schema_version'")
    column = pg_server.sql(f"SELECT count(*) FROM information_schema.columns WHERE table_schema = '{pg_schema}' "
                           "AND column_name = 'note'")
    assert (version, column) == ([(str(SCHEMA_VERSION + 1),)], [(1,)])
    assert [k.name for k in stores[0].list()] == ["ci"]
    for ks in stores:
        ks.close()
    monkeypatch.undo()
    for args in (("list",), ("create", "-s", "search"), ("check", "ci", "search")):
        one_error(run("--db", pg_url, *args), "newer keyctl", f"schema {SCHEMA_VERSION + 1}")


def test_check_on_postgres_loads_psycopg_and_nothing_else_heavy(pg_url, tmp_path, run):
    """The other side of tests/test_imports.py, where SQLite paths never load psycopg."""
    from test_imports import heavy, keyctl_modules

    assert run("--db", pg_url, "create", "-n", "ci", "-s", "search").code == 0
    p, modules = keyctl_modules(tmp_path, "--db", pg_url, "check", "ci", "search")
    assert p.returncode == 0, p.stderr
    assert heavy(modules) == ["psycopg"] + sorted(m for m in modules if m.startswith("psycopg."))
    assert "typer" not in modules


def test_a_store_describes_itself_without_its_password(pg_server, pg_url):
    with KeyStore(pg_url) as ks:
        before = ks.store.describe()
        ks.create(scopes=["search"])
        after = ks.store.describe()
    assert (before["exists"], before["schema_version"], after["exists"], after["schema_version"]) == (
        False, None, True, SCHEMA_VERSION)
    assert after["backend"] == "postgresql" and after["mode"] is None and after["warnings"] == []
    unreachable = KeyStore("postgresql://ann@/keyctl?host=/nonexistent").store.describe()  # reported, not raised
    assert "cannot be reached" in unreachable["problem"] and unreachable["exists"] is False


def test_what_psycopg_logs_while_a_lost_connection_is_torn_down_never_reaches_stderr():
    """A server stopped in the middle of a batch of writes made psycopg log "error ignored
    terminating <psycopg.Pipeline [BAD]>", which Python printed beside keyctl's one
    error line. An application that configures logging still gets the record."""
    code = ("import logging; import keyctl.store.postgres; "
            "logging.getLogger('psycopg').warning('error ignored terminating %s', 'pipeline')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert (p.returncode, p.stderr) == (0, ""), p
    configured = "import logging; logging.basicConfig(); " + code
    p = subprocess.run([sys.executable, "-c", configured], capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert "error ignored terminating pipeline" in p.stderr, p


def test_roles_sql_names_where_a_bad_schema_came_from(run):
    r = run("--db", "postgresql://u@h/db?options=-csearch_path%3Dbad%22x", "roles-sql")
    assert r.code == 2 and r.stderr.startswith("error: the schema of --db's search_path 'bad\"x'"), r


@pytest.mark.parametrize("args, problem", [
    (("--owner", "same", "--admin", "same"), "three different roles"),
    (("--verify", "keyctl_owner"), "three different roles"),
    (("--schema", 'bad"name'), "schema name is 1 to 63"),
    (("--schema", "x" * 64), "schema name is 1 to 63"),
    (("--admin", ""), "a role name is 1 to 63 bytes"),
    (("--owner", "a\x1b[31mRED"), "printable text"),  # no escape reaches the terminal or the SQL
    (("--verify", "x\u202ey"), "printable text"),
    (("--schema", "a\x1b]8;;http://evil/\x07link"), "schema name is 1 to 63"),
    (("--owner", "public"), "PostgreSQL reserves that role name"),  # psql: role name "public" is reserved
    (("--admin", "pg_keys"), "PostgreSQL reserves that role name"),
    (("--verify", "none"), "PostgreSQL reserves that role name"),
    (("--schema", "pg_keys"), "PostgreSQL reserves it or already has it"),
    (("--schema", "public"), "PostgreSQL reserves it or already has it"),
])
def test_roles_sql_refuses_what_would_fail_in_psql_or_that_keyctl_would_not_use(run, args, problem):
    """Two parts for one role made psql fail at the second CREATE ROLE (and roll back);
    a schema keyctl refuses in a URL made SQL for a store nobody could open."""
    r = run("roles-sql", *args)
    assert r.code == 2 and r.stdout == "" and problem in r.stderr, r
