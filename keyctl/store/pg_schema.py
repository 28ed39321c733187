"""keyctl's schema on PostgreSQL, and the SQL that sets up roles for a team. No
psycopg here: ``keyctl roles-sql`` prints this without a driver installed.

The tables are SQLite's schema (keyctl/store/migrations.py) in PostgreSQL's words:
the same columns and indexes, the same text forms (times as ISO text, scopes as a
JSON array), with an identity column ``seq`` where SQLite orders by ``rowid``, and
``COLLATE "C"`` on the columns compared or sorted so that order and prefix ranges are
byte order, as on SQLite, whatever the database's collation. Every name is
qualified with keyctl's schema: a database that holds other tables is used only
inside that schema. The schema version is the ``schema_version`` row of ``meta``,
which is also the row every write transaction locks first.
"""

from __future__ import annotations

import re

from ..errors import UsageError
from ..text import printable

# keyctl's schema: a name it uses as it is (quoted, but never needing to be).
SCHEMA_NAME = re.compile(r"[A-Za-z0-9_$-]{1,63}")
SCHEMA_RULE = "1 to 63 letters, digits, '_', '$' or '-'"


# The whole schema as of SQLite's version 4 (the first that PostgreSQL stores have).
INITIAL_VERSION = 4
CREATE = (
    """CREATE TABLE {s}.meta (
    key text COLLATE "C" PRIMARY KEY,
    value text)""",
    """CREATE TABLE {s}.keys (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    id text COLLATE "C" PRIMARY KEY,
    name text COLLATE "C",
    description text,
    scopes text NOT NULL,
    secret_hash text COLLATE "C" NOT NULL,
    hint text NOT NULL,
    created_at text COLLATE "C" NOT NULL,
    updated_at text NOT NULL,
    expires_at text COLLATE "C",
    disabled integer NOT NULL DEFAULT 0,
    in_keyring integer NOT NULL DEFAULT 0,
    expires_spec text,
    CONSTRAINT keys_name_key UNIQUE (name),
    CONSTRAINT keys_secret_hash_key UNIQUE (secret_hash))""",
    "CREATE INDEX keys_created_at ON {s}.keys (created_at, seq)",
    """CREATE TABLE {s}.audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at text NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    key_id text COLLATE "C",
    key_name text COLLATE "C",
    details text NOT NULL)""",
    "CREATE INDEX audit_key_id ON {s}.audit (key_id, id)",
    "CREATE INDEX audit_key_name ON {s}.audit (key_name, id)",
)

# What each later schema version changes, in order: (version, statements). A SQLite
# migration added to keyctl/store/migrations.py gets its PostgreSQL statements here
# (tests/test_postgres.py holds the two versions equal).
UPGRADES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (5, ("CREATE INDEX keys_lower_name ON {s}.keys (lower(name))",)),
)

# The unique constraint whose violation means "that name is taken".
NAME_CONSTRAINT = "keys_name_key"


def version() -> int:
    """The schema version this keyctl builds."""
    return UPGRADES[-1][0] if UPGRADES else INITIAL_VERSION



def ident(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def statements(schema: str, since: int | None = None) -> list[str]:
    """The statements that build the schema (``since`` None) or bring it from version
    ``since`` to this keyctl's."""
    s = ident(schema)
    todo = list(CREATE) if since is None else []
    todo += [sql for v, group in UPGRADES if since is None or v > since for sql in group]
    return [sql.format(s=s) for sql in todo]


TABLES = ("meta", "keys", "audit")
ROLES = {"owner": "keyctl_owner", "admin": "keyctl_admin", "verify": "keyctl_verify"}


def roles_sql(schema: str = "keyctl", owner: str = ROLES["owner"], admin: str = ROLES["admin"],
              verify: str = ROLES["verify"], schema_from: str = "--schema") -> str:
    """A script for psql, run once by a superuser: the three roles, keyctl's schema and
    tables owned by the owner role, and each role's rights on them. UsageError for a
    schema keyctl would not use, or for one role named for two parts."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise UsageError(f"{schema_from} '{printable(schema)}': keyctl's schema name is {SCHEMA_RULE}")
    if schema.lower().startswith("pg_") or schema.lower() in ("public", "information_schema"):
        raise UsageError(f"{schema_from} '{schema}': PostgreSQL reserves it or already has it; name a schema of "
                         "keyctl's own")
    for flag, role in (("--owner", owner), ("--admin", admin), ("--verify", verify)):
        if not 1 <= len(role.encode("utf-8", "surrogatepass")) <= 63 or not role.isprintable():
            raise UsageError(f"{flag} '{printable(role)}': a role name is 1 to 63 bytes of printable text")
        if role.lower().startswith("pg_") or role.lower() in ("public", "none", "current_role", "current_user",
                                                               "session_user"):
            raise UsageError(f"{flag} '{role}': PostgreSQL reserves that role name")
    if len({owner, admin, verify}) < 3:
        raise UsageError("--owner, --admin and --verify name three different roles: each has rights of its own")
    s, o, a, v = ident(schema), ident(owner), ident(admin), ident(verify)
    tables = "\n".join(sql + ";" for sql in statements(schema))
    return f"""\
-- keyctl's schema and roles on PostgreSQL (from `keyctl roles-sql`, schema version {version()}).
-- Run it once as a superuser, connected to the database the team's URL names, e.g.
--   keyctl roles-sql | psql "postgresql://postgres@db.example.com/keyctl"
-- then give each role a way to log in: a password (\\password {admin} in psql) kept
-- by its users in ~/.pgpass, or client certificates (pg_hba.conf).
BEGIN;
CREATE ROLE {o} LOGIN;  -- creates and upgrades keyctl's tables (a newer keyctl's first write)
CREATE ROLE {a} LOGIN;  -- creates and changes keys; may only add to the audit trail
CREATE ROLE {v} LOGIN;  -- reads only: check, list, show, log (services that check keys)
CREATE SCHEMA {s} AUTHORIZATION {o};
GRANT USAGE ON SCHEMA {s} TO {a}, {v};
SET LOCAL ROLE {o};
{tables}
INSERT INTO {s}.meta (key, value) VALUES ('schema_version', '{version()}');
GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.keys TO {a};
GRANT SELECT, INSERT, UPDATE ON {s}.meta TO {a};
GRANT SELECT, INSERT ON {s}.audit TO {a};
GRANT SELECT ON {s}.keys, {s}.meta, {s}.audit TO {v};
COMMIT;
"""
