"""`keyctl copy` and `keyctl roles-sql`: moving a whole store (to a shared PostgreSQL
database, or to a backup file), and the roles a team's PostgreSQL store uses."""

# No `from __future__ import annotations` here: Typer evaluates the annotations.

import os
from typing import Annotated, Optional

import typer

from .. import render
from ..app import app, state
from ..edge import note, open_keystore
from ..text import printable
from .params import JSON

SOURCE = Annotated[str, typer.Argument(
    metavar="SOURCE", help="The store to copy: a SQLite file or a postgresql:// URL.")]
DEST = Annotated[str, typer.Argument(metavar="DEST", help="An empty store to copy into: a SQLite file or a "
                                     "postgresql:// URL (created when missing).")]


@app.command()
def copy(ctx: typer.Context, source: SOURCE, dest: DEST, as_json: JSON = False) -> None:
    """Copy a whole store into an empty one, from any backend to any backend: every key
    with its secret's hash (so every secret keeps working), the audit trail with its
    times and users, and the catalog.

    The source is read as of one moment; the destination is written in one
    transaction, all of it or nothing, and records a `copy` entry in its audit trail.
    A destination that holds keys or audit entries is refused (exit 1), and so is one
    that keeps another catalog (exit 2). Secrets kept in the OS keyring stay there,
    filed under the key's id, which the copy keeps.

    Examples:

    \b
      keyctl copy ~/.local/share/keyctl/keyctl.db postgresql://alice@db.example.com/keyctl
      keyctl copy postgresql://backup@db.example.com/keyctl "keyctl-$(date +%F).db"
    """
    copied = open_keystore(source, state(ctx).catalog).copy_to(dest)
    state(ctx).done = f"the store was copied to {copied.destination}"
    if as_json:
        render.emit_json(copied.to_dict())
    else:
        entries = "entry" if copied.audit_entries == 1 else "entries"
        render.out(printable(f"Copied {copied.keys} key(s) and {copied.audit_entries} audit {entries} (catalog "
                             f"'{copied.catalog}') from {copied.source} to {copied.destination}.", 10_000))
    if copied.created:
        note(f"created a new store at {copied.destination}")


@app.command("roles-sql")
def roles_sql(
    ctx: typer.Context,
    schema: Annotated[Optional[str], typer.Option(
        "--schema", metavar="NAME", help="keyctl's schema. Default: the first of the search_path in --db's "
        "options, else keyctl.")] = None,
    owner: Annotated[str, typer.Option("--owner", metavar="ROLE", help="The role that owns keyctl's tables.")]
    = "keyctl_owner",
    admin: Annotated[str, typer.Option("--admin", metavar="ROLE", help="The role of people who manage keys.")]
    = "keyctl_admin",
    verify: Annotated[str, typer.Option("--verify", metavar="ROLE", help="The role of services that check keys.")]
    = "keyctl_verify",
) -> None:
    """Print the SQL that prepares a PostgreSQL database for a team's store: keyctl's
    schema and tables, owned by an owner role, and the rights of an admin role (keys:
    read and write; the audit trail: read and add to, never change or delete) and of a
    verify role (read only: check, list, show, log).

    Run it once with psql as a superuser, then give each role a way to log in. It
    prints; it connects to nothing.

    Examples:

    \b
      keyctl roles-sql | psql "postgresql://postgres@db.example.com/keyctl"
      keyctl roles-sql --schema team_keys --verify api_gateway
    """
    from ..store import is_url, pg_schema, pg_url

    given = "--schema"
    if schema is None:
        db = state(ctx).db or os.environ.get("KEYCTL_DB")
        schema = pg_url.schema_of(pg_url.options_of(db)) if is_url(db) else pg_url.DEFAULT_SCHEMA
        given = "the schema of --db's search_path"
    render.write(pg_schema.roles_sql(schema, owner, admin, verify, given))
