"""PURE: the scope catalog as a model, and its rules: names (case, display form,
groups, ``all``), closure under prerequisites, removal with dependents, display.

A catalog is built by keyctl/catalog/load.py, the one path that validates catalog
text; everything here assumes a valid catalog and does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..errors import UnknownOperationError, UnknownScopeError
from ..text import printable

ALL = "all"


@dataclass(frozen=True)
class Scope:
    id: str
    description: str
    group: str | None
    requires: tuple[str, ...]  # direct prerequisites, in catalog order
    billable: bool


@dataclass(frozen=True)
class Operation:
    id: str
    description: str
    requires: frozenset[str]  # every scope it needs, closed under prerequisites
    redacts: Mapping[str, frozenset[str]]  # portion -> scopes (closed) that reveal it
    redacts_direct: Mapping[str, str]  # portion -> the scope named in the catalog
    billable: bool


@dataclass(frozen=True)
class Change:
    """One scope that a closure added or a removal took away, and why."""

    scope: str
    because: str  # the scope that required it (added) or that it required (removed)


@dataclass(frozen=True)
class Catalog:
    name: str
    description: str
    scopes: Mapping[str, Scope]  # in catalog order
    groups: Mapping[str, tuple[str, ...]]
    operations: Mapping[str, Operation]
    text: str = field(default="", repr=False, compare=False)

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

    def resolve_operations(self, names: Iterable[str]) -> tuple[str, ...]:
        """Operation ids for names that are operations, groups (their operations) or
        ``all``; none at all means every operation. Catalog order, no repeats."""
        wanted: set[str] = set()
        names = list(split_names(names, "operation"))
        if not names:
            return tuple(self.operations)
        for name in names:
            key = normalize(name)
            if key == ALL:
                return tuple(self.operations)
            if key in self.operations:
                wanted.add(key)
                continue
            group = key[:-2] if key.endswith(".*") else key
            if group in self.groups:
                wanted |= {op for op in self.groups[group] if op in self.operations}
                continue
            raise self._unknown(UnknownOperationError, "operation", name, [*self.operations, *self.groups, ALL])
        return tuple(op for op in self.operations if op in wanted)

    def _unknown(self, error: type[UnknownScopeError], what: str, name: str, candidates: list[str]) -> UnknownScopeError:
        suggestion = self.suggest(normalize(name).replace(" ", ""), candidates)
        hint = f"; did you mean '{suggestion}'?" if suggestion else "; see `keyctl scopes`"
        return error(f"unknown {what} '{printable(name)}'{hint}", name, suggestion)

    @staticmethod
    def suggest(name: str, candidates: list[str]) -> str | None:
        import difflib  # only on the error path

        found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        return found[0] if found else None

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
        queue = [s for s in self.scopes if s in granted]
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
        granted = frozenset(granted)
        return [ALL] if ALL in granted else sorted(granted)

    def group_of(self, scope: str) -> str | None:
        return self.scopes[scope].group


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
