"""PURE: the scope catalog as a model, and its rules: names (case, display form,
aliases, groups, ``all``), closure under prerequisites, removal with dependents,
display.

A catalog is built by keyctl/catalog/build.py from rows that keyctl/catalog/load.py
validated (or that a store kept, compiled, after validating them); everything here
assumes a valid catalog and does no I/O.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterable, Iterator, Mapping, NamedTuple, TypeVar

from ..errors import UnknownOperationError, UnknownScopeError
from ..models import sorted_ids
from ..text import printable

ALL = "all"


# Who may call an operation: "key", an API key holding the operation's scopes; "pat",
# only a personal access token; "session", only a browser's session token; "none",
# anyone (no authorization).
AUTH_KINDS = ("key", "pat", "session", "none")


class Scope(NamedTuple):
    id: str
    description: str
    group: str | None
    requires: tuple[str, ...]  # direct prerequisites, in catalog order
    billable: bool | None  # consumes an Operation; False: free; None: the catalog does not say
    deprecated: bool = False  # may be granted, with a warning
    hidden: bool = False  # the API does not offer it for keys; may be granted, with a warning
    aliases: tuple[str, ...] = ()  # other spellings accepted for it (an API's own names)


class Operation(NamedTuple):
    id: str  # as the catalog spells it; looked up case-insensitively
    description: str
    requires: frozenset[str]  # every scope it needs, closed under prerequisites
    redacts: Mapping[str, frozenset[str]]  # portion -> scopes (closed) that reveal it
    redacts_direct: Mapping[str, str]  # portion -> the scope named in the catalog
    billable: bool | None
    auth: str = "key"  # one of AUTH_KINDS
    resource: str | None = None  # what it acts on, for grouping; None: its scope's group
    deprecated: bool = False


class Change(NamedTuple):
    """One scope that a closure added or a removal took away, and why."""

    scope: str
    because: str  # the scope that required it (added) or that it required (removed)


class Notice(NamedTuple):
    """A scope granted that the catalog marks: deprecated, or hidden (the API does not
    offer it for keys); or one that opens none of the catalog's endpoints to the key,
    with the endpoint that needs the fewest scopes more (``closed``). Granting it is
    allowed; the CLI prints this as a warning."""

    scope: str
    kind: str  # "deprecated" | "hidden" | "closed"
    example: tuple[str, ...] = ()  # closed: an endpoint that needs the scope, then what else it needs

    @property
    def message(self) -> str:
        if self.kind == "deprecated":
            return f"{self.scope} is deprecated: the API may not check it any more"
        if self.kind == "closed":
            endpoint, *missing = self.example
            return (f"{self.scope} opens no endpoint to this key yet: every endpoint that needs it needs more "
                    f"({endpoint} also needs {', '.join(missing)})")
        return f"{self.scope} is hidden: the API does not offer it for keys"


T = TypeVar("T")


class Table(Mapping[str, T], Generic[T]):
    """A read-only mapping whose values are built from rows on first access: a catalog
    kept by a store is loaded without building every scope and operation that one
    command never looks at. Iteration keeps the rows' order."""

    __slots__ = ("_rows", "_make", "_built")

    def __init__(self, rows: Mapping[str, Any], make: Callable[[str, Any], T]) -> None:
        self._rows = rows
        self._make = make
        self._built: dict[str, T] = {}

    def __getitem__(self, key: str) -> T:
        value = self._built.get(key)
        if value is None:
            value = self._built[key] = self._make(key, self._rows[key])
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> Mapping[str, Any]:
        """The rows the values are built from (keyctl/catalog/build.py)."""
        return self._rows


