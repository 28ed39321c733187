"""Parameters that several commands share, spelt once: the same flag has the same
help everywhere (and so in the man pages)."""

from typing import Annotated

import typer

from ..app import complete_key

JSON = Annotated[bool, typer.Option("--json", help="Print JSON (a stable contract; see README).")]
KEY = Annotated[str, typer.Argument(
    metavar="KEY", autocompletion=complete_key,
    help="A key's secret (kc_...), id (key_...) or name; - reads the secret from stdin.",
)]
NO_HEADERS = Annotated[bool, typer.Option(
    "--no-headers", help="No header line (in the table, and in the tab-separated lines printed to a pipe).")]
