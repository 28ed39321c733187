"""The command line: the Typer app (keyctl/app.py) with every command module loaded.

Entry point of the ``keyctl`` console script and of ``python -m keyctl``.

``app`` is loaded on first use (``from keyctl.cli import app`` works as ever, PEP 562):
a bare ``keyctl --version`` is answered before Typer is imported."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

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
    from .commands import catalog  # noqa: F401

    return app


def __getattr__(name: str) -> Any:  # PEP 562
    if name == "app":
        return _load()
    raise AttributeError(f"module 'keyctl.cli' has no attribute {name!r}")


def main() -> None:
    """Run keyctl on sys.argv (or, for TAB, on the words in COMP_WORDS).

    Typer turns every registered command into a click command before it reads the
    command line: for keyctl's twenty-odd commands that was about 35 M instructions
    (8 ms here) of every call, --version and TAB included. So Typer is given only the
    commands whose names appear among the words, and KeyctlGroup builds the rest if
    anything asks for them (help, an unknown or misspelt name). A word that happens to
    be a command name only builds one command more: the result is always the same."""
    if sys.argv[1:] == ["--version"] and not os.environ.get("_KEYCTL_COMPLETE"):
        # Needs no parser: answered before Typer is imported, it costs about what
        # Python's own start does (importing Typer alone is ~4x that).
        from . import VERSION_TEXT

        sys.stdout.write(VERSION_TEXT + "\n")
        sys.stdout.flush()
        raise SystemExit(0)
    # `check` and its TAB, the calls paid in loops and on every keystroke, are answered
    # without Typer when the command line is plain (keyctl/fastpath.py says why).
    from .fastpath import main as fast

    code = fast(sys.argv[1:], os.environ)
    if code is not None:
        raise SystemExit(code)
    app = _load()
    words = set(sys.argv[1:])
    if os.environ.get("_KEYCTL_COMPLETE"):  # bash passes the words so far in COMP_WORDS,
        # Typer's zsh and fish scripts in _TYPER_COMPLETE_ARGS
        words = set(os.environ.get("COMP_WORDS", "").split())
        words |= set(os.environ.get("_TYPER_COMPLETE_ARGS", "").split())
    with _only_commands_named(app, words):
        app(prog_name="keyctl")


def _names(info: Any) -> set[str]:
    """The names a registered command or group may have (Typer derives a command's
    from its function: create_key -> create-key)."""
    names = {v for v in (getattr(info, "name", None),) if isinstance(v, str)}
    instance = getattr(info, "typer_instance", None)
    if instance is not None and isinstance(getattr(instance.info, "name", None), str):
        names.add(instance.info.name)
    callback = getattr(info, "callback", None)
    if not names and callback is not None:
        names.add(callback.__name__.lower().replace("_", "-"))
    return names


@contextmanager
def _only_commands_named(app: "typer.Typer", words: set[str]) -> Iterator[None]:
    from .app import KeyctlGroup

    every = (app.registered_commands, app.registered_groups)

    def build_all() -> dict:
        import typer.main

        partial = (app.registered_commands, app.registered_groups)
        app.registered_commands, app.registered_groups = every
        try:
            return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
        finally:
            app.registered_commands, app.registered_groups = partial

    # An entry without a name keyctl can tell is always built.
    app.registered_commands = [c for c in every[0] if not _names(c) or _names(c) & words]
    app.registered_groups = [g for g in every[1] if not _names(g) or _names(g) & words]
    KeyctlGroup.build_all = build_all
    try:
        yield
    finally:
        app.registered_commands, app.registered_groups = every
        KeyctlGroup.build_all = None
