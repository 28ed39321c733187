"""`keyctl catalog list|validate|upgrade`: the scope catalogs a store can use."""

from typing import Annotated

import typer

from .. import render
from ..app import state, subgroup
from ..completion import complete_catalog
from ..edge import error, note, warn
from ..errors import EXIT_USAGE, CatalogError
from ..text import printable
from .params import JSON, NO_HEADERS

# keyctl.catalog (a regex, dataclasses) is imported by the commands that use it: this
# module is loaded on every call, --version and TAB included.

CATALOG_REF = Annotated[str, typer.Argument(
    metavar="NAME|FILE", autocompletion=complete_catalog,
    help="A built-in catalog name (clarifai, clarifai-live) or a catalog TOML file.")]

catalog_app = subgroup("catalog", (
    "Scope catalogs: list the built-ins, validate a catalog file, upgrade a store's catalog.\n\n"
    "Examples:\n\n\b\n"
    "  keyctl catalog list\n"
    "  keyctl catalog validate my-api.toml"
))


@catalog_app.command("list")
def catalog_list(no_headers: NO_HEADERS = False, as_json: JSON = False) -> None:
    """List the built-in catalogs.

    At a terminal, a table that fits its width; piped, one catalog per line,
    tab-separated (NAME, SCOPES, DESCRIPTION), under a header.

    Examples:

    \b
      keyctl catalog list
      keyctl --catalog clarifai-live create -n ci -s inputs.patch
    """
    from ..catalog import BUILTIN_CATALOGS, DEFAULT_CATALOG, builtin

    render.catalog_list([builtin(name) for name in BUILTIN_CATALOGS], DEFAULT_CATALOG, as_json,
                        headers=not no_headers)


@catalog_app.command("validate")
def catalog_validate(
    file: Annotated[str, typer.Argument(metavar="FILE", autocompletion=complete_catalog,
                                        help="The catalog TOML file to check.")],
    as_json: JSON = False,
) -> None:
    """Check a catalog file and report every problem, with the entry it is in.

    Exit status 0 when the file is valid, 2 when it is not.

    Examples:

    \b
      keyctl catalog validate my-api.toml
      keyctl catalog validate my-api.toml --json | jq -r '.problems[]'
    """
    from ..catalog import BUILTIN_CATALOGS, builtin, load_catalog

    try:
        catalog = load_catalog(file) if file not in BUILTIN_CATALOGS else builtin(file)
    except CatalogError as exc:
        render.catalog_validation(file, None, exc.problems, as_json)
        if not as_json:
            for problem in exc.problems:
                error(f"{printable(file, 200)}: {problem}")
        raise typer.Exit(EXIT_USAGE)
    render.catalog_validation(file, catalog, (), as_json)


@catalog_app.command("upgrade")
def catalog_upgrade(
    ctx: typer.Context,
    ref: CATALOG_REF,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply the change (without it, only report).")] = False,
    as_json: JSON = False,
) -> None:
    """Replace the store's catalog, after checking every key against the new one.

    Lists the keys holding scopes the new catalog does not know (they block the
    upgrade) and the keys whose prerequisites it would add. Changes nothing unless
    --yes is given; then the prerequisites are added (warned and audited).

    Examples:

    \b
      keyctl catalog upgrade clarifai-live
      keyctl catalog upgrade ./my-api-v2.toml --yes
    """
    st = state(ctx)
    ks = st.keystore()
    result = ks.catalog_upgrade(ref, yes=yes)
    if result.applied:
        st.done = "the store's catalog was replaced"
        for key, added in result.additions:
            for change in added:
                warn(f"{key.ref}: {change.because} requires {change.scope}; added {change.scope}")
    render.catalog_upgrade(result, as_json)
    if not result.applied and not yes:
        note("nothing changed; run again with --yes to apply")
