"""keyctl: scoped API keys in a local SQLite store, from the command line or Python.

The public API is :class:`KeyStore` and the errors in :mod:`keyctl.errors`. Nothing
heavy is imported here: ``keyctl --version`` and shell completion stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import KeyctlError

__version__ = "0.1.0"
# What `keyctl --version` prints: keyctl/app.py's option, and keyctl/cli.py's main(),
# which answers a bare `keyctl --version` before Typer is imported.
VERSION_TEXT = f"keyctl {__version__} (scoped API keys; not the keyutils keyctl)"
__all__ = ["KeyStore", "KeyctlError", "Outcome", "Verdict", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import KeyStore
    from .decide import Outcome, Verdict


def __getattr__(name: str):  # PEP 562: import the facade only when it is asked for
    if name == "KeyStore":
        from .api import KeyStore

        return KeyStore
    if name in ("Outcome", "Verdict"):
        from . import decide

        return getattr(decide, name)
    raise AttributeError(f"module 'keyctl' has no attribute {name!r}")
