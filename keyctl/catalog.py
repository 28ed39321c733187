"""PURE: the scope catalog. Loads and validates a catalog (TOML text), and holds the
rules about scopes: names, groups, prerequisites (closure) and removal with dependents.

No I/O here but reading a catalog's text in :func:`builtin` (the package's own data)
and :func:`load_catalog` (a user's file); both hand the text to :func:`parse_catalog`,
the one validating path, and everything after that is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .errors import CatalogError, UnknownOperationError, UnknownScopeError

ALL = "all"
BUILTIN_CATALOGS = ("clarifai", "clarifai-live")
DEFAULT_CATALOG = "clarifai"

_ID = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")
_TOP_FIELDS = {"name", "description", "groups", "scopes", "operations"}
_SCOPE_FIELDS = {"id", "description", "requires", "billable"}
_OPERATION_FIELDS = {"id", "description", "requires", "billable", "redacts"}


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
        (``inputs`` or ``inputs.*``) and ``all`` (returned as ``{"all"}``)."""
        key = normalize(name)
        if key == ALL:
            return frozenset({ALL})
        if key in self.scopes:
            return frozenset({key})
        group = key[:-2] if key.endswith(".*") else key
        if group in self.groups:
            return frozenset(self.groups[group])
        suggestion = self.suggest(key, [*self.scopes, *self.groups, ALL])
        hint = f"; did you mean '{suggestion}'?" if suggestion else "; see `keyctl scopes`"
        raise UnknownScopeError(f"unknown scope '{shown(name)}'{hint}", name, suggestion)

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
            suggestion = self.suggest(key, [*self.operations, *self.groups, ALL])
            hint = f"; did you mean '{suggestion}'?" if suggestion else "; see `keyctl scopes`"
            raise UnknownOperationError(f"unknown operation '{shown(name)}'{hint}", name, suggestion)
        return tuple(op for op in self.operations if op in wanted)

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

    def close(self, granted: Iterable[str]) -> tuple[frozenset[str], tuple[Change, ...]]:
        """Add every prerequisite, transitively. Returns the closed set and, for each
        scope added, the scope that required it (in the order they were found)."""
        granted = frozenset(granted)
        if ALL in granted:
            return frozenset({ALL}), ()
        have = set(granted)
        added: list[Change] = []
        # Walk in catalog order so that warnings come out in a stable order.
        queue = [s for s in self.scopes if s in granted]
        while queue:
            scope = queue.pop(0)
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
    """``Inputs:Patch`` -> ``inputs.patch``: case-insensitive, display form accepted."""
    return name.strip().lower().replace(":", ".").replace(" ", "")


def shown(text: str, limit: int = 80) -> str:
    """User input as an error message may quote it: control and bidi characters escaped
    (a NUL or an escape sequence never reaches the terminal raw), and cut at ``limit``."""
    if len(text) <= limit and text.isprintable():
        return text
    return repr(text[:limit])[1:-1] + ("..." if len(text) > limit else "")


def split_names(names: Iterable[str], what: str = "scope") -> Iterable[str]:
    """Split comma-separated lists; an empty item (``""``, ``a,,b``) is refused."""
    for raw in names:
        for part in raw.split(","):
            if not part.strip():
                raise UnknownScopeError(
                    f"empty {what} name in '{shown(raw)}'; give {what} names such as 'predict' or 'inputs.get'",
                    raw,
                )
            yield part


# --- loading -------------------------------------------------------------------------
def builtin(name: str = DEFAULT_CATALOG) -> Catalog:
    """A built-in catalog by name, parsed once per process."""
    cached = _BUILTIN_CACHE.get(name)
    if cached is None:
        if name not in BUILTIN_CATALOGS:
            raise CatalogError(
                f"unknown catalog '{name}'; built-in catalogs: {', '.join(BUILTIN_CATALOGS)}"
            )
        cached = parse_catalog(builtin_text(name), source=f"built-in catalog '{name}'")
        _BUILTIN_CACHE[name] = cached
    return cached


def builtin_text(name: str) -> str:
    from importlib.resources import files

    return (files("keyctl") / "catalogs" / f"{name}.toml").read_text(encoding="utf-8")


