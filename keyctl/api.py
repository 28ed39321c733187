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
from .catalog import DEFAULT_CATALOG, Catalog, builtin, load_catalog, parse_catalog
from .decide import STATE_OF_STATUS, STATUSES, KeyState, Verdict, decide, key_status, outcomes_for, worst
from .errors import CatalogMismatchError, KeyctlError, NotFoundError, UsageError
from .keys import KeyOps
from .models import CatalogUpgrade, CheckReport, Key, KeyDetail, LogEntry
from .store import KeyRow, Writer, open_store
from .store.migrations import catalog_rev
from .text import printable
from . import when as clock
from .when import iso

if TYPE_CHECKING:  # pragma: no cover
    from .manifest import Manifest
    from .models import Exported
    from .plan import Plan

MAX_LOG_LIMIT = 2**63 - 1  # SQLite's largest integer


def _python_warning(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)


class KeyStore(KeyOps):
    """API keys in a store (a SQLite file or a PostgreSQL database), judged by its catalog."""

    def __init__(self, path: str | os.PathLike[str] | None = None, catalog: Catalog | str | None = None,
                 on_warning: Callable[[str], None] | None = None) -> None:
        """``path``: a SQLite path or postgresql:// URL (default $KEYCTL_DB, else the user's data folder).
        ``catalog``: a Catalog, a built-in name or a catalog file for a new store
        (default $KEYCTL_CATALOG, else ``clarifai``); an existing store keeps its own,
        and naming a different one is an error (see :meth:`catalog_upgrade`)."""
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
        self._warn = on_warning or _python_warning
        self.store = open_store(path, on_warning=self._warn)
        self.path = getattr(self.store, "path", self.store.location)
        self._catalog_arg = catalog if catalog is not None else (os.environ.get("KEYCTL_CATALOG") or None)
        self._catalog: Catalog | None = None
        self._catalog_rev: str | None = None
        self._verdicts: dict[tuple, Verdict] = {}

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
        if self._catalog is None:
            self._use(*self._resolve_catalog())
        return self._catalog  # type: ignore[return-value]

    def _use(self, catalog: Catalog, rev: str | None) -> None:
        if catalog is not self._catalog:
            self._verdicts = {}
        self._catalog, self._catalog_rev = catalog, rev

    def _resolve_catalog(self) -> tuple[Catalog, str | None]:
        requested = load_catalog(self._catalog_arg) if self._catalog_arg is not None else None
        stored = self._stored(self.store.meta)
        if stored is None:
            chosen = requested or builtin(DEFAULT_CATALOG)
            self.store.initial_meta = {"catalog": chosen.name, "catalog_text": chosen.text,
                                       "catalog_rev": catalog_rev(chosen.text)}
            return chosen, None
        self._refuse_mismatch(requested, stored[0])
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

    @staticmethod
    def _stored(meta: Callable[[str], str | None]) -> tuple[Catalog, str | None] | None:
        """The catalog a store keeps and its revision, or None when there is no store."""
        rev = meta("catalog_rev")
        name = meta("catalog")
        if rev is None and name is None:
            return None
        text = meta("catalog_text")
        if text is None:
            return builtin(name or DEFAULT_CATALOG), rev
        cached = _STORED_CACHE.get(text)
        if cached is None:
            cached = _STORED_CACHE[text] = parse_catalog(text, source=f"the store's catalog '{name}'")
        return cached, rev

    def stored_catalog(self) -> Catalog | None:
        """The catalog kept inside the store, or None when there is no store yet."""
        stored = self._stored(self.store.meta)
        return stored[0] if stored else None

    def _catalog_of(self, tx: Writer) -> Catalog:
        """The store's catalog as it is under the write lock (another process may have
        replaced it, or created the store with its own)."""
        rev = tx.meta("catalog_rev")
        if self._catalog is not None and rev == self._catalog_rev:
            return self._catalog
        requested = load_catalog(self._catalog_arg) if self._catalog_arg is not None else None
        stored = self._stored(tx.meta)
        assert stored is not None  # the transaction made the store
        self._refuse_mismatch(requested, stored[0])
        self._use(*stored)
        return stored[0]

    def _refresh_catalog(self) -> Catalog:
        """The catalog, re-read when another process replaced it since."""
        if self._catalog is not None and self.store.meta("catalog_rev") not in (self._catalog_rev, None):
            self._catalog = None
        return self.catalog

    # -- reading keys --------------------------------------------------------------------
    def _key(self, row: KeyRow, now: str | None = None) -> Key:
        now = now or iso(clock.utcnow())
        return Key(
            row.id, row.name, row.description, tuple(Catalog.sorted_ids(row.scopes)),
            key_status(row.disabled, row.expires_at, now), row.created_at, row.updated_at,
            row.expires_at, row.hint, row.in_keyring, row.scopes,
        )

    def _row(self, ref: str, reader: Any = None) -> KeyRow:
        """The key a secret, id or name refers to, read with ``reader`` (the store, or a
        transaction's writer); NotFoundError when none."""
        if not isinstance(ref, str):
            raise TypeError(f"a key is named by a secret, an id or a name (a str), not {type(ref).__name__}")
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
        near = [name for prefix in {ref[0].lower(), ref[0].upper()}
                for _, name in self.store.names_by_prefix(prefix, limit=200) if name]
        for name in near:
            if name.lower() == ref.lower():
                return name
        return Catalog.suggest(ref, near)

    def get(self, ref: str) -> Key:
        """The key a secret, id or name refers to (NotFoundError when none)."""
        return self._key(self._row(ref))

    def list(self, status: str | None = None, scope: Iterable[str] | None = None) -> Iterator[Key]:
        """Keys, oldest first, streamed. ``status``: active, disabled or expired.
        ``scope`` keeps keys holding everything it stands for."""
        if status is not None and status not in STATUSES:
            raise UsageError(f"--status '{printable(status)}' is not one of {', '.join(STATUSES)}")
        catalog = self._refresh_catalog()
        wanted = catalog.expand(catalog.resolve_many(scope)) if scope else frozenset()
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

    def show(self, ref: str) -> KeyDetail:
        key = self.get(ref)
        return KeyDetail(key, outcomes_for(self._refresh_catalog(), key.granted, STATE_OF_STATUS[key.status]))

    def names_by_prefix(self, prefix: str, limit: int = 50) -> list[tuple[str, str | None]]:
        """(id, name) of keys whose name or id starts with ``prefix`` (for completion)."""
        return self.store.names_by_prefix(prefix, limit)

    def log(self, ref: str | None = None, limit: int | None = None) -> Iterator[LogEntry]:
        """The audit trail, newest first. A key's trail is found by its id, its current
        name, or the name a deleted key had."""
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            raise TypeError(f"limit must be an int, not {type(limit).__name__}")
        if limit is not None and not 1 <= limit <= MAX_LOG_LIMIT:
            raise UsageError(f"--limit must be between 1 and {MAX_LOG_LIMIT}")
        key_id, key_name = None, None
        if ref is not None:
            if not isinstance(ref, str):
                raise TypeError(f"a key is named by a secret, an id or a name (a str), not {type(ref).__name__}")
            kind = tokens.kind_of(ref)
            if kind == "id":
                key_id = ref  # deleted keys too
            elif kind == "name" and self.store.by("name", ref) is None:
                if not any(True for _ in self.store.audit(key_name=ref, limit=1)):
                    raise NotFoundError(self._no_such_key("name", ref))
                key_name = ref  # a deleted key, by the name it had
            else:
                row = self._row(ref)
                key_id, key_name = row.id, row.name
        return (LogEntry(a.at, a.actor, a.action, a.key_id, a.key_name, a.details)
                for a in self.store.audit(key_id, limit, key_name))

    def status(self) -> dict[str, Any]:
        """What `keyctl status` reports: the store, its catalog, its keys."""
        info = self.store.describe()
        counts = {s: 0 for s in STATUSES}
        if info["exists"]:
            now = iso(clock.utcnow())
            for row in self.store.iter_keys():
                counts[key_status(row.disabled, row.expires_at, now)] += 1
        stored = self.stored_catalog() if info["exists"] else None
        catalog = stored or self.catalog
        from .catalog import BUILTIN_CATALOGS

        builtin_text = builtin(catalog.name).text if catalog.name in BUILTIN_CATALOGS else None
        info["catalog"] = {"name": catalog.name, "builtin": builtin_text == catalog.text}
        info["keys"] = counts | {"total": sum(counts.values())}
        return info

    # -- decisions -----------------------------------------------------------------------
    def check(self, key: str, operation: str) -> Verdict:
        """What the API would do with ``key`` (a secret, id or name) for ONE operation
        (an operation id, any case, or its display form ``Inputs:Get``). A group,
        ``all`` or a list is refused (UsageError): :meth:`check_many` takes those.

        The hot path of a service: one indexed look-up (with the catalog's revision,
        so a catalog replaced elsewhere is noticed) and a memoised verdict."""
        if not isinstance(key, str):
            raise TypeError(f"key must be a str (a secret, an id or a name), not {type(key).__name__}")
        if not isinstance(operation, str):
            raise TypeError(f"operation must be a str, not {type(operation).__name__}")
        catalog = self.catalog
        kind = tokens.kind_of(key)
        if kind == "secret":
            if not tokens.is_well_formed(key):
                return self._verdict(catalog, "", self._operation(catalog, operation), KeyState.MALFORMED, None)
            found = self.store.check_row("secret_hash", tokens.hash_secret(key))
        else:
            found = self.store.check_row(kind, key)
        if found is not None and found.catalog_rev != self._catalog_rev:
            self._use(*self._resolve_catalog())  # replaced by another process
            catalog = self.catalog
        op = self._operation(catalog, operation)
        if found is None or found.id is None:
            if kind != "secret":
                raise NotFoundError(self._no_such_key(kind, key))
            return self._verdict(catalog, "", op, KeyState.UNKNOWN, None)
        state = STATE_OF_STATUS[key_status(found.disabled, found.expires_at, iso(clock.utcnow()))]
        return self._verdict(catalog, found.scopes or "[]", op, state, found.name or found.id)

    @staticmethod
    def _operation(catalog: Catalog, name: str) -> str:
        if name in catalog.operations:
            return name
        resolved = catalog.resolve_operations([name])  # unknown names raise, with did-you-mean
        if len(resolved) == 1 and resolved[0] == name.strip().lower().replace(":", "."):
            return resolved[0]
        raise UsageError(f"check takes one operation id, and '{printable(name)}' stands for "
                         f"{len(resolved)}; use check_many for groups, lists and all")

    def _verdict(self, catalog: Catalog, scopes: str, operation: str, state: KeyState, ref: str | None) -> Verdict:
        """decide(), memoised: a verdict depends only on the catalog and these arguments
        (the key's state is judged before, expiry included) and is immutable, so one
        instance can answer every call. Bounded, and emptied when the catalog changes."""
        memo_key = (scopes, operation, state, ref)
        verdict = self._verdicts.get(memo_key)
        if verdict is None:
            from .store.base import decode_scopes

            verdict = decide(catalog, decode_scopes(scopes) if scopes else frozenset(), operation, state, ref)
            if len(self._verdicts) >= _VERDICT_MEMO_SIZE:
                self._verdicts = {}
            self._verdicts[memo_key] = verdict
        return verdict

    def check_many(self, key: str, operations: Iterable[str] = ()) -> CheckReport:
        """Verdicts for several operations (ids, groups or ``all``; none = every one)."""
        if not isinstance(key, str):
            raise TypeError(f"key must be a str (a secret, an id or a name), not {type(key).__name__}")
        catalog = self._refresh_catalog()
        ops = catalog.resolve_operations(operations)
        known: Key | None = None
        if key.startswith(tokens.SECRET_PREFIX):
            if tokens.is_well_formed(key):
                row = self.store.by("secret_hash", tokens.hash_secret(key))
                known = self._key(row) if row else None
                state = STATE_OF_STATUS[known.status] if known else KeyState.UNKNOWN
            else:
                state = KeyState.MALFORMED
        else:
            known = self.get(key)
            state = STATE_OF_STATUS[known.status]
        granted = known.granted if known else frozenset()
        ref = known.ref if known else None
        results = tuple(decide(catalog, granted, op, state, ref) for op in ops)
        return CheckReport(known, worst(r.outcome for r in results), results)

    # -- manifests ---------------------------------------------------------------------------
    def read_manifest(self, text: str, source: str = "manifest") -> "Manifest":
        """Parse and validate manifest TOML text (ManifestError, exit 2, when it is bad).
        ``source`` (the file name) is named in every message and in the audit trail."""
        from .manifest import parse_manifest

        if not isinstance(text, str):
            raise TypeError(f"manifest text must be a str, not {type(text).__name__}")
        return parse_manifest(text, source, self._refresh_catalog(), clock.utcnow())

    def plan(self, manifest: "Manifest", prune: bool = False) -> "Plan":
        """What applying ``manifest`` would change (keyctl/plan.py has the rules).
        Reads only: a store that does not exist yet is planned as empty."""
        from .plan import make_plan

        return make_plan(manifest, self.store.iter_keys(), self._refresh_catalog(), clock.utcnow(), prune)

    def export(self) -> "Exported":
        """The store as a manifest: every named key, sorted by name, without secrets or
        ids. A relative expiry that a manifest gave is exported as given ("90d"); any
        other expiry as the absolute time, so that applying the export changes nothing."""
        from .manifest import dump_manifest, manifest_entry
        from .models import Exported

        catalog = self._refresh_catalog()
        named: list[KeyRow] = []
        skipped: list[str] = []
        for row in self.store.iter_keys():
            if row.name is None:
                skipped.append(row.id)  # a manifest knows keys only by name
            else:
                named.append(row)
        named.sort(key=lambda r: r.name or "")
        entries: dict[str, dict[str, Any]] = {}
        data: dict[str, dict[str, Any]] = {}
        for row in named:
            scopes = catalog.sorted_ids(row.scopes)
            expires = row.expires_spec or row.expires_at
            entries[row.name] = manifest_entry(scopes, row.description, expires, not row.disabled)  # type: ignore[index]
            data[row.name] = {"scopes": scopes, "description": row.description or None,  # type: ignore[index]
                              "expires": expires, "enabled": not row.disabled}
        return Exported(dump_manifest(entries), data, tuple(skipped))

    # -- the catalog, replaced ------------------------------------------------------------
    def catalog_upgrade(self, ref: "Catalog | str", yes: bool = False) -> CatalogUpgrade:
        """Replace the store's catalog with ``ref`` (a built-in name or a file), after
        checking every key against it. Without ``yes`` it only reports. With ``yes`` it
        refuses while keys hold scopes the new catalog does not know, and otherwise adds
        the prerequisites the new catalog requires (audited) and keeps the new text.
        Applied, every key is read and changed under the write lock."""
        new = load_catalog(ref)
        old = self.stored_catalog()
        if old is None:
            raise NotFoundError(
                f"there is no store at {self.store.location} yet; choose the catalog of a new store with --catalog {printable(str(ref))}"
            )
        report = _upgrade_report(old.name, new, self.store.iter_keys(), self._key)
        if not yes:
            return report
        with self.store.transaction(create=False) as tx:
            old = self._catalog_of(tx)
            report = _upgrade_report(old.name, new, tx.iter_keys(), self._key)
            if report.unknown:
                names = ", ".join(f"{k.ref} ({', '.join(s)})" for k, s in report.unknown[:10])
                more = f" and {len(report.unknown) - 10} more" if len(report.unknown) > 10 else ""
                raise KeyctlError(
                    f"{len(report.unknown)} key(s) hold scopes that the catalog '{printable(new.name)}' does not know: "
                    f"{names}{more}; remove those scopes (`keyctl scope remove KEY SCOPE`) and run the upgrade again"
                )
            now = iso(clock.utcnow())
            tx.update_keys([(k.id, {"scopes": new.closure(k.granted)[0], "updated_at": now})
                            for k, _ in report.additions])
            tx.audit_many([(now, "scope.add", k.id, k.name, {
                "before": sorted(k.granted), "after": sorted(new.closure(k.granted)[0]),
                "added_prerequisites": [c.scope for c in added], "removed_dependents": [],
                "reason": f"catalog upgrade to '{new.name}'"}) for k, added in report.additions]
                + [(now, "catalog.upgrade", None, None, {"from": old.name, "to": new.name,
                                                        "keys_changed": len(report.additions)})])
            rev = catalog_rev(new.text)
            for key, value in (("catalog", new.name), ("catalog_text", new.text), ("catalog_rev", rev)):
                tx.set_meta(key, value)
        self._catalog_arg = None
        self._use(new, rev)
        return report._replace(applied=True)


def _upgrade_report(old: str, new: Catalog, rows: Iterable[KeyRow], key_of: Callable[..., Key]) -> CatalogUpgrade:
    unknown: list[tuple[Key, tuple[str, ...]]] = []
    additions: list[tuple[Key, tuple]] = []
    now = iso(clock.utcnow())
    for row in rows:
        if "all" in row.scopes:
            continue
        strangers = tuple(sorted(s for s in row.scopes if s not in new.scopes))
        if strangers:
            unknown.append((key_of(row, now), strangers))
            continue
        _, added = new.closure(row.scopes)
        if added:
            additions.append((key_of(row, now), added))
    return CatalogUpgrade(old, new.name, tuple(unknown), tuple(additions), False)


_STORED_CACHE: dict[str, Catalog] = {}
_VERDICT_MEMO_SIZE = 4096  # verdicts kept per KeyStore (keys x operations in use)
