"""`check` (what the API would do with a key) and `scopes` (the catalog)."""

from typing import Annotated, List, Optional

import typer

from .. import render
from ..app import app, complete_operation, read_key, state
from ..edge import EXIT_FOR_OUTCOME
from ..errors import UsageError
from .params import JSON, KEY


@app.command()
def check(
    ctx: typer.Context,
    key: KEY,
    operations: Annotated[Optional[List[str]], typer.Argument(
        metavar="[OPERATION]...", autocompletion=complete_operation,
        help="Operations (in any case), groups or resources (their operations) or all. None means every operation.")] = None,
    as_json: JSON = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print nothing: only the exit status tells (errors still go to stderr).")] = False,
) -> None:
    """Simulate what the API would do with KEY for each OPERATION.

    Each outcome is allowed, redacted (a small part of the response hidden, such as
    an input's concepts without concepts.get) or rejected, with the reason, the
    missing scopes and whether the call consumes an Operation (where the catalog
    says). A secret with a bad checksum is rejected as CONN_KEY_INVALID (11008), an
    unknown one as CONN_KEY_NOT_FOUND (11009). Over more than 30 operations the
    report is grouped by resource. Exit status: 0 all allowed, 3 worst is redacted,
    4 worst is rejected; --quiet prints nothing else.

    Examples:

    \b
      keyctl check ci-bot inputs.get inputs.patch
      keyctl --catalog clarifai-live check web PostModelOutputs
      printf '%s\\n' "$SECRET" | keyctl check - predict.call --json
      keyctl check ci-bot models.train -q || echo "ci-bot cannot train"
    """
    if quiet and as_json:
        raise UsageError("--quiet prints nothing; give --quiet or --json, not both")
    ks = state(ctx).keystore()
    report = ks.check_many(read_key(key), operations or ())
    if not quiet:
        render.check(report, as_json, ks.catalog)
    raise typer.Exit(EXIT_FOR_OUTCOME[report.outcome.value])


@app.command()
def scopes(
    ctx: typer.Context,
    no_headers: Annotated[bool, typer.Option(
        "--no-headers", help="No header line in the tab-separated lines printed to a pipe.")] = False,
    as_json: JSON = False,
) -> None:
    """Show the scope catalog: groups, scopes, prerequisites, billing, redaction.

    Each scope with its other names (an API's own, such as Models_Get), marked when
    deprecated or hidden; billing only where the catalog says it. At a terminal, a
    tree of groups and scopes; piped, one scope per line, tab-separated (SCOPE,
    GROUP, REQUIRES, BILLABLE, ALIASES, MARKS, DESCRIPTION), under a header.

    Examples:

    \b
      keyctl scopes
      keyctl scopes --json | jq '.scopes[] | select(.billable) | .id'
      keyctl scopes --no-headers | awk -F'\\t' '$4 == "yes" {print $1}'
    """
    ks = state(ctx).keystore()
    render.scopes(ks.catalog, as_json, headers=not no_headers)