class Catalog:
    """A catalog: its scopes, groups and operations, and the rules between them.
    Read-only once made (a plain class, not a dataclass: every command builds one, and
    a dataclass costs its definition at every start)."""

    __slots__ = ("name", "description", "scopes", "groups", "operations", "text", "aliases", "scopes_are_calls",
                 "_cache")

    name: str
    description: str
    scopes: Mapping[str, Scope]  # in catalog order
    groups: Mapping[str, tuple[str, ...]]
    operations: Mapping[str, Operation]  # keyed by id as spelt, scopes' first
    text: str
    aliases: Mapping[str, str]  # folded alias -> scope id
    scopes_are_calls: bool  # False: only the operations that are not a scope's own are the API's calls
    _cache: dict  # indexes built on first use (see _index)

    def __init__(self, name: str, description: str, scopes: Mapping[str, Scope], groups: Mapping[str, tuple[str, ...]],
                 operations: Mapping[str, Operation], text: str = "", aliases: Mapping[str, str] | None = None,
                 scopes_are_calls: bool = True) -> None:
        for field, value in (("name", name), ("description", description), ("scopes", scopes), ("groups", groups),
                             ("operations", operations), ("text", text), ("aliases", {} if aliases is None else aliases),
                             ("scopes_are_calls", scopes_are_calls), ("_cache", {})):
            object.__setattr__(self, field, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Catalog is read-only (cannot set {name}); make another with _replace()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Catalog is read-only (cannot delete {name})")

    def _replace(self, **changes: Any) -> "Catalog":
        """A copy with some fields changed (as NamedTuple's ``_replace``)."""
        fields = {f: getattr(self, f) for f in ("name", "description", "scopes", "groups", "operations", "text",
                                                 "aliases", "scopes_are_calls")}
        return Catalog(**(fields | changes))

    def __eq__(self, other: object) -> bool:
        if type(other) is not Catalog:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f)
                   for f in ("name", "description", "scopes", "groups", "operations", "scopes_are_calls"))

    __hash__ = None  # type: ignore[assignment]  # its mappings are not hashable

    def __repr__(self) -> str:
        return f"Catalog(name={self.name!r}, scopes={len(self.scopes)}, operations={len(self.operations)})"

    # -- names ------------------------------------------------------------------
    def resolve(self, name: str) -> frozenset[str]:
        """Turn one scope name as a user typed it into scope ids.

        Case-insensitive; accepts ``inputs.patch``, ``Inputs:Patch``, a group
        (``inputs`` or ``inputs.*``) and ``all`` (returned as ``{"all"}``). White space
        inside a name makes it unknown."""
        key = normalize(name)
        if key == ALL:
            return frozenset({ALL})
        if key in self.scopes:
            return frozenset({key})
        if key in self.aliases:
            return frozenset({self.aliases[key]})
        group = key[:-2] if key.endswith(".*") else key
        if group in self.groups:
            return frozenset(self.groups[group])
        raise self._unknown(UnknownScopeError, "scope", name, [*self.scopes, *self.groups, ALL])

    def resolve_many(self, names: Iterable[str]) -> frozenset[str]:
        """Resolve several names (each may itself be a comma-separated list)."""
        out: set[str] = set()
        for name in split_names(names):
            out |= self.resolve(name)
        if ALL in out:
            return frozenset({ALL})
        return frozenset(out)

    def operation_id(self, name: str) -> str | None:
        """The id of the operation ``name`` names (any case; a scope's alias names the
        scope's operation), or None."""
        if name in self.operations:
            return name
        key = normalize(name)
        if key in self.operations:
            return key
        found = self._index("folded_operations").get(key)
        if found is None and key in self.aliases:
            found = self.aliases[key]
        return found

    def complete_operations(self, prefix: str) -> list[str]:
        """Operation ids that start with ``prefix`` whatever its case, as the catalog
        spells them (for TAB), and ``all`` likewise."""
        low = prefix.lower()
        found = [op for op in self.operations if op.lower().startswith(low)]
        return found + [ALL] if ALL.startswith(low) else found

    def resolve_operations(self, names: Iterable[str]) -> tuple[str, ...]:
        """Operation ids for names that are operations, groups or resources (their
        operations) or ``all``; none at all means every operation. Catalog order, no
        repeats."""
        wanted: set[str] = set()
        names = list(split_names(names, "operation"))
        if not names:
            return tuple(self.operations)
        for name in names:
            key = normalize(name)
            if key == ALL:
                return tuple(self.operations)
            found = self.operation_id(name)
            if found is not None:
                wanted.add(found)
                continue
            group = key[:-2] if key.endswith(".*") else key
            members = self._index("by_resource").get(group)
            if members:
                wanted |= set(members)
                continue
            raise self._unknown(UnknownOperationError, "operation", name,
                                [*self.operations, *self._index("by_resource"), ALL])
        if len(wanted) == 1:  # no need to walk every operation for its order
            return tuple(wanted)
        return tuple(op for op in self.operations if op in wanted)

    def resource_of(self, operation: str) -> str | None:
        """What an operation acts on, for grouping: the catalog's ``resource`` for it,
        else the group of the scope it is named after."""
        op = self.operations[operation]
        if op.resource is not None:
            return op.resource
        return self.scopes[operation].group if operation in self.scopes else None

    def _index(self, name: str) -> dict:
        """Indexes over every operation, built once per catalog when first needed (a
        check of one operation by its exact id needs none)."""
        found = self._cache.get(name)
        if found is None:
            if name == "folded_operations":
                found = {op.lower(): op for op in self.operations}
            elif name == "by_resource":
                found = {}
                for op in self.operations:
                    resource = self.resource_of(op)
                    if resource is not None:
                        found.setdefault(resource, []).append(op)
            elif name == "needing":  # scope -> the operations an API key calls with it, bar scopes' own
                found = {}
                for op in self.operations:
                    if op not in self.scopes and self.operations[op].auth == "key":
                        for scope in self.operations[op].requires:
                            found.setdefault(scope, []).append(op)
            else:  # "position": each scope's place in catalog order
                found = {s: i for i, s in enumerate(self.scopes)}
            self._cache[name] = found
        return found

    def _unknown(self, error: type[UnknownScopeError], what: str, name: str, candidates: list[str]) -> UnknownScopeError:
        suggestion = self.suggest(normalize(name).replace(" ", ""), candidates)
        hint = f"; did you mean '{suggestion}'?" if suggestion else "; see `keyctl scopes`"
        return error(f"unknown {what} '{printable(name)}'{hint}", name, suggestion)

    @staticmethod
    def suggest(name: str, candidates: list[str]) -> str | None:
        import difflib  # only on the error path

        folded = {c.lower(): c for c in candidates}
        found = difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.6)
        return folded[found[0]] if found else None

    def notices(self, granted: Iterable[str], held: Iterable[str] | None = None) -> tuple[Notice, ...]:
        """What to warn of the scopes ``granted`` to a key that then holds ``held`` (by
        default ``granted``), in catalog order: the marked ones; and, in a catalog whose
        scopes are not calls of the API (``scopes_are_calls = false``: clarifai-live),
        those that open no endpoint to it (every operation other than a scope's own that
        needs the scope needs another the key lacks, as Clarifai's ``Predict`` without
        ``Apps_Get``). ``all`` draws none."""
        granted = frozenset(granted)
        held = granted if held is None else frozenset(held)
        if ALL in granted or ALL in held:
            return ()
        out = []
        for scope in self._in_order(granted):
            s = self.scopes[scope]
            if s.deprecated:
                out.append(Notice(scope, "deprecated"))
            elif s.hidden:
                out.append(Notice(scope, "hidden"))
            closed = None if self.scopes_are_calls else _closed(self, scope, held)
            if closed is not None:
                out.append(closed)
        return tuple(out)

    def closed_by(self, before: Iterable[str], after: Iterable[str]) -> tuple[Notice, ...]:
        """The scopes a key keeps through a change from ``before`` to ``after`` that
        opened an endpoint to it before and open none after (``scope remove``), in
        catalog order."""
        before, after = frozenset(before), frozenset(after)
        if ALL in after or self.scopes_are_calls:
            return ()
        out = []
        for scope in self._in_order(before & after):
            closed = _closed(self, scope, after)
            if closed is not None and (ALL in before or _closed(self, scope, before) is None):
                out.append(closed)
        return tuple(out)

    def _in_order(self, scopes: frozenset[str]) -> list[str]:
        """The catalog's scopes among ``scopes``, in catalog order, in time that grows
        with them, not with the catalog."""
        known = [s for s in scopes if s in self.scopes]
        if len(known) < 2:
            return known
        position = self._index("position")
        return sorted(known, key=position.__getitem__)

    # -- sets of scopes -----------------------------------------------------------
    def expand(self, granted: Iterable[str]) -> frozenset[str]:
        """Every scope a grant stands for: ``all`` becomes every scope."""
        granted = frozenset(granted)
        if ALL in granted:
            return frozenset(self.scopes)
        return granted

    def closure(self, granted: Iterable[str]) -> tuple[frozenset[str], tuple[Change, ...]]:
        """The grant with every prerequisite added, transitively. Returns the closed
        set and, for each scope added, the scope that required it (in the order they
        were found: catalog order, breadth first, so warnings come out stably)."""
        granted = frozenset(granted)
        if ALL in granted:
            return frozenset({ALL}), ()
        have = set(granted)
        added: list[Change] = []
        queue = self._in_order(granted)
        head = 0
        while head < len(queue):
            scope = queue[head]
            head += 1
            for req in self.scopes[scope].requires:
                if req not in have:
                    have.add(req)
                    added.append(Change(req, scope))
                    queue.append(req)
        return frozenset(have), tuple(added)

    def remove(
        self, granted: Iterable[str], removing: Iterable[str]
    ) -> tuple[frozenset[str], tuple[Change, ...]]:
        """Remove scopes and every granted scope that requires one of them, transitively.

        ``all`` in the grant is expanded first; removing ``all`` removes everything.
        Returns the remaining scopes and each dependent removed, with the scope it
        required. Removing a scope that is not granted changes nothing."""
        have = set(self.expand(granted))
        gone = set(self.expand(removing)) & have
        have -= gone
        removed: list[Change] = []
        changed = True
        while changed:
            changed = False
            for scope in list(self.scopes):
                if scope not in have:
                    continue
                for req in self.scopes[scope].requires:
                    if req not in have:
                        have.discard(scope)
                        removed.append(Change(scope, req))
                        changed = True
                        break
        return frozenset(have), tuple(removed)

    def compact(self, granted: Iterable[str]) -> tuple[str, ...]:
        """A grant for people to read: a complete group shows as its group name,
        ``all`` as ``all``. Sorted."""
        granted = frozenset(granted)
        if ALL in granted:
            return (ALL,)
        out: list[str] = []
        covered: set[str] = set()
        for group, members in self.groups.items():
            if members and set(members) <= granted:
                out.append(group)
                covered |= set(members)
        out += [s for s in granted if s not in covered]
        return tuple(sorted(out))

    @staticmethod
    def sorted_ids(granted: Iterable[str]) -> list[str]:
        """The JSON form of a grant: sorted scope ids, or ``["all"]``."""
        return sorted_ids(granted)

    def group_of(self, scope: str) -> str | None:
        return self.scopes[scope].group


