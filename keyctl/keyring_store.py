"""Secrets in the OS keyring (Secret Service, Keychain, Credential Locker) through the
``keyring`` package. The only module that calls into ``keyring``.

* ``keyring`` is imported inside the functions: its import is heavy, and ``check``,
  ``list`` and ``show`` never need it (``in_keyring`` is kept in the store).
* Every call runs in a daemon thread joined with a timeout (``KEYCTL_KEYRING_TIMEOUT``
  seconds, default 10): a locked collection whose unlock prompt nobody can answer, or a
  D-Bus service that does not reply, would otherwise block keyctl for ever. A thread
  left behind is a daemon: it does not keep the process alive.
* Every failure becomes a :class:`keyctl.errors.KeyringError` whose message never holds
  the secret (a backend's own message is dropped when it contains it).

Entries live under service ``keyctl`` with the key's id as the user name, so that
``secret-tool lookup service keyctl username key_...`` finds them too.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, TypeVar

from .errors import KeyringError, UsageError

SERVICE = "keyctl"
DEFAULT_TIMEOUT_S = 10.0
TIMEOUT_ENV = "KEYCTL_KEYRING_TIMEOUT"

REMEDIES = (
    "start a Secret Service such as gnome-keyring (headless: `dbus-run-session -- sh -c "
    "'echo -n PASSWORD | gnome-keyring-daemon --unlock --components=secrets >/dev/null; keyctl ...'`), "
    "install keyrings.alt for a file backend, or set PYTHON_KEYRING_BACKEND to a backend that works here"
)

T = TypeVar("T")


class KeyringTimeout(KeyringError):
    """The keyring did not answer within the timeout (locked or unresponsive)."""


class NoBackendError(KeyringError):
    """``keyring`` has no usable backend on this machine."""


def timeout_seconds() -> float:
    """KEYCTL_KEYRING_TIMEOUT, in seconds (default 10)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        from .text import printable

        raise UsageError(f"{TIMEOUT_ENV}='{printable(raw, 40)}' is not a number of seconds greater than 0")
    return value


def _bounded(what: str, call: Callable[[], T], secret: str | None = None) -> T:
    """Run ``call`` in a daemon thread; give up after the timeout."""
    limit = timeout_seconds()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread, translated there
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"keyctl-keyring-{what}", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise KeyringTimeout(
            f"the keyring did not answer within {limit:g} s while trying to {what} "
            f"(is it locked, or is its D-Bus service unresponsive?); unlock it or raise {TIMEOUT_ENV}"
        )
    if "error" in box:
        raise _translate(box["error"], what, secret) from None
    return box.get("value")  # type: ignore[return-value]


def _detail(exc: BaseException, secret: str | None) -> str:
    """The backend's own words, unless they could carry the secret."""
    text = " ".join(str(exc).split())
    if secret and (secret in text or secret[3:] in text or repr(secret.encode()) in text):
        text = ""
    if len(text) > 200:
        text = text[:200] + "..."
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _translate(exc: BaseException, what: str, secret: str | None) -> KeyringError:
    if isinstance(exc, KeyringError):  # ours, raised inside the thread
        return exc
    from keyring import errors as kerr

    if isinstance(exc, kerr.NoKeyringError):
        return NoBackendError(f"no usable OS keyring ({_detail(exc, secret)}); {REMEDIES}")
    if isinstance(exc, kerr.KeyringLocked):
        return KeyringError(f"the keyring is locked and could not be unlocked, so keyctl could not {what}; unlock it and try again")
    return KeyringError(f"the keyring failed to {what} ({_detail(exc, secret)})")


def _backend() -> Any:
    import keyring

    return keyring.get_keyring()


def _describe(backend: Any) -> str:
    """The backend's human name; NoBackendError when it cannot keep a secret."""
    from keyring.backends import chainer, fail

    if isinstance(backend, fail.Keyring):
        raise NoBackendError(f"no usable OS keyring (the keyring package found no backend that can keep secrets); {REMEDIES}")
    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        if not chained:
            raise NoBackendError(f"no usable OS keyring (keyring's chainer has no backend); {REMEDIES}")
        # The chainer writes to its first backend.
        return f"{chained[0].name} (through keyring's chainer)"
    try:
        priority = backend.priority
    except Exception as exc:  # a backend decides its viability in `priority`
        raise NoBackendError(f"the keyring backend {backend.name} cannot be used ({_detail(exc, None)}); {REMEDIES}") from None
    if priority <= 0:
        raise NoBackendError(f"the keyring backend {backend.name} cannot keep secrets (priority {priority:g}); {REMEDIES}")
    return str(backend.name)


def _load_backend() -> Any:
    try:
        return _backend()
    except Exception as exc:
        # keyring.get_keyring() raises when PYTHON_KEYRING_BACKEND names a backend that
        # is missing or not viable here (SecretService without a D-Bus session).
        raise NoBackendError(f"no usable OS keyring ({_detail(exc, None)}); {REMEDIES}") from None


PROBE_USER = "keyctl-backend-check"  # never a key id (those start with key_)


def ensure_backend() -> str:
    """The name of the usable keyring backend (e.g. "SecretService Keyring").

    Raises KeyringError naming the remedies when there is none, and KeyringError when
    it is locked or does not answer: one read of an entry that does not exist reaches
    the keyring itself (a Secret Service collection, not only D-Bus), so that a
    keyring that cannot take the secret is found before anything is written."""

    def call() -> str:
        backend = _load_backend()
        name = _describe(backend)
        backend.get_password(SERVICE, PROBE_USER)
        return name

    return _bounded("reach the keyring", call)


def store_secret(key_id: str, secret: str) -> None:
    """Put (or replace) the secret of ``key_id`` in the keyring."""

    def call() -> None:
        _backend().set_password(SERVICE, key_id, secret)

    _bounded(f"store the secret of {key_id}", call, secret)


def get_secret(key_id: str) -> str | None:
    """The secret stored for ``key_id``, or None when there is none."""

    def call() -> str | None:
        return _backend().get_password(SERVICE, key_id)

    return _bounded(f"read the secret of {key_id}", call)


def delete_secret(key_id: str) -> bool:
    """Remove the entry of ``key_id``; False when there was none."""

    def call() -> bool:
        from keyring.errors import PasswordDeleteError

        backend = _backend()
        try:
            backend.delete_password(SERVICE, key_id)
        except PasswordDeleteError:
            # keyring's way of saying "no such password"; a refusal to delete leaves
            # the entry in place, which is an error.
            if backend.get_password(SERVICE, key_id) is None:
                return False
            raise
        return True

    return _bounded(f"remove the secret of {key_id}", call)


__all__ = ["SERVICE", "REMEDIES", "KeyringTimeout", "NoBackendError", "ensure_backend",
           "store_secret", "get_secret", "delete_secret", "timeout_seconds"]
