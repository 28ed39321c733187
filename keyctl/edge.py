"""What the command line shares at its edge, without importing Typer: warning and error
lines on stderr (secrets cut to their hint), KEY reading from stdin, opening the store
with the loose-permissions warning, the bug-report line, and check's exit codes.

keyctl/app.py (the Typer app) and keyctl/fastpath.py (``check`` and its TAB without
Typer) both use these, so the two paths print the same thing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .errors import EXIT_OK, EXIT_REDACTED, EXIT_REJECTED, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .api import KeyStore

BUG_URL = "https://github.com/keyctl/keyctl/issues"
MAX_STDIN_SECRET = 4096

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


def warn(message: str) -> None:
    """A warning line on stderr (never on stdout, so --json output stays clean)."""
    sys.stderr.write(f"warning: {redact(message)}\n")
    sys.stderr.flush()


def error(message: str) -> None:
    """An error line on stderr: ``error: ...``."""
    sys.stderr.write(f"error: {redact(message)}\n")
    sys.stderr.flush()


def bug(exc: BaseException) -> None:
    """The line for an unexpected failure: no traceback, no locals, a request."""
    error(
        f"keyctl hit an unexpected problem ({type(exc).__name__}). This is a bug: "
        f"please report it at {BUG_URL} with the command you ran "
        "(set KEYCTL_DEBUG=1 to see the traceback; it may show your data)."
    )


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


def open_keystore(db: str | None, catalog: str | None) -> "KeyStore":
    """The KeyStore for --db/--catalog (None: the environment's, then the defaults)."""
    from .api import KeyStore

    keystore = KeyStore(db, catalog)
    # Warned when the store opens as a keyctl store (once): a file keyctl refuses gets
    # one error line and no advice about its mode.
    keystore.store.on_loose_permissions = lambda path: warn(
        f"the store {path} is readable or writable by other users; run `chmod 600 {path}`"
    )
    return keystore
