"""The command line's edge, without Typer: the only module that writes to stderr
(``error:``, ``warning:``, ``note:`` lines and the plan of ``apply --json``), each line
escaped (no control character or bidi override from text keyctl did not write reaches
the terminal), cut, and with anything shaped like a secret cut to its hint; reading
KEY from stdin; opening the store for a command; what a failure prints; check's exit
codes.

keyctl/app.py (the Typer app) and keyctl/fastpath.py (``check`` and its TAB without
Typer) both use these, so the two paths print the same thing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Iterable

from .errors import (EXIT_OK, EXIT_REDACTED, EXIT_REJECTED, EXIT_RUNTIME, Aborted, ConfirmationRequired, KeyctlError,
                     OutputError, UsageError)
from .text import printable

if TYPE_CHECKING:  # pragma: no cover
    from .api import KeyStore

MAX_STDIN_SECRET = 4096
MAX_LINE = 2000  # a stderr line; what it quotes is cut much shorter where it is quoted

# check's exit status by the worst outcome (keyed by the value, so that this table
# needs no import of the decision engine).
EXIT_FOR_OUTCOME = {"allowed": EXIT_OK, "redacted": EXIT_REDACTED, "rejected": EXIT_REJECTED}


def redact(text: str) -> str:
    """``text`` with anything shaped like a secret cut to its hint (kc_...abcd): errors
    and warnings go to terminals and CI logs, and some quote what was typed (click's
    "unexpected extra argument (kc_...)")."""
    if "kc_" not in text:
        return text
    import re

    return re.sub(r"kc_[0-9A-Za-z]{4,}", lambda m: f"kc_...{m.group()[-4:]}", text)


def _line(prefix: str, message: str) -> None:
    _write(f"{prefix}{redact(printable(message, MAX_LINE))}\n")


def _write(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except UnicodeEncodeError:  # an ASCII-only stderr (LC_ALL=C, PYTHONIOENCODING=ascii)
        sys.stderr.write(text.encode("ascii", "backslashreplace").decode("ascii"))
        sys.stderr.flush()
    except OSError:  # stderr itself is gone: nothing can be said
        pass


def error(message: str) -> None:
    """An error line on stderr: ``error: ...``."""
    _line("error: ", message)


def warn(message: str) -> None:
    """A warning line on stderr (never on stdout, so --json output stays clean)."""
    _line("warning: ", message)


def note(message: str) -> None:
    """A note on stderr: something to know that is neither wrong nor risky."""
    _line("note: ", message)


def say(message: str) -> None:
    """A plain line on stderr: a prompt's answer, or data shown beside --json output
    (the plan of ``apply --json``)."""
    _line("", message)


def say_all(messages: Iterable[str]) -> None:
    """Plain lines on stderr, as :func:`say` writes each, a few hundred at a time (the
    plan of an apply of 100,000 keys is 300,000 lines)."""
    batch: list[str] = []
    for message in messages:
        batch.append(f"{redact(printable(message, MAX_LINE))}\n")
        if len(batch) >= 500:
            _write("".join(batch))
            batch = []
    if batch:
        _write("".join(batch))


def confirm(question: str, yes: bool, refusal: str, may_ask: bool = True, declined: str = "nothing deleted") -> None:
    """THE rule for a change that cannot be undone: ``--yes`` (``yes``) goes ahead;
    otherwise a terminal is asked ``QUESTION [y/N]`` (anything but y or yes declines:
    ``declined`` as a plain line, exit 1, Aborted); without a terminal to ask on (or
    when ``may_ask`` is false: a prompt is not enough) it is refused, exit 2, saying
    to pass --yes."""
    if yes:
        return
    if not may_ask:
        raise ConfirmationRequired(f"{refusal}; pass --yes if that is what you want")
    if not sys.stdin.isatty():
        raise ConfirmationRequired(f"{refusal} without confirmation: there is no terminal to ask on; pass --yes")
    try:
        sys.stderr.write(f"{redact(printable(question, MAX_LINE))} [y/N] ")
        sys.stderr.flush()
    except OSError:
        pass
    if sys.stdin.readline(64).strip().lower() not in ("y", "yes"):
        raise Aborted(declined)


def bug(exc: BaseException) -> None:
    """The line for an unexpected failure: no traceback, no locals, what to report."""
    error(
        f"keyctl hit an unexpected problem ({type(exc).__name__}). This is a bug: please report it "
        "to keyctl's maintainers with the command you ran (secrets left out), the output of "
        "`keyctl --version`, and your operating system and Python version "
        "(set KEYCTL_DEBUG=1 to see the traceback; it may show your data)."
    )


def expected(exc: BaseException) -> bool:
    """A failure keyctl knows how to report (the rest are bugs)."""
    return isinstance(exc, (KeyctlError, BrokenPipeError, KeyboardInterrupt))


def failed(exc: BaseException) -> int:
    """What a command that raised prints, and its exit status: a KeyctlError its
    ``error:`` line, output that could not be written one line (none for a reader that
    went away, as ``| head`` does), anything else the bug line."""
    if isinstance(exc, BrokenPipeError) or (isinstance(exc, OutputError) and exc.quiet):
        quiet_stdout()
        return EXIT_RUNTIME
    if isinstance(exc, Aborted):  # the user said no: nothing went wrong
        say(exc.message)
        return exc.exit_code
    if isinstance(exc, KeyctlError):
        if isinstance(exc, OutputError):
            quiet_stdout()
        error(exc.message)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return 130
    bug(exc)
    return EXIT_RUNTIME


def quiet_stdout() -> None:
    """Stdout cannot be written: point it at nothing, so that the interpreter's flush
    at exit finds nothing to complain about."""
    import os

    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives until exit)
    except OSError:  # pragma: no cover
        pass


def read_key(ref: str) -> str:
    """A KEY argument: ``-`` reads the secret from the first line of standard input
    (so that it stays out of shell history and ``ps``)."""
    if ref != "-":
        if not ref:
            raise UsageError("KEY is empty; give a secret, an id (key_...) or a name, or - to read a secret from stdin")
        return ref
    line = sys.stdin.readline(MAX_STDIN_SECRET + 1)
    if len(line) > MAX_STDIN_SECRET:
        raise UsageError("the first line of standard input is too long to be a secret")
    secret = line.strip()
    if not secret:
        raise UsageError("KEY is '-' but standard input holds no secret")
    return secret


def open_keystore(db: str | None, catalog: str | None, quiet: bool = False) -> "KeyStore":
    """The KeyStore for --db/--catalog (None: the environment's, then the defaults).
    Its warnings (a store others can read, a keyring entry left behind) are warning
    lines here, unless ``quiet`` (for a command that reports them itself)."""
    from .api import KeyStore

    return KeyStore(db, catalog, on_warning=(lambda message: None) if quiet else warn)
