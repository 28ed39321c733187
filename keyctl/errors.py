"""One error family for keyctl. Each error knows its exit code; the CLI catches
KeyctlError once, prints ``error: <message>`` on stderr and exits with it."""

from __future__ import annotations

# Exit codes, a contract for scripts (README "Exit codes").
EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_REDACTED = 3
EXIT_REJECTED = 4


class KeyctlError(Exception):
    """Base of every error keyctl raises on purpose. ``exit_code`` 1 unless a subclass says."""

    exit_code: int = EXIT_RUNTIME

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- usage errors (exit 2): the command as typed cannot be carried out -------------
class UsageError(KeyctlError):
    """Something the user typed is wrong: a bad option value, name or scope."""

    exit_code = EXIT_USAGE


class UnknownScopeError(UsageError):
    """A scope or group name that the catalog does not know (with a did-you-mean)."""

    def __init__(self, message: str, name: str = "", suggestion: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.suggestion = suggestion


class UnknownOperationError(UnknownScopeError):
    """An operation name that the catalog does not know (with a did-you-mean)."""


class InvalidWhenError(UsageError):
    """An --expires value that is not a duration, a date, a datetime or 'never'."""


class InvalidNameError(UsageError):
    """A key name outside the allowed characters or length."""


class CatalogError(UsageError):
    """A catalog file that does not validate; ``problems`` lists every problem found."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)


class ManifestError(UsageError):
    """A manifest (``keyctl apply``) that does not validate; ``problems`` lists every
    problem found, each naming the file, the key and the field."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)


class ConfirmationRequired(UsageError):
    """A destructive command without a terminal to confirm on and without --yes."""


class CatalogMismatchError(UsageError):
    """--catalog names a different catalog from the one the store keeps."""


# --- runtime errors (exit 1): the command is fine, the world is not ----------------
class NotFoundError(KeyctlError):
    """No key matches the given id, name or secret."""


class NameTakenError(KeyctlError):
    """Another key already has this name."""


class NoScopesLeftError(KeyctlError):
    """A scope change would leave a key with no scope."""


class StoreError(KeyctlError):
    """The store cannot be used: not SQLite, not keyctl's, newer, read-only, full."""


class KeyringError(KeyctlError):
    """The OS keyring is missing, locked, slow or has nothing stored for the key."""


class Aborted(KeyctlError):
    """The user answered no at a confirmation prompt."""


class OutputError(KeyctlError):
    """Standard output could not be written (a full disk, a closed pipe). ``quiet``: a
    reader that went away (``| head``) while nothing was being changed, which is not
    worth a message."""

    def __init__(self, message: str, quiet: bool = False) -> None:
        super().__init__(message)
        self.quiet = quiet
