"""`keyctl status`: which store this is, whether it can be used, its catalog and keys."""

import typer

from .. import render
from ..app import app, state
from ..edge import error, open_keystore, warn
from ..errors import EXIT_RUNTIME
from .params import JSON


@app.command()
def status(
    ctx: typer.Context,
    as_json: JSON = False,
) -> None:
    """Say which store keyctl uses, and whether it can be used.

    Prints the store's path, whether it exists yet, its schema version and file
    mode, its catalog (and whether that is built in) and its keys by status; then a
    warning for anything wrong with it (permissions others have, a folder others can
    write). Exit status 0 when the store can be used (one that does not exist yet is
    made by the first write), 1 when it cannot, with the reason.

    Examples:

    \b
      keyctl status
      keyctl --db team.db status --json | jq .keys
    """
    st = state(ctx)
    # Quiet: the report itself names every problem, once.
    report = open_keystore(st.db, st.catalog, quiet=True).status()
    render.store_status(report, as_json)
    for message in report["warnings"]:
        warn(message)
    if not report["usable"]:
        error(report["problem"])
        raise typer.Exit(EXIT_RUNTIME)
