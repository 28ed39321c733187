"""The command line: the Typer app (keyctl/app.py) with its command modules loaded.

Entry point of the ``keyctl`` console script and of ``python -m keyctl``. ``app`` is
loaded on first use (PEP 562), with every command, so that a bare ``keyctl --version``,
and ``check`` with its TAB (keyctl/fastpath.py), are answered before Typer is imported.

The console script loads less: each command module imports what its commands need,
and Typer turns every registered command into a click command before it reads the
command line. So :func:`main` imports only the module of the command named on the
command line (or in the completion words); with no command named (help, a misspelt or
unknown name, TAB on a command's name) it imports them all. Nothing is rewritten after
registration: Typer builds what the imported modules registered. What a command prints
is the same either way (tests/test_console_script.py runs each case both ways).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import typer

__all__ = ["app", "main"]  # noqa: F822 (app is loaded on first use, below)

# The module (under keyctl/commands/) of every top-level command and group, in the
# order `keyctl --help` lists them: commands, then groups.
COMMANDS = {
    "create": "keys", "list": "keys", "show": "keys", "update": "keys", "disable": "keys", "enable": "keys",
    "rotate": "keys", "delete": "keys", "log": "keys", "check": "check", "scopes": "check",
    "apply": "manifest", "export": "manifest", "secret": "secret", "status": "status", "copy": "store",
    "roles-sql": "store", "scope": "keys", "catalog": "catalog",
}
MODULES = ("keys", "check", "manifest", "secret", "status", "catalog", "store")  # registration order
_GLOBAL = ("--db", "--catalog")


def _load(only: str | None = None) -> "typer.Typer":
    """The Typer app with the module of command ``only`` imported (which registers its
    commands), or with every command module."""
    from importlib import import_module

    from .app import app

    for module in (COMMANDS[only],) if only in COMMANDS else MODULES:
        import_module(f".commands.{module}", __package__)
    if only not in COMMANDS:
        _in_help_order(app)
    return app


def _in_help_order(app: "typer.Typer") -> None:
    """Commands and groups in COMMANDS's order, whatever order their modules loaded in."""
    order = {name: i for i, name in enumerate(COMMANDS)}
    app.registered_commands.sort(key=lambda c: order.get(_name(c), len(order)))
    app.registered_groups.sort(key=lambda g: order.get(_name(g), len(order)))


def _name(info: Any) -> str:
    """The name of a registered command or group (Typer derives a command's from its
    function: roles_sql -> roles-sql)."""
    name = getattr(info, "name", None)
    if not isinstance(name, str):
        instance = getattr(info, "typer_instance", None)
        name = getattr(getattr(instance, "info", None), "name", None)
    if not isinstance(name, str) and getattr(info, "callback", None) is not None:
        name = info.callback.__name__.lower().replace("_", "-")
    return name if isinstance(name, str) else ""


def __getattr__(name: str) -> Any:  # PEP 562
    if name == "app":
        return _load()
    raise AttributeError(f"module 'keyctl.cli' has no attribute {name!r}")


def main() -> None:
    """Run keyctl on sys.argv (or, for TAB, on the words in COMP_WORDS)."""
    # The garbage collector is off while keyctl and Typer load: they make objects that
    # live until the end (modules, classes, functions), and collecting among them finds
    # nothing. It is on while a command runs (an apply or a list of a million keys makes
    # garbage), but for the fast path's, whose work is small. At exit every object is
    # frozen first, so that the interpreter's last collections do not walk them all
    # again (bench/README.md says what that saves).
    enabled = gc.isenabled()
    gc.disable()
    atexit.unregister(_at_exit)  # once, however many times main() runs in a process
    atexit.register(_at_exit)
    try:
        _run(enabled)
    finally:
        if enabled:
            gc.enable()


def _at_exit() -> None:
    """The stores closed (what refers to one may be garbage that nothing will collect
    now), then every object frozen."""
    store = sys.modules.get(f"{__package__}.store.sql")
    if store is not None:
        store.close_open_stores()
    gc.freeze()


def _run(collect: bool) -> None:
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
    if os.environ.get("_KEYCTL_COMPLETE") == "complete_bash" and not os.environ.get("COMP_CWORD", "").isdigit():
        raise SystemExit(0)  # not what bash sends (an index): nothing to offer, and no traceback
    named = command_named(_words(sys.argv[1:], os.environ))
    app = _load(named)
    gc.freeze()  # what loading made lives until the end: the command's collections skip it
    if collect:
        gc.enable()
    app(prog_name="keyctl")


def _words(argv: list[str], env: Any) -> list[str]:
    """The words typed before the one being completed (for TAB), else the arguments."""
    kind = env.get("_KEYCTL_COMPLETE")
    if not kind:
        return argv
    import shlex

    try:
        if kind == "complete_bash":  # the words so far, and the index of the current one
            words = shlex.split(env.get("COMP_WORDS", ""))
            return words[1:int(env.get("COMP_CWORD", ""))]
        # Typer's zsh and fish scripts pass the line; its last word is being completed
        # unless the line ends with a space.
        line = env.get("_TYPER_COMPLETE_ARGS", "")
        words = shlex.split(line)[1:]
        return words if line.endswith(" ") else words[:-1]
    except ValueError:
        return []


def command_named(words: list[str]) -> str | None:
    """The command (or group) a command line names after its global options, or None
    (no command, an option Typer must read first, a name keyctl does not have)."""
    i = 0
    while i < len(words):
        option, eq, _ = words[i].partition("=")
        if option not in _GLOBAL:
            return words[i] if words[i] in COMMANDS else None
        i += 1 if eq else 2
    return None


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
