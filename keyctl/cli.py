"""The command line: the Typer app (keyctl/app.py) with every command module loaded.

Entry point of the ``keyctl`` console script and of ``python -m keyctl``. ``app`` is
loaded on first use (PEP 562), so that a bare ``keyctl --version``, and ``check`` with
its TAB (keyctl/fastpath.py), are answered before Typer is imported."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import typer

__all__ = ["app", "main"]  # noqa: F822 (app is loaded on first use, below)


def _load() -> "typer.Typer":
    """The Typer app with every command module imported (which registers them)."""
    from .app import app
    from .commands import keys  # noqa: F401,I001  (registers the commands, in help order)
    from .commands import check  # noqa: F401
    from .commands import manifest  # noqa: F401
    from .commands import secret  # noqa: F401
    from .commands import status  # noqa: F401
    from .commands import catalog  # noqa: F401
    from .commands import store  # noqa: F401

    return app


def __getattr__(name: str) -> Any:  # PEP 562
    if name == "app":
        return _load()
    raise AttributeError(f"module 'keyctl.cli' has no attribute {name!r}")


def main() -> None:
    """Run keyctl on sys.argv (or, for TAB, on the words in COMP_WORDS)."""
    sys.argv[1:] = [_utf8(arg) for arg in sys.argv[1:]]
    if sys.argv[1:] == ["--version"] and not os.environ.get("_KEYCTL_COMPLETE"):
        # Needs no parser: answered before Typer is imported.
        from . import VERSION_TEXT
        from .edge import failed
        from .render import flush, write

        try:
            write(VERSION_TEXT + "\n")
            flush()
        except Exception as exc:
            raise SystemExit(failed(exc)) from None
        raise SystemExit(0)
    # `check` and its TAB, the calls paid in loops and on every keystroke, are answered
    # without Typer when the command line is plain (keyctl/fastpath.py says why).
    from .fastpath import main as fast

    code = fast(sys.argv[1:], os.environ)
    if code is not None:
        raise SystemExit(code)
    _load()(prog_name="keyctl")


def _utf8(arg: str) -> str:
    """An argument the locale could not decode (LC_ALL=C: Python keeps each byte of
    "café" it cannot read as a lone surrogate) read as the UTF-8 a terminal sends;
    bytes that are not UTF-8 either stay as they are, and are refused as such."""
    if arg.isascii() or not any("\udc80" <= c <= "\udcff" for c in arg):
        return arg
    try:
        return os.fsencode(arg).decode("utf-8")
    except UnicodeDecodeError:
        return arg
