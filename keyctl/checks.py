"""KeyStore's decisions: :meth:`check`, the hot path of a service (one indexed look-up
and a memoised verdict), and :meth:`check_many` (several operations, for the CLI).
The rules are keyctl/decide.py's (pure), imported when a verdict is first made."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from . import tokens
from . import when as clock
from .errors import NotFoundError, UsageError
from .models import Key, judged_status, key_status
from .text import printable
from .when import iso

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .decide import Verdict
    from .models import CheckReport
    from .store import KeyRow, Store


class CheckOps:
    """The decisions part of KeyStore."""

    store: "Store"
    _cat: Any

    # Provided by KeyStore:
    def _use(self, catalog: "Catalog", rev: str | None) -> Any: ...  # pragma: no cover
    def _resolve_catalog(self) -> Any: ...  # pragma: no cover
    def _refresh_catalog(self) -> "Catalog": ...  # pragma: no cover
    def _no_such_key(self, kind: str, ref: str) -> str: ...  # pragma: no cover
    def _key(self, row: "KeyRow", now: str | None = None) -> Key: ...  # pragma: no cover
    def get(self, ref: str) -> Key: ...  # pragma: no cover

    def check(self, key: str, operation: str) -> "Verdict":
        """What the API would do with ``key`` (a secret, id or name) for ONE operation
        (an operation id, any case, or its display form ``Inputs:Get``). A group,
        ``all`` or a list is refused (UsageError): :meth:`check_many` takes those.

        The hot path of a service: one indexed look-up (with the catalog's revision,
        so a catalog replaced elsewhere is noticed) and a memoised verdict, by secret,
        id or name alike."""
        tokens.require_ref(key)
        if not isinstance(operation, str):
            raise TypeError(f"operation must be a str, not {type(operation).__name__}")
        catalog, rev, verdicts = self._cat or self._use(*self._resolve_catalog())
        kind = tokens.kind_of(key)
        if kind == "secret":
            # The checksum is verified only when no key has the secret: a secret found by
            # its hash is well-formed (a store keeps the hashes of secrets keyctl made).
            # A malformed secret matches no hash, but is looked up all the same: the row
            # carries the catalog's revision, and a catalog replaced elsewhere is noticed.
            found = self.store.check_row("secret_hash", tokens.hash_secret(key) if tokens.has_format(key) else "")
        else:
            found = self.store.check_row(kind, key)
        if found is not None and found.catalog_rev != rev:
            catalog, rev, verdicts = self._use(*self._resolve_catalog())  # replaced by another process
        if found is None or found.id is None:
            if kind != "secret":
                self._operation(catalog, operation)  # an unknown operation is the first thing to say
                raise NotFoundError(self._no_such_key(kind, key))
            status = "unknown" if tokens.is_well_formed(key) else "malformed"
            return _verdict(catalog, verdicts, "", operation, status, None)
        if found.disabled:  # the clock is read only for a disabled key that expires
            status = "disabled" if found.expires_at is None else judged_status(True, found.expires_at,
                                                                                iso(clock.utcnow()))
        elif found.expires_at is None:
            status = "active"
        else:  # the clock is read only for a key that expires (a service's loop pays for it)
            status = key_status(False, found.expires_at, iso(clock.utcnow()))
        return _verdict(catalog, verdicts, found.scopes or "[]", operation, status, found.name or found.id)

    @staticmethod
    def _operation(catalog: "Catalog", name: str) -> str:
        found = catalog.operation_id(name)
        if found is not None and "," not in name:
            return found
        resolved = catalog.resolve_operations([name])  # unknown names raise, with did-you-mean
        raise UsageError(f"check takes one operation id, and '{printable(name)}' stands for "
                         f"{len(resolved)}; use check_many for groups, lists and all")

    def check_many(self, key: str, operations: Iterable[str] = ()) -> "CheckReport":
        """Verdicts for several operations (ids, groups or ``all``; none = every one)."""
        from .decide import KeyState, decide, state_of, worst
        from .models import CheckReport

        tokens.require_ref(key)
        catalog = self._refresh_catalog()
        ops = catalog.resolve_operations(operations)
        known: Key | None = None
        if key.startswith(tokens.SECRET_PREFIX):
            if tokens.is_well_formed(key):
                row = self.store.by("secret_hash", tokens.hash_secret(key))
                known = self._key(row) if row else None
                state = state_of(known.status, known.expires_at, iso(clock.utcnow())) if known else KeyState.UNKNOWN
            else:
                state = KeyState.MALFORMED
        else:
            known = self.get(key)
            state = state_of(known.status, known.expires_at, iso(clock.utcnow()))
        granted = known.granted if known else frozenset()
        ref = known.ref if known else None
        results = tuple(decide(catalog, granted, op, state, ref) for op in ops)
        return CheckReport(known, worst(r.outcome for r in results), results)


# A verdict depends on the catalog, the key's scopes (as stored), its status and the
# operation, and on nothing else but the key's name in its reason: KeyStore.check
# memoises it per catalog by those (never by key, so that a service checking many
# keys hits the memo), keeping a reason that names the key as the pieces around the
# name, joined with the key's name or id on each call.
_NAMED = "\0"  # stands for the key's name while a verdict is memoised: no name or id holds it
_VERDICT_MEMO_SIZE = 4096  # (scopes, operation, status) kept per catalog


def _verdict(catalog: "Catalog", verdicts: dict[tuple, Any], scopes: str, operation: str, status: str,
             ref: str | None) -> "Verdict":
    """decide(), memoised in ``verdicts`` (the catalog's own memo) by the operation as
    the caller spelt it (an unknown one raises, and is not kept)."""
    found = verdicts.get((scopes, operation, status))
    if found is None:
        found = _decided(catalog, scopes, CheckOps._operation(catalog, operation), status)
        if len(verdicts) >= _VERDICT_MEMO_SIZE:
            verdicts.clear()
        verdicts[(scopes, operation, status)] = found
    verdict, head, pieces = found
    if pieces is None:
        return verdict
    # A NamedTuple made from its fields directly: this runs on every check of a service.
    return _new_tuple(verdict.__class__, (*head, (ref or "KEY").join(pieces)))


_new_tuple = tuple.__new__


def _decided(catalog: "Catalog", scopes: str, operation: str, status: str) -> tuple["Verdict", tuple, tuple | None]:
    """The verdict, its fields but the reason, and (when the reason names the key) the
    reason's pieces around the name."""
    from .decide import STATE_OF_STATUS, KeyState, decide
    from .store.base import decode_scopes

    state = STATE_OF_STATUS[status] if status in STATE_OF_STATUS else KeyState(status)
    verdict = decide(catalog, decode_scopes(scopes) if scopes else frozenset(), operation, state, _NAMED)
    pieces = verdict.reason.split(_NAMED)
    return verdict, tuple(verdict[:-1]), tuple(pieces) if len(pieces) > 1 else None
