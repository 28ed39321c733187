"""The Typer application object, its global options, and what every command shares:
the error edge (KeyctlError -> ``error: ...`` on stderr and its exit code, caught once
here), the per-invocation state on ``ctx.obj``, KEY reading and shell completion.

Commands live in ``keyctl/commands/``; ``keyctl/cli.py`` assembles them. Nothing heavy
is imported at module level: rich, sqlite_utils and keyring are imported by the code
paths that need them.
"""

import os
import sys
from typing import TYPE_CHECKING, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from . import VERSION_TEXT
from .completion import use_keyctl_bash_script
from .edge import error, expected, failed, note, open_keystore, read_key, warn  # noqa: F401 (re-exported)
from .errors import EXIT_RUNTIME, EXIT_USAGE

if TYPE_CHECKING:  # pragma: no cover
    from .api import KeyStore

EXIT_CODES_HELP = (
    "Exit status: 0 success (check: every operation allowed); 1 runtime error (no such "
    "key, name taken, store unusable); 2 usage error (bad option, unknown scope or "
    "operation, bad WHEN); 3 check: worst outcome redacted; 4 check: worst outcome rejected."
)


# --- the global options, wherever they are typed ------------------------------------------
def _record(ctx: Any, param: Any, value: Optional[str]) -> None:
    """A global option's value, kept on the root's State. The same option given again
    (before or after the command's name) with another value is a usage error."""
    from typer._click.exceptions import BadParameter

    if value is None:
        return
    if not value:
        raise BadParameter("is empty; give a value or leave the option out", ctx=ctx, param=param)
    st = state(ctx)
    given = getattr(st, param.name)
    if given is not None and given != value:
        raise _given_twice(ctx, param, given, value)
    setattr(st, param.name, value)


def _given_twice(ctx: Any, param: Any, first: str, second: str) -> Exception:
    from typer._click.exceptions import BadParameter

    return BadParameter(f"given twice with different values ('{first}' and '{second}'); give it once",
                        ctx=ctx, param=param)


