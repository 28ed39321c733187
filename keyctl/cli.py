"""The command line: the Typer app (keyctl/app.py) with every command module loaded.

Entry point of the ``keyctl`` console script and of ``python -m keyctl``."""

from __future__ import annotations

from .app import app
from .commands import keys  # noqa: F401,I001  (registers the commands, in help order)
from .commands import check  # noqa: F401,E402
from .commands import manifest  # noqa: F401,E402
from .commands import secret  # noqa: F401,E402
from .commands import catalog  # noqa: F401,E402

__all__ = ["app", "main"]


def main() -> None:
    app(prog_name="keyctl")