_BUILTIN_CACHE: dict[str, Catalog] = {}


def load_catalog(ref: "Catalog | str") -> Catalog:
    """A catalog by reference: a Catalog, a built-in name, or the path of a catalog file
    (the one place a user's file is read; its text is then validated like a built-in)."""
    if isinstance(ref, Catalog):
        return ref
    if ref in BUILTIN_CATALOGS:
        return builtin(ref)
    import os

    if os.path.isfile(ref):
        try:
            with open(ref, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(f"cannot read the catalog file {ref}: {exc}") from None
        return parse_catalog(text, source=ref)
    if os.path.exists(ref):
        raise CatalogError(f"the catalog {ref} is not a file")
    raise CatalogError(
        f"unknown catalog '{ref}': not a built-in ({', '.join(BUILTIN_CATALOGS)}) and no such file"
    )


def parse_catalog(text: str, source: str = "catalog") -> Catalog:
    """Parse and validate catalog TOML text. Raises CatalogError listing every problem."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    problems = validate(data)
    if problems:
        head = f"{source}: {problems[0]}"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise CatalogError(head + more, tuple(problems))
    return _build(data, text)


def validate(data: dict) -> list[str]:
    """Every problem in a parsed catalog document, each naming the entry it is in."""
    problems: list[str] = []
    for key in data:
        if key not in _TOP_FIELDS:
            problems.append(f"unknown field '{key}' at the top level")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("the catalog needs a 'name' (a non-empty string)")
    if "description" in data and not isinstance(data["description"], str):
        problems.append("'description' must be a string")

    scopes = data.get("scopes", [])
    if not isinstance(scopes, list) or not scopes:
        problems.append("the catalog needs at least one [[scopes]] entry")
        scopes = [] if not isinstance(scopes, list) else scopes
    ids: list[str] = []
    requires: dict[str, list[str]] = {}
    for index, entry in enumerate(scopes, 1):
        if not isinstance(entry, dict):
            problems.append(f"scopes entry {index}: must be a table")
            continue
        sid = entry.get("id")
        where = f"scope '{sid}'" if isinstance(sid, str) else f"scopes entry {index}"
        for key in entry:
            if key not in _SCOPE_FIELDS:
                problems.append(f"{where}: unknown field '{key}'")
        if not isinstance(sid, str) or not _ID.match(sid):
            problems.append(
                f"{where}: 'id' must be lowercase letters, digits, '_' or '-', dot-separated"
            )
            continue
        if sid == ALL:
            problems.append(f"{where}: 'all' is reserved: it grants every scope")
        if sid in ids:
            problems.append(f"{where}: duplicate id '{sid}'")
            continue
        ids.append(sid)
        if not isinstance(entry.get("description", ""), str):
            problems.append(f"{where}: 'description' must be a string")
        if not isinstance(entry.get("billable", False), bool):
            problems.append(f"{where}: 'billable' must be true or false")
        reqs = entry.get("requires", [])
        if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
            problems.append(f"{where}: 'requires' must be a list of scope ids")
            reqs = []
        requires[sid] = reqs
    known = set(ids)
    for sid, reqs in requires.items():
        for req in reqs:
            if req not in known:
                problems.append(f"scope '{sid}': requires '{req}', which names no scope")
            elif req == sid:
                problems.append(f"scope '{sid}': requires itself")
    cycle = _find_cycle(ids, {s: [r for r in rs if r in known and r != s] for s, rs in requires.items()})
    if cycle:
        problems.append("prerequisite cycle: " + " -> ".join(cycle))

    groups = data.get("groups", {})
    if not isinstance(groups, dict):
        problems.append("'groups' must be a table of group = [scope ids]")
        groups = {}
    member_of: dict[str, str] = {}
    for group, members in groups.items():
        where = f"group '{group}'"
        if not _ID.match(group) or "." in group:
            problems.append(f"{where}: a group name is lowercase letters, digits, '_' or '-'")
        if group == ALL:
            problems.append(f"{where}: 'all' is reserved: it grants every scope")
        if group in known:
            problems.append(f"{where}: the name is also a scope id")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            problems.append(f"{where}: members must be a list of scope ids")
            continue
        for member in members:
            if member not in known:
                problems.append(f"{where}: member '{member}' names no scope")
            elif member in member_of and member_of[member] != group:
                problems.append(
                    f"{where}: member '{member}' is already in group '{member_of[member]}'"
                )
            else:
                member_of[member] = group

    operations = data.get("operations", [])
    if not isinstance(operations, list):
        problems.append("'operations' must be an array of tables ([[operations]])")
        operations = []
    op_ids: set[str] = set()
    for index, entry in enumerate(operations, 1):
        if not isinstance(entry, dict):
            problems.append(f"operations entry {index}: must be a table")
            continue
        oid = entry.get("id")
        where = f"operation '{oid}'" if isinstance(oid, str) else f"operations entry {index}"
        for key in entry:
            if key not in _OPERATION_FIELDS:
                problems.append(f"{where}: unknown field '{key}'")
        if not isinstance(oid, str) or not _ID.match(oid):
            problems.append(f"{where}: 'id' must be lowercase letters, digits, '_' or '-', dot-separated")
            continue
        if oid in op_ids:
            problems.append(f"{where}: duplicate id '{oid}'")
        op_ids.add(oid)
        if oid in groups or oid == ALL:
            problems.append(f"{where}: the id is a group name or 'all'")
        reqs = entry.get("requires")
        if reqs is None:
            if oid not in known:
                problems.append(
                    f"{where}: names no scope: give 'requires' or use a scope's id"
                )
        elif not isinstance(reqs, list) or not reqs or not all(isinstance(r, str) for r in reqs):
            problems.append(f"{where}: 'requires' must be a non-empty list of scope ids")
        else:
            for req in reqs:
                if req not in known:
                    problems.append(f"{where}: requires '{req}', which names no scope")
        if "billable" in entry and not isinstance(entry["billable"], bool):
            problems.append(f"{where}: 'billable' must be true or false")
        if "description" in entry and not isinstance(entry["description"], str):
            problems.append(f"{where}: 'description' must be a string")
        redacts = entry.get("redacts", {})
        if not isinstance(redacts, dict):
            problems.append(f"{where}: 'redacts' must be a table of portion = scope id")
            continue
        for portion, scope in redacts.items():
            if not isinstance(scope, str) or scope not in known:
                problems.append(f"{where}: redacts '{portion}' with '{scope}', which names no scope")
    return problems


def _find_cycle(order: list[str], edges: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in order:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _build(data: dict, text: str) -> Catalog:
    groups = {g: tuple(m) for g, m in data.get("groups", {}).items()}
    member_of = {m: g for g, ms in groups.items() for m in ms}
    scopes = {
        e["id"]: Scope(
            id=e["id"],
            description=e.get("description", ""),
            group=member_of.get(e["id"]),
            requires=tuple(e.get("requires", [])),
            billable=e.get("billable", False),
        )
        for e in data["scopes"]
    }
    provisional = Catalog(data["name"], data.get("description", ""), scopes, groups, {}, text)

    def closed(names: Iterable[str]) -> frozenset[str]:
        return provisional.close(names)[0]

    refinements = {e["id"]: e for e in data.get("operations", [])}
    operations: dict[str, Operation] = {}
    # One operation per scope, with the same id; [[operations]] entries refine them
    # or add operations of their own (in the order given, after the scopes').
    for oid in [*scopes, *[o for o in refinements if o not in scopes]]:
        entry = refinements.get(oid, {})
        scope = scopes.get(oid)
        reqs = entry.get("requires") or [oid]
        redacts_direct = dict(entry.get("redacts", {}))
        operations[oid] = Operation(
            id=oid,
            description=entry.get("description", scope.description if scope else ""),
            requires=closed(reqs),
            redacts={p: closed([s]) for p, s in redacts_direct.items()},
            redacts_direct=redacts_direct,
            billable=entry.get("billable", scope.billable if scope else False),
        )
    return Catalog(provisional.name, provisional.description, scopes, groups, operations, text)
