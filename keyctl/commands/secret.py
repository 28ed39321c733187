"""Secrets in the OS keyring: the ``secret`` command, and the glue that ``create``,
``rotate`` and ``delete`` use for ``--keyring``. Every keyring call goes through
keyctl/keyring_store.py, imported here only when a keyring is actually wanted, so that
the commands that never touch it do not pay for ``import keyring``."""

# No `from __future__ import annotations` in the modules that define commands: Typer
# evaluates string annotations with eval(), several times per command on every start
# (about 9 ms of each keyctl call for all the commands; bench/README.md).

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from .. import render
from ..app import app, complete_key, state, warn
from ..errors import KeyctlError, KeyringError, NotFoundError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Created, Key, KeyStore

def _forget_hint(key_id: str) -> str:
    return f"remove it with `secret-tool clear service keyctl username {key_id}` (or your keyring's tool)"


# --- glue for create / rotate / delete -------------------------------------------------
def check_backend() -> str:
    """The keyring backend's name; KeyringError (with the remedies) when there is none.
    Called before anything is written."""
    from ..keyring_store import ensure_backend

    return ensure_backend()


def store_created(ks: "KeyStore", result: "Created", backend: str, action: str,
                  as_json: bool, show_secret: bool) -> None:
    """Put a just-created or just-rotated secret in the keyring and print the result.

    The key row already says in_keyring. When the keyring write fails, the secret is
    printed after all (nothing is lost), the row is corrected, and KeyringError tells
    the script (exit 1)."""
    from .. import keyring_store

    try:
        keyring_store.store_secret(result.key.id, result.secret)
    except KeyringError as exc:
        problems = [exc.message]
        try:
            ks.set_in_keyring(result.key.id, False)
        except KeyctlError as store_exc:
            problems.append(f"the store could not record that the secret is not in the keyring ({store_exc.message})")
        if action == "rotated" and not isinstance(exc, keyring_store.KeyringTimeout):
            # The entry may still hold the old secret; a hung keyring is not asked twice.
            try:
                keyring_store.delete_secret(result.key.id)
            except KeyringError:
                problems.append(f"the keyring may still hold the old secret: {_forget_hint(result.key.id)}")
        shown = replace(result, key=replace(result.key, in_keyring=False))
        render.created(shown, as_json, ks.catalog, stored_in=None, show_secret=True)
        raise KeyringError(
            "; ".join(problems)
            + f". Key {result.key.ref} was {action} all the same: its secret is printed above instead, copy it now"
        ) from None
    render.created(result, as_json, ks.catalog, stored_in=backend, show_secret=show_secret)


def drop_stale(key: "Key") -> None:
    """After a rotate without --keyring: the entry holds the old secret; remove it."""
    from .. import keyring_store

    warn(f"the secret of {key.ref} in the keyring is now stale; removing it (rotate with --keyring to replace it instead)")
    try:
        keyring_store.delete_secret(key.id)
    except KeyringError as exc:
        warn(f"could not remove the stale secret from the keyring ({exc.message}); {_forget_hint(key.id)}")


def drop_deleted(key: "Key") -> None:
    """After delete: the key is gone, so is its keyring entry. A failure only warns:
    the key is deleted, and the secret left behind no longer works."""
    from .. import keyring_store

    try:
        keyring_store.delete_secret(key.id)
    except KeyringError as exc:
        warn(f"key {key.ref} was deleted, but its secret could not be removed from the keyring "
             f"({exc.message}); it no longer works; {_forget_hint(key.id)}")


# --- keyctl secret ---------------------------------------------------------------------
@app.command()
def secret(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(
        metavar="KEY", autocompletion=complete_key, help="The key's id (key_...) or name.",
    )],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: {\"id\", \"name\", \"secret\"}.")] = False,
) -> None:
    """Print a key's secret from the OS keyring, alone on one line.

    Only keys created or rotated with --keyring have one there. Exit 1 when nothing
    (or only an outdated secret) is stored for the key.

    Examples:

    \b
      export CLARIFAI_PAT="$(keyctl secret ci-bot)"
      keyctl check "$(keyctl secret ci-bot)" predict.call
    """
    from .. import tokens  # hashlib and secrets: not on every call

    if key == "-" or tokens.kind_of(key) == "secret":
        raise UsageError("KEY is a secret already; give the key's id (key_...) or name")
    from .. import keyring_store

    ks = state(ctx).keystore()
    k = ks.get(key)
    if not k.in_keyring:
        raise KeyringError(
            f"nothing is stored in the keyring for {k.ref}: it was created or last rotated without "
            f"--keyring; `keyctl rotate {k.ref} --keyring` gives it a new secret kept there"
        )
    value = keyring_store.get_secret(k.id)
    if value is None:
        raise KeyringError(
            f"nothing is stored in the keyring for {k.ref} (service keyctl, user {k.id}): it was removed "
            f"outside keyctl; `keyctl rotate {k.ref} --keyring` gives it a new secret kept there"
        )
    if not _is_current(ks, k, value):
        raise KeyringError(
            f"the keyring holds an outdated secret for {k.ref} (it no longer matches the key); "
            f"`keyctl rotate {k.ref} --keyring` gives it a new one"
        )
    if k.status != "active":
        warn(f"{k.ref} is {k.status}: every check rejects its secret")
    render.secret(k, value, as_json)


def _is_current(ks: "KeyStore", key: "Key", value: str) -> bool:
    """Whether the keyring's secret is the key's current one (by its hash): an entry
    written by hand, or left over from an older secret, is never printed."""
    from .. import tokens

    if tokens.kind_of(value) != "secret":
        return False
    try:
        return ks.get(value).id == key.id
    except NotFoundError:
        return False
