"""KeyStore: the library facade. It validates what it is given, makes the decisions
with the pure core (keyctl/catalog, keyctl/decide.py, keyctl/plan.py) and hands
storage to the store (keyctl/store). The CLI is a thin layer over it, and a Python
service can use it directly::

    from keyctl import KeyStore
    store = KeyStore("keys.db")
    created = store.create(scopes=["inputs.patch"], name="ci")
    store.check(created.secret, "inputs.get").outcome   # Outcome.REDACTED

Every rule the CLI applies is applied here. Failures raise :class:`keyctl.errors.
KeyctlError` subclasses (each with the CLI's exit code); wrong argument types raise
TypeError. Every read-modify-write reads the key again inside the write transaction
and computes its change from that row; a call that raises has changed nothing.

One KeyStore may be shared by threads (each gets its own connection). Warnings that
are not part of a result (a keyring entry that could not be removed, a store others
can read) go to ``on_warning``, by default Python's :func:`warnings.warn`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from . import tokens
from .errors import CatalogMismatchError, KeyctlError, NotFoundError, StoreError, UsageError
from .apply import ApplyOps
from .copying import CopyOps
from .upgrade import UpgradeOps
from .keys import KeyOps
from .checks import CheckOps
from .models import STATUSES, Key, key_status, sorted_ids
from .store import KeyRow, Writer, open_store
from .text import printable
from . import when as clock
from .when import iso

# The catalog (keyctl/catalog) is loaded by the calls that need one, and the verdicts
# (keyctl/decide.py) imported by the calls that decide: `list --json` needs neither.
if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .models import KeyDetail, LogEntry

MAX_LOG_LIMIT = 2**63 - 1  # SQLite's largest integer


def _python_warning(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)


class KeyStore(CheckOps, KeyOps, ApplyOps, UpgradeOps, CopyOps):
    """API keys in a store (a SQLite file or a PostgreSQL database), judged by its catalog."""

    def __init__(self, path: str | os.PathLike[str] | None = None, catalog: Catalog | str | None = None,
                 on_warning: Callable[[str], None] | None = None) -> None:
        """``path``: a SQLite path or postgresql:// URL (default $KEYCTL_DB, else the user's data folder).
        ``catalog``: a Catalog, a built-in name or a catalog file for a new store
        (default $KEYCTL_CATALOG, else ``clarifai``); an existing store keeps its own,
        and naming a different one is an error (see :meth:`catalog_upgrade`)."""
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
        if on_warning is not None and not callable(on_warning):
            raise TypeError(f"on_warning must be a function of one str, not {type(on_warning).__name__}")
        self._warn = on_warning or _python_warning
        self.store = open_store(path, on_warning=self._warn)
        self.path = getattr(self.store, "path", self.store.location)
        self._catalog_arg = catalog if catalog is not None else (os.environ.get("KEYCTL_CATALOG") or None)
        # The catalog decisions use, its revision in the store, and its memo of verdicts:
        # one value, replaced whole, so that no thread pairs a catalog with another's
        # revision or verdicts.
        self._cat: tuple[Catalog, str | None, dict[tuple, Any]] | None = None

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "KeyStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the catalog -------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        """The store's own catalog (kept inside the store at its first write), or for a
        store not created yet the one asked for."""
        return self._refresh_catalog()

    def _use(self, catalog: Catalog, rev: str | None) -> tuple[Catalog, str | None, dict[tuple, Any]]:
        old = self._cat
        self._cat = cat = (catalog, rev, old[2] if old is not None and old[0] is catalog else {})
        return cat

    def _resolve_catalog(self) -> "tuple[Catalog, str | None]":
        from .catalog import BUILTIN_CATALOGS, DEFAULT_CATALOG, builtin, builtin_text, load_catalog
        from .catalog.compiled import catalog_meta

        stored = _stored(self.store.meta)
        if stored is not None and self._catalog_arg in BUILTIN_CATALOGS and \
                stored[0].text == builtin_text(self._catalog_arg):
            return stored  # the store's own built-in: not parsed again
        requested = load_catalog(self._catalog_arg) if self._catalog_arg is not None else None
        if stored is None:
            chosen = requested or builtin(DEFAULT_CATALOG)
            self.store.initial_meta = catalog_meta(chosen)
            return chosen, None
        self._refuse_mismatch(requested, stored[0])
        # Checked against the store: from now on the store's catalog rules, also after a
        # `catalog upgrade` by another process (a long-lived KeyStore follows it).
        self._catalog_arg = None
        return stored

    def _refuse_mismatch(self, requested: Catalog | None, stored: Catalog) -> None:
        if requested is None or (requested.name == stored.name and requested.text == stored.text):
            return
        arg = printable(str(self._catalog_arg))
        if requested.name != stored.name:
            problem = f"keeps the catalog '{printable(stored.name)}', not '{printable(requested.name)}'"
        else:
            problem = f"keeps its own copy of the catalog '{printable(stored.name)}', which differs from {arg}"
        raise CatalogMismatchError(
            f"the store {self.store.location} {problem}; drop --catalog (and KEYCTL_CATALOG) to use the "
            f"store's own, or replace it with `keyctl catalog upgrade {arg}`"
        )

    def stored_catalog(self) -> Catalog | None:
        """The catalog kept inside the store, or None when there is no store yet."""
        stored = _stored(self.store.meta)
        return stored[0] if stored else None

    def _catalog_of(self, tx: Writer) -> Catalog:
        """The store's catalog as it is under the write lock (another process may have
        replaced it, or created the store with its own)."""
        rev = tx.meta("catalog_rev")
        cat = self._cat
        if cat is not None and rev == cat[1]:
            return cat[0]
        from .catalog import load_catalog

        requested = load_catalog(self._catalog_arg) if self._catalog_arg is not None else None
        stored = _stored(tx.meta)
        assert stored is not None  # the transaction made the store
        self._refuse_mismatch(requested, stored[0])
        self._catalog_arg = None
        return self._use(*stored)[0]

    def _refresh_catalog(self) -> Catalog:
        """The catalog, re-read when another process replaced it since."""
        cat = self._cat
        if cat is not None and self.store.meta("catalog_rev") not in (cat[1], None):
            cat = None
        return (cat or self._use(*self._resolve_catalog()))[0]

    # -- reading keys --------------------------------------------------------------------
    def _key(self, row: KeyRow, now: str | None = None) -> Key:
        now = now or iso(clock.utcnow())
        return Key(
            row.id, row.name, row.description, tuple(sorted_ids(row.scopes)),
            key_status(row.disabled, row.expires_at, now), row.created_at, row.updated_at,
            row.expires_at, row.hint, row.in_keyring, row.scopes,
        )

    def _row(self, ref: str, reader: Any = None) -> KeyRow:
        """The key a secret, id or name refers to, read with ``reader`` (the store, or a
        transaction's writer); NotFoundError when none."""
        tokens.require_ref(ref)
        look = (reader or self.store).by
        kind = tokens.kind_of(ref)
        if kind == "secret":
            if not tokens.is_well_formed(ref):
                raise NotFoundError("that secret is malformed (its checksum does not match); check that it was copied whole")
            row = look("secret_hash", tokens.hash_secret(ref))
            if row is None:
                raise NotFoundError("no key has that secret; it may have been rotated or deleted (see `keyctl list`)")
            return row
        row = look("id" if kind == "id" else "name", ref)
        if row is None:
            raise NotFoundError(self._no_such_key(kind, ref))
        return row

    def _no_such_key(self, kind: str, ref: str) -> str:
        hint = "; see `keyctl list`"
        if kind == "name":
            suggestion = self._similar_name(ref)
            if suggestion:
                hint = f"; did you mean '{printable(suggestion)}'?"
        return f"no key with the {kind} '{printable(ref)}'{hint}"

    def _similar_name(self, ref: str) -> str | None:
        """A key name close to ``ref``: the same but for case first, then a near one
        among names sharing its first letter (indexed, bounded)."""
        if not ref:
            return None
        from .catalog import Catalog

        near = sorted(name for prefix in {ref[0].lower(), ref[0].upper()}  # sorted: the same answer every run
                      for _, name in self.store.names_by_prefix(prefix, limit=200) if name)
        twins = [name for name in near if name.lower() == ref.lower()]
        return twins[0] if twins else Catalog.suggest(ref, near)

    def get(self, ref: str) -> Key:
        """The key a secret, id or name refers to (NotFoundError when none)."""
        return self._key(self._row(ref))

    def list(self, status: str | None = None, scope: Iterable[str] | None = None) -> Iterator[Key]:
        """Keys, oldest first, streamed. ``status``: active, disabled or expired.
        ``scope`` keeps keys holding everything it stands for."""
        if status is not None and not isinstance(status, str):
            raise TypeError(f"status must be a str or None, not {type(status).__name__}")
        if status is not None and status not in STATUSES:
            raise UsageError(f"--status '{printable(status)}' is not one of {', '.join(STATUSES)}")
        if isinstance(scope, str):
            scope = [scope]  # "" is an empty scope name, as on the command line, not no filter
        wanted: frozenset[str] = frozenset()
        if scope or self._catalog_arg is not None:  # a catalog named is checked against the store's
            catalog = self._refresh_catalog()
            wanted = catalog.expand(catalog.resolve_many(scope)) if scope else frozenset()
        else:
            self.store.meta("catalog_rev")  # a store that cannot be read fails here, before any output
        return self._listed(status, wanted)

    def _listed(self, status: str | None, wanted: frozenset[str]) -> Iterator[Key]:
        now = iso(clock.utcnow())
        for row in self.store.iter_keys():
            if wanted and not ("all" in row.scopes or wanted <= row.scopes):
                continue
            key = self._key(row, now)
            if status and key.status != status:
                continue
            yield key

    def show(self, ref: str) -> "KeyDetail":
        from .decide import outcomes_for, state_of
        from .models import KeyDetail

        key = self.get(ref)
        state = state_of(key.status, key.expires_at, iso(clock.utcnow()))
        return KeyDetail(key, outcomes_for(self._refresh_catalog(), key.granted, state))

    def names_by_prefix(self, prefix: str, limit: int = 50) -> list[tuple[str, str | None]]:
        """(id, name) of keys whose name or id starts with ``prefix`` (for completion)."""
        if not isinstance(prefix, str) or not isinstance(limit, int) or isinstance(limit, bool):
            raise TypeError("prefix must be a str and limit an int")
        if not 1 <= limit <= MAX_LOG_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LOG_LIMIT}")
        return self.store.names_by_prefix(prefix, limit)

    def log(self, ref: str | None = None, limit: int | None = None) -> "Iterator[LogEntry]":
        """The audit trail, newest first. A key's trail is found by its id or its name;
        a name no key has now finds the whole trail of each key that had it (deleted or
        renamed since)."""
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            raise TypeError(f"limit must be an int, not {type(limit).__name__}")
        if limit is not None and not 1 <= limit <= MAX_LOG_LIMIT:
            raise UsageError(f"--limit must be between 1 and {MAX_LOG_LIMIT}")
        key_id, key_name = None, None
        if ref is not None:
            kind = tokens.kind_of(tokens.require_ref(ref))
            if kind == "id":
                key_id = ref  # deleted keys too
            elif kind == "name" and self.store.by("name", ref) is None:
                if not any(True for _ in self.store.audit(key_name=ref, limit=1)):
                    raise NotFoundError(self._no_such_key("name", ref))
                key_name = ref  # a deleted key, by the name it had
            else:
                key_id = self._row(ref).id
        from .models import LogEntry

        return (LogEntry(a.at, a.actor, a.action, a.key_id, a.key_name, a.details)
                for a in self.store.audit(key_id, limit, key_name))

    def exists(self) -> bool:
        """True once the store has been created (by its first write)."""
        return self.store.exists()

    def status(self) -> dict[str, Any]:
        """What `keyctl status` reports (keyctl/status.py): the store, whether it can
        be used and why not, its catalog and its keys by status."""
        from .status import status_of

        return status_of(self)


def _stored(meta: Callable[[str], str | None]) -> "tuple[Catalog, str | None] | None":
    """The catalog a store keeps and its revision, or None when there is no store."""
    from .catalog import DEFAULT_CATALOG, builtin
    from .catalog.compiled import stored_catalog_of

    rev = meta("catalog_rev")
    name = meta("catalog")
    if rev is None and name is None:
        return None
    text = meta("catalog_text")
    try:
        if text is None:
            return builtin(name or DEFAULT_CATALOG), rev
        cached = _STORED_CACHE.get(text)
        if cached is None:
            cached = _STORED_CACHE[text] = stored_catalog_of(text, meta("catalog_compiled"), name or DEFAULT_CATALOG)
    except KeyctlError as exc:  # a catalog keyctl wrote and validated no longer reads: the store is damaged
        raise StoreError(f"the store's own catalog cannot be read ({exc.message}); the store is damaged: "
                         "restore it from a backup") from None
    return cached, rev


_STORED_CACHE: "dict[str, Catalog]" = {}