def _closed(catalog: "Catalog", scope: str, held: frozenset[str]) -> Notice | None:
    """The notice that ``scope`` opens none of ``catalog``'s endpoints to a key holding
    ``held``, with the one that needs the fewest more; None when it opens one."""
    best: tuple[str, frozenset[str]] | None = None
    for endpoint in catalog._index("needing").get(scope, ()):
        missing = catalog.operations[endpoint].requires - held
        if not missing:
            return None
        if best is None or len(missing) < len(best[1]):
            best = (endpoint, missing)
    return None if best is None else Notice(scope, "closed", (best[0], *sorted(best[1])))


def normalize(name: str) -> str:
    """``Inputs:Patch`` -> ``inputs.patch``: case-insensitive, display form accepted,
    white space around the name ignored (white space inside it is kept, so that
    ``pre dict`` is an unknown name, not ``predict``)."""
    return name.strip().lower().replace(":", ".")


def split_names(names: Iterable[str], what: str = "scope") -> Iterable[str]:
    """Split comma-separated lists; an empty item (``""``, ``a,,b``) is refused. One
    string is one name (or list), never a sequence of one-letter names."""
    if isinstance(names, str):
        names = (names,)
    for raw in names:
        if not isinstance(raw, str):
            raise TypeError(f"{what} names must be strings, not {type(raw).__name__}")
        for part in raw.split(","):
            if not part.strip():
                raise UnknownScopeError(
                    f"empty {what} name in '{printable(raw)}'; give {what} names such as 'predict' or 'inputs.get'",
                    raw,
                )
            yield part