class GlobalOption(TyperOption):
    """``--db`` and ``--catalog``: taken by the root, by every command and by every
    group, so that they work before or after a command's name. Their values go to
    the root's State (``_record``), never to a command's parameters. The environment
    variable is shown in help; the library reads it (KeyStore), so that a value typed
    anywhere wins over it and never conflicts with it."""

    def __init__(self, name: str, metavar: str, envvar: str, help: str, complete: Any = None) -> None:
        super().__init__(param_decls=[name, name.lstrip("-")], metavar=metavar, envvar=envvar,
                         show_envvar=True, expose_value=False, callback=_record, help=help,
                         autocompletion=complete)

    def add_to_parser(self, parser: Any, ctx: Any) -> None:
        # Every value given here, so that `--db a --db b` is refused and not "the last wins".
        parser.add_option(obj=self, opts=self.opts, dest=self.name, action="append", nargs=1)

    def resolve_envvar_value(self, ctx: Any) -> Optional[str]:
        return None

    def get_error_hint(self, ctx: Any) -> str:
        return f"'{self.opts[0]}'"  # not "(env var: ...)": the value was typed

    def type_cast_value(self, ctx: Any, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            values = list(dict.fromkeys(value))
            if len(values) > 1:
                raise _given_twice(ctx, self, *values[:2])
            value = values[0] if values else None
        return super().type_cast_value(ctx, value)


def _complete(what: str, ctx: Any, incomplete: str) -> list[str]:
    from . import completion

    return completion.complete_catalog(ctx, incomplete) if what == "catalog" else completion.complete_path(incomplete)


def global_options() -> list[GlobalOption]:
    return [
        GlobalOption(
            "--db", "PATH|URL", "KEYCTL_DB",
            "The store: a SQLite file, or a PostgreSQL database as postgresql://[USER@]HOST[:PORT]/DBNAME"
            "[?PARAMS] (its password from ~/.pgpass or PGPASSWORD; see README \"Sharing a store\"). "
            "Default: $XDG_DATA_HOME/keyctl/keyctl.db (~/.local/share/keyctl/keyctl.db).",
            lambda ctx, args, incomplete: _complete("path", ctx, incomplete),
        ),
        GlobalOption(
            "--catalog", "NAME|FILE", "KEYCTL_CATALOG",
            "The scope catalog of a new store: a built-in (clarifai, clarifai-live) or a catalog file. A "
            "store keeps its catalog; naming another for it is an error (see `keyctl catalog upgrade`).",
            lambda ctx, args, incomplete: _complete("catalog", ctx, incomplete),
        ),
    ]


class KeyctlCommand(TyperCommand):
    """A command that also takes the global options (after its own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params = [*self.params, *global_options()]


class KeyctlSubgroup(TyperGroup):
    """A group of commands (scope, catalog) that also takes the global options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params = [*self.params, *global_options()]


class KeyctlTyper(typer.Typer):
    """A Typer whose commands take the global options too (see GlobalOption)."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", KeyctlCommand)
        return super().command(*args, **kwargs)


def subgroup(name: str, help: str) -> KeyctlTyper:
    """A group of commands under ``keyctl NAME``."""
    group = KeyctlTyper(cls=KeyctlSubgroup, help=help, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


class KeyctlGroup(TyperGroup):
    """The error edge: every failure is caught here, once, and becomes what
    keyctl/edge.py's ``failed`` prints (one ``error:`` line and its exit code, or a
    short request for a bug report), never a traceback. It takes the global options
    first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params = [*global_options(), *self.params]

    def invoke(self, ctx: Any) -> Any:
        try:
            try:
                rv = super().invoke(ctx)
            except typer.Exit:
                _flush()
                raise
            _flush()
            return rv
        except (typer.Exit, typer.Abort):
            raise
        except BaseException as exc:
            if _click_exception(exc) or isinstance(exc, SystemExit):
                raise
            if _about_output(exc):  # a command's --help to a full disk (click writes it, not keyctl)
                raise typer.Exit(failed(_output_error(exc))) from None
            if os.environ.get("KEYCTL_DEBUG") and not expected(exc):
                raise
            raise typer.Exit(failed(_with_done(exc, ctx))) from None
        finally:
            _note_created(ctx)

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        from typer._click import exceptions as click_exc  # Typer 0.28 vendors click

        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except click_exc.NoArgsIsHelpError as exc:
            exc.show()  # the help text, as click prints it
            code = exc.exit_code
        except click_exc.UsageError as exc:
            hint = ""
            if exc.ctx is not None:
                hint = f" (see `{exc.ctx.command_path} --help`)"
            error(_cut(_lower_first(exc.format_message()).rstrip(".")) + hint)
            code = exc.exit_code
        except click_exc.ClickException as exc:
            error(_cut(_lower_first(exc.format_message())))
            code = exc.exit_code
        except typer.Abort:
            error("aborted")
            code = EXIT_RUNTIME
        except OSError as exc:  # help or --version to a closed pipe or a full disk
            if _about_output(exc):
                code = failed(_output_error(exc))
            elif os.environ.get("KEYCTL_DEBUG"):
                raise  # not about stdout: the traceback asked for
            else:  # a file of the shell's (--install-completion: ~/.bashrc a folder)
                from .errors import KeyctlError
                from .text import printable

                where = f"{printable(str(exc.filename), 200)}: " if exc.filename else ""
                code = failed(KeyctlError(f"{where}{exc.strerror or exc}; check that file and its folder"))
        else:
            code = rv if isinstance(rv, int) else 0
        try:
            _flush()
        except BaseException as exc:
            code = failed(exc)
        if standalone_mode:
            sys.exit(code)
        return code


def _with_done(exc: BaseException, ctx: Any) -> BaseException:
    """An error writing the output of a change that was made says it was made."""
    from .errors import OutputError

    done = state(ctx).done
    if isinstance(exc, OutputError) and not exc.quiet and done:
        return OutputError(f"{exc.message}; {done} all the same")
    return exc


def _about_output(exc: BaseException) -> bool:
    """True for an OSError that writing output raises (a full disk, a reader gone, a
    terminal closed), not one about a file: what click's own writes (help) raise."""
    import errno

    return isinstance(exc, OSError) and exc.filename is None and exc.errno in (
        errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EBADF)


def _flush() -> None:
    """Everything written out now, so that a failure to write is reported here and not
    by the interpreter at exit."""
    from . import render

    render.flush()


def _note_created(ctx: Any) -> None:
    """Say so when this command made the store: a mistyped --db (or a HOME that is not
    the one meant) is noticed at once, not after keys went to the wrong place."""
    ks = state(ctx)._keystore
    if ks is not None and getattr(ks.store, "created", False):
        note(f"created a new store at {ks.store.location}")


def _output_error(exc: OSError) -> Exception:
    from .errors import OutputError

    if isinstance(exc, BrokenPipeError):
        return OutputError("the reader went away", quiet=True)
    return OutputError(f"could not write to standard output ({exc.strerror or exc})")



def _click_exception(exc: BaseException) -> bool:
    from typer._click import exceptions as click_exc

    return isinstance(exc, click_exc.ClickException)


def _cut(text: str) -> str:
    """click's message with each word it quotes from the command line (an option, a
    command, a value) cut to a readable length."""
    import re

    return re.sub(r"([^\s']{60})[^\s']{4,}", r"\1...", text)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


