"""How a new secret reaches its user, for KeyStore's changes (keyctl/keys.py,
keyctl/apply.py): into the OS keyring (keyctl/keyring_store.py) and to the caller's
``deliver`` callback (the CLI writes and flushes stdout), both before the change
commits; and what is undone or said when something fails on the way.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .errors import KeyctlError, KeyringError, StoreError
from .models import Created
from .store import KeyRow

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store, Writer

Deliver = Callable[[Created], None]


class Delivery:
    """The delivery half of KeyStore's changes."""

    store: "Store"
    _warn: Callable[[str], None]

    # -- keyring -------------------------------------------------------------------------
    @contextmanager
    def _keyring_entries(self) -> Iterator[list[str]]:
        """Key ids whose secrets were put in the keyring inside a transaction: if the
        transaction does not commit, they are removed again (a keyring that stopped
        answering is not asked again: its entries name keys the store will not have)."""
        stored: list[str] = []
        try:
            yield stored
        except BaseException as exc:
            from . import keyring_store

            if not isinstance(exc, keyring_store.KeyringTimeout):
                for key_id in stored:
                    try:
                        keyring_store.delete_secret(key_id)
                    except KeyctlError:  # best effort: the store keeps no key for it
                        pass
            raise

    @staticmethod
    def _backend(wanted: bool) -> str | None:
        if not wanted:
            return None
        from . import keyring_store

        return keyring_store.ensure_backend()  # before anything is written

    @staticmethod
    def _deliver(created: Created, kept: list[str], deliver: Deliver | None, undone: str) -> None:
        if created.stored_in is not None:
            from . import keyring_store

            try:
                keyring_store.store_secret(created.key.id, created.secret)
            except KeyringError as exc:
                raise type(exc)(f"{exc.message}; {undone}") from None
            kept.append(created.key.id)
        if deliver is not None:
            deliver(created)

    @contextmanager
    def _writing(self, create: bool, void: str) -> Iterator["Writer"]:
        """A write transaction whose output may be delivered before it commits: if the
        commit then fails (a full disk), the error says that what was shown is void."""
        tx_box: list[Any] = []
        try:
            with self.store.transaction(create=create) as tx:
                tx_box.append(tx)
                yield tx
        except StoreError as exc:
            if tx_box and tx_box[0].delivered:
                raise StoreError(f"{exc.message}; {void}") from None
            raise

    @contextmanager
    def _old_entry_restored(self, key_id: str, keep: bool) -> Iterator[None]:
        """A rotation that does not commit leaves the keyring as it was: the old, still
        valid, secret back in its entry, or no entry."""
        if not keep:
            yield
            return
        from . import keyring_store

        old = keyring_store.get_secret(key_id)
        try:
            yield
        except BaseException as exc:
            if not isinstance(exc, keyring_store.KeyringTimeout):
                try:
                    if old is None:
                        keyring_store.delete_secret(key_id)
                    else:
                        keyring_store.store_secret(key_id, old)
                except KeyctlError:
                    self._warn(f"the keyring may hold a secret of {key_id} that does not work; "
                               f"`keyctl rotate {key_id} --keyring` replaces it")
            raise

    def _drop_entry(self, row: KeyRow, said: str, quiet: bool) -> None:
        from . import keyring_store

        if not quiet:
            self._warn(said)
        try:
            keyring_store.delete_secret(row.id)
        except KeyringError as exc:
            self._warn(f"could not remove the secret of {row.name or row.id} from the keyring ({exc.message}); "
                       f"remove it with `secret-tool clear service keyctl username {row.id}` (or your keyring's tool)")
