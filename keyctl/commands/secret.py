"""`keyctl secret`: a key's secret from the OS keyring, alone on one line. The keyring
itself is handled by the library (KeyStore.secret, keyctl/keyring_store.py)."""

from typing import Annotated

import typer

from .. import render
from ..app import app, complete_key, state


@app.command()
def secret(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(
        metavar="KEY", autocompletion=complete_key, help="The key's id (key_...) or name.",
    )],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: {\"id\", \"name\", \"secret\"}.")] = False,
) -> None:
    """Print a key's secret from the OS keyring, alone on one line.

    Only keys created or rotated with --keyring have one there. Exit 1 when nothing
    (or only an outdated secret) is stored for the key.

    Examples:

    \b
      export CLARIFAI_PAT="$(keyctl secret ci-bot)"
      keyctl check "$(keyctl secret ci-bot)" predict.call
    """
    ks = state(ctx).keystore()
    found = ks.secret(key)
    render.secret(found.key, found.secret, as_json)