class State:
    """Per-invocation settings from the global options, kept on ``ctx.obj``."""

    __slots__ = ("db", "catalog", "_keystore", "done")

    def __init__(self) -> None:
        self.db: Optional[str] = None
        self.catalog: Optional[str] = None
        self._keystore: Any = None
        # What the command changed, said after an error writing its output: the change
        # was committed before the output (a confirmation, not a secret) was written.
        self.done: Optional[str] = None

    def keystore(self) -> "KeyStore":
        if self._keystore is None:
            self._keystore = open_keystore(self.db, self.catalog)
        return self._keystore


use_keyctl_bash_script()
app = KeyctlTyper(
    name="keyctl",
    cls=KeyctlGroup,
    help=(
        "Manage scoped API keys (Clarifai's scope model) in a SQLite file or a shared PostgreSQL database: "
        "create, list, scope, disable, enable, rotate and delete keys, and check what a "
        "key may do.\n\n" + EXIT_CODES_HELP + "\n\n"
        "Examples:\n\n\b\n"
        "  keyctl create --name ci-bot --scope predict\n"
        "  keyctl check ci-bot predict.call inputs.get; echo $?   # 4: inputs.get is rejected\n"
        "  keyctl --install-completion bash"
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # never print a secret from a local variable
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,  # plain help: no rich import on --help, and stable man pages
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(VERSION_TEXT + "\n")
        raise typer.Exit(0)


@app.callback()
def _main(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Global options (--db, --catalog: GlobalOption) are kept on ctx.obj for the commands."""
    state(ctx)


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


# --- shell completion: fast paths, the store read by prefix with a limit -----------------
def _completion_keystore(ctx: Any) -> "KeyStore | None":
    try:
        from .api import KeyStore

        st = state(ctx)
        return KeyStore(st.db, st.catalog)
    except Exception:
        return None


def complete_key(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Key names and ids from the current store whose name or id starts with it."""
    ks = _completion_keystore(ctx)
    if ks is None or incomplete.startswith("kc_") or incomplete == "-":
        return []
    try:
        rows = ks.names_by_prefix(incomplete, limit=50)
    except Exception:  # completion must never print an error
        return []
    out = []
    for kid, name in rows:  # only what could be typed back: a store written by hand may hold anything
        if name and name.startswith(incomplete) and name.isprintable() and kid.isprintable():
            out.append((name, kid))
        elif kid.startswith(incomplete) and kid.isprintable():
            out.append((kid, name if name and name.isprintable() else ""))
    return out


def _catalog_for_completion(ctx: Any) -> Any:
    ks = _completion_keystore(ctx)
    if ks is None:
        return None
    try:
        return ks.catalog
    except Exception:
        return None


def _completion_help(text: str) -> str:
    """A description short enough for one line of a zsh menu. Typer renders zsh help
    through rich at the pipe's width (80): a longer one wraps, and the line break splits
    the completion item in two."""
    from .text import printable  # a catalog's description reaches the terminal's menu

    text = printable(" ".join((text or "").split()), 10_000)
    return text if len(text) <= 60 else text[:57].rstrip(" ,.;:") + "..."


def complete_scope(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Groups, scope ids and ``all`` starting with what was typed."""
    catalog = _catalog_for_completion(ctx)
    if catalog is None:
        return []
    head, _, last = incomplete.rpartition(",")  # --scope a,b<TAB>
    prefix = f"{head}," if head else ""
    low = last.lower()
    out = [(prefix + g, _completion_help("all of: " + ", ".join(members))) for g, members in catalog.groups.items()
           if g.startswith(low)]
    out += [(prefix + s.id, _completion_help(s.description)) for s in catalog.scopes.values() if s.id.startswith(low)]
    if "all".startswith(low):
        out.append((prefix + "all", "every scope, including scopes added later"))
    return out


class _AnyCase(str):
    """A completion value that Typer's own filter (``value.startswith(typed)``) keeps
    whatever the case typed: ``postmodel<TAB>`` completes to ``PostModelOutputs``."""

    def startswith(self, prefix: Any, *args: Any) -> bool:
        if isinstance(prefix, str):
            return self.lower().startswith(prefix.lower(), *args)
        return super().startswith(prefix, *args)


def complete_operation(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Operation ids (and ``all``) starting with what was typed, in any case, as the
    catalog spells them."""
    catalog = _catalog_for_completion(ctx)
    if catalog is None:
        return []
    return [(_AnyCase(op), _completion_help(catalog.operations[op].description if op in catalog.operations
                                            else "every operation"))
            for op in catalog.complete_operations(incomplete)]


__all__ = ["app", "state", "warn", "read_key", "complete_key", "complete_scope",
           "complete_operation", "EXIT_USAGE", "EXIT_CODES_HELP"]
