"""Loading a catalog: the built-ins (the package's own data), a user's file, or the
text a store keeps; and validating it. :func:`parse_catalog` is the one path from
text to a :class:`Catalog`: every problem is reported, each naming its entry.

The only I/O is reading a catalog's text in :func:`builtin_text` and
:func:`load_catalog`; validation and building are pure.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..errors import CatalogError
from ..text import printable
from ..tokens import unsafe_char
from .build import build_catalog
from .model import ALL, AUTH_KINDS, Catalog, normalize

BUILTIN_CATALOGS = ("clarifai", "clarifai-live")
DEFAULT_CATALOG = "clarifai"

# Compiled on first use (re keeps them): only validating a catalog needs them.
_ID = r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*"
_OPERATION_ID = r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*"
_ALIAS = r"[A-Za-z][A-Za-z0-9_.:-]*"
_TOP_FIELDS = {"name", "description", "scopes_are_calls", "groups", "scopes", "operations"}
_SCOPE_FIELDS = {"id", "description", "requires", "billable", "deprecated", "hidden", "aliases"}
_OPERATION_FIELDS = {"id", "description", "requires", "billable", "redacts", "auth", "resource", "deprecated"}
_ID_RULE = "'id' must be lowercase letters, digits, '_' or '-', dot-separated"
_OPERATION_ID_RULE = "'id' must be letters, digits, '_' or '-', dot-separated, starting with a letter"


# --- loading -------------------------------------------------------------------------
def builtin(name: str = DEFAULT_CATALOG) -> Catalog:
    """A built-in catalog by name, parsed once per process."""
    cached = _BUILTIN_CACHE.get(name)
    if cached is None:
        if name not in BUILTIN_CATALOGS:
            raise CatalogError(
                f"unknown catalog '{printable(name)}'; built-in catalogs: {', '.join(BUILTIN_CATALOGS)}"
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
    if not isinstance(ref, str):
        raise TypeError(f"a catalog is a Catalog, a built-in name or a file path, not {type(ref).__name__}")
    if ref in BUILTIN_CATALOGS:
        return builtin(ref)
    import os

    if "\0" not in ref and os.path.isfile(ref):
        try:
            with open(ref, encoding="utf-8-sig") as handle:  # a byte-order mark is not the catalog's
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(f"cannot read the catalog file {printable(ref)}: {printable(exc)}",
                               (f"cannot read it: {printable(exc)}",)) from None
        return parse_catalog(text, source=ref)
    if "\0" not in ref and os.path.exists(ref):
        raise CatalogError(f"the catalog {printable(ref)} is not a file", ("not a file",))
    builtins = f"not a built-in ({', '.join(BUILTIN_CATALOGS)}) and no such file"
    raise CatalogError(f"unknown catalog '{printable(ref)}': {builtins}", (f"unknown catalog: {builtins}",))


def parse_catalog(text: str, source: str = "catalog") -> Catalog:
    """Parse and validate catalog TOML text. Raises CatalogError listing every problem."""
    import tomllib

    from ..toml_guard import too_many_parts

    where = printable(source)
    problem = too_many_parts(text)
    if problem:
        raise CatalogError(f"{where}: {problem}", (problem,))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problem = f"not valid TOML: {printable(exc, 200)}"
        raise CatalogError(f"{where}: {problem}", (problem,)) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        problem = "nested too deeply to be a catalog (arrays or tables inside each other)"
        raise CatalogError(f"{where}: {problem}", (problem,)) from None
    problems = validate(data)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise CatalogError(f"{where}: {problems[0]}{more}", tuple(problems))
    return _build(data, text)


# --- validation: small checks, each appending the problems it finds -------------------
def validate(data: dict) -> list[str]:
    """Every problem in a parsed catalog document, each naming the entry it is in."""
    problems: list[str] = []
    _check_top(data, problems)
    requires = _check_scopes(data.get("scopes", []), problems)
    known = set(requires)
    order = _check_prerequisites(requires, problems)
    if order is not None:
        _check_weight(requires, order, data.get("operations", []), problems)
    groups = _check_groups(data.get("groups", {}), known, problems)
    operations = _check_operations(data.get("operations", []), known, groups, problems)
    _check_names(data.get("scopes", []), known, groups, operations, problems)
    return problems


def _q(value: Any) -> str:
    """A value from the catalog as a problem quotes it."""
    return printable(value, 60)


def _check_top(data: dict, problems: list[str]) -> None:
    for key in data:
        if key not in _TOP_FIELDS:
            problems.append(f"unknown field '{_q(key)}' at the top level")
    if not isinstance(data.get("scopes_are_calls", True), bool):
        problems.append("'scopes_are_calls' must be true or false")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("the catalog needs a 'name' (a non-empty string)")
    elif not name.isprintable():
        problems.append(f"the catalog's name '{_q(name)}' holds control characters")
    if "description" in data and not isinstance(data["description"], str):
        problems.append("'description' must be a string")
    else:
        _check_text("the catalog's description", data.get("description", ""), problems)


def _entries(value: Any, table: str, problems: list[str]) -> Iterable[tuple[str, dict]]:
    """(where, entry) for each table of an array of tables; non-tables are problems."""
    for index, entry in enumerate(value, 1):
        if not isinstance(entry, dict):
            problems.append(f"{table} entry {index}: must be a table")
            continue
        eid = entry.get("id")
        kind = table[:-1]
        yield (f"{kind} '{_q(eid)}'" if isinstance(eid, str) else f"{table} entry {index}"), entry


def _check_fields(where: str, entry: dict, allowed: set[str], problems: list[str]) -> None:
    for key in entry:
        if key not in allowed:
            problems.append(f"{where}: unknown field '{_q(key)}'")
    if "description" in entry and not isinstance(entry["description"], str):
        problems.append(f"{where}: 'description' must be a string")
    else:
        _check_text(f"{where}: 'description'", entry.get("description", ""), problems)
    for flag in ("billable", "deprecated", "hidden"):
        if flag in entry and not isinstance(entry[flag], bool):
            problems.append(f"{where}: '{flag}' must be true or false")


def _check_text(what: str, text: str, problems: list[str]) -> None:
    """Catalog text reaches terminals (``keyctl scopes``, completion menus): no control
    characters or bidirectional overrides in it."""
    found = unsafe_char(text)
    if found:
        problems.append(f"{what} may not hold control characters (found U+{ord(found):04X})")


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(_ID, value) is not None


def _check_scopes(scopes: Any, problems: list[str]) -> dict[str, list[str]]:
    """Scope entries; returns each valid scope id's direct prerequisites, in order."""
    if not isinstance(scopes, list) or not scopes:
        problems.append("the catalog needs at least one [[scopes]] entry")
        scopes = scopes if isinstance(scopes, list) else []
    requires: dict[str, list[str]] = {}
    for where, entry in _entries(scopes, "scopes", problems):
        _check_fields(where, entry, _SCOPE_FIELDS, problems)
        sid = entry.get("id")
        if not _is_id(sid):
            problems.append(f"{where}: {_ID_RULE}")
            continue
        if sid == ALL:
            problems.append(f"{where}: 'all' is reserved: it grants every scope")
        if sid in requires:
            problems.append(f"{where}: duplicate id '{sid}'")
            continue
        reqs = entry.get("requires", [])
        if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
            problems.append(f"{where}: 'requires' must be a list of scope ids")
            reqs = []
        requires[sid] = reqs
    return requires


def _check_prerequisites(requires: dict[str, list[str]], problems: list[str]) -> list[str] | None:
    """Problems of the prerequisites (unknown, itself, a cycle); when there are none,
    the scopes each after its prerequisites."""
    before = len(problems)
    known = set(requires)
    edges: dict[str, list[str]] = {}
    for sid, reqs in requires.items():
        edges[sid] = []
        for req in reqs:
            if req not in known:
                problems.append(f"scope '{sid}': requires '{_q(req)}', which names no scope")
            elif req == sid:
                problems.append(f"scope '{sid}': requires itself")
            else:
                edges[sid].append(req)
    order: list[str] = []
    cycle = find_cycle(list(requires), edges, order)
    if cycle:
        shown = cycle if len(cycle) <= 12 else [*cycle[:5], f"... ({len(cycle) - 10} more)", *cycle[-5:]]
        problems.append("prerequisite cycle: " + " -> ".join(shown))
    return order if len(problems) == before else None


# What every command may have to build: each scope's and each operation's closure. A chain
# of prerequisites N long makes N closures of up to N scopes (show or check of every
# operation builds them all): past this many in all, a command takes seconds and more.
MAX_CLOSURE_WEIGHT = 1_000_000


def _check_weight(requires: dict[str, list[str]], order: list[str], operations: Any, problems: list[str]) -> None:
    """A problem when the closures hold more than MAX_CLOSURE_WEIGHT scopes in all
    (counted exactly, each closure a bit set, in one pass in prerequisite order)."""
    index = {sid: i for i, sid in enumerate(requires)}
    closed: dict[str, int] = {}
    for sid in order:  # each after its prerequisites
        bits = 1 << index[sid]
        for req in requires[sid]:
            bits |= closed.get(req, 0)
        closed[sid] = bits
    weight = sum(bits.bit_count() for bits in closed.values())
    for op in operations if isinstance(operations, list) else ():
        reqs = op.get("requires") if isinstance(op, dict) else None
        if isinstance(reqs, list) and not (isinstance(op.get("id"), str) and op["id"] in closed):
            bits = 0
            for req in reqs:
                bits |= closed.get(req, 0) if isinstance(req, str) else 0
            weight += bits.bit_count()
    if weight > MAX_CLOSURE_WEIGHT:
        problems.append(f"prerequisites too deep: the closures of the scopes and operations hold {weight:,} scopes in "
                        f"all, over {MAX_CLOSURE_WEIGHT:,} (a chain of about 1,400 scopes each requiring the last); "
                        "every command would take seconds: shorten the chains")


def find_cycle(order: list[str], edges: dict[str, list[str]], finished: list[str] | None = None) -> list[str] | None:
    """A cycle in the graph (as a path that ends where it starts), or None. Iterative,
    so that a long valid chain of prerequisites is no deeper than a short one.
    ``finished`` receives each node once all it leads to is done (each scope after its
    prerequisites)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in order:
        if start in state:
            continue
        path: list[str] = [start]
        stack: list[Any] = [iter(edges.get(start, ()))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                done = path.pop()
                state[done] = 2
                if finished is not None:
                    finished.append(done)
                stack.pop()
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges.get(nxt, ())))
    return None


def _check_groups(groups: Any, known: set[str], problems: list[str]) -> dict:
    if not isinstance(groups, dict):
        problems.append("'groups' must be a table of group = [scope ids]")
        return {}
    member_of: dict[str, str] = {}
    for group, members in groups.items():
        where = f"group '{_q(group)}'"
        if not _is_id(group) or "." in group:
            problems.append(f"{where}: a group name is lowercase letters, digits, '_' or '-'")
        if group == ALL:
            problems.append(f"{where}: 'all' is reserved: it grants every scope")
        if group in known:
            problems.append(f"{where}: the name is also a scope id")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            problems.append(f"{where}: members must be a list of scope ids")
            continue
        if not members:
            problems.append(f"{where}: a group needs at least one scope (an empty one would grant nothing)")
        for member in members:
            if member not in known:
                problems.append(f"{where}: member '{_q(member)}' names no scope")
            elif member in member_of and member_of[member] != group:
                problems.append(f"{where}: member '{member}' is already in group '{member_of[member]}'")
            else:
                member_of[member] = group
    return groups


def _check_operations(operations: Any, known: set[str], groups: dict, problems: list[str]) -> dict[str, str]:
    """Operation entries; returns each valid id, folded (ids differ in more than case)."""
    if not isinstance(operations, list):
        problems.append("'operations' must be an array of tables ([[operations]])")
        return {}
    seen: dict[str, str] = {}
    for where, entry in _entries(operations, "operations", problems):
        _check_fields(where, entry, _OPERATION_FIELDS, problems)
        oid = entry.get("id")
        if not isinstance(oid, str) or re.fullmatch(_OPERATION_ID, oid) is None:
            problems.append(f"{where}: {_OPERATION_ID_RULE}")
            continue
        folded = oid.lower()
        if folded in seen:
            problems.append(f"{where}: duplicate id '{oid}' (ids are compared without case)")
        seen[folded] = oid
        if folded in known and oid != folded:
            problems.append(f"{where}: spell it as the scope '{folded}', whose operation it refines")
        if folded in groups or folded == ALL:
            problems.append(f"{where}: the id is a group name or 'all'")
        _check_operation_fields(where, entry, oid, known, problems)
    return seen


def _check_operation_fields(where: str, entry: dict, oid: str, known: set[str], problems: list[str]) -> None:
    reqs = entry.get("requires")
    if reqs is None:
        if oid not in known:
            problems.append(f"{where}: names no scope: give 'requires' or use a scope's id")
    elif not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
        problems.append(f"{where}: 'requires' must be a list of scope ids")
    else:
        for req in reqs:
            if req not in known:
                problems.append(f"{where}: requires '{_q(req)}', which names no scope")
    auth = entry.get("auth", "key")
    if auth not in AUTH_KINDS:
        problems.append(f"{where}: 'auth' must be one of {', '.join(AUTH_KINDS)}, not '{_q(auth)}'")
    resource = entry.get("resource")
    if resource is not None and (not _is_id(resource) or "." in resource or resource == ALL):
        problems.append(f"{where}: 'resource' must be lowercase letters, digits, '_' or '-' (not 'all')")
    redacts = entry.get("redacts", {})
    if not isinstance(redacts, dict):
        problems.append(f"{where}: 'redacts' must be a table of portion = scope id")
        return
    for portion, scope in redacts.items():
        if not portion or len(portion) > 64 or unsafe_char(portion) or not portion.isprintable():
            problems.append(f"{where}: the portion name '{_q(portion)}' must be 1 to 64 printable characters")
        if not isinstance(scope, str) or scope not in known:
            problems.append(f"{where}: redacts '{_q(portion)}' with '{_q(scope)}', which names no scope")


def _check_names(scopes: Any, known: set[str], groups: dict, operations: dict[str, str], problems: list[str]) -> None:
    """Aliases: each names one scope, and no alias is another name already (a scope,
    a group, an operation, ``all`` or another alias), whatever the case."""
    taken = known | set(groups) | set(operations) | {ALL}
    owner: dict[str, str] = {}
    for where, entry in _entries(scopes if isinstance(scopes, list) else [], "scopes", []):
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            problems.append(f"{where}: 'aliases' must be a list of names")
            continue
        for alias in aliases:
            folded = normalize(alias)
            if re.fullmatch(_ALIAS, alias) is None:
                problems.append(f"{where}: alias '{_q(alias)}' must be letters, digits, '_', '-', '.' or ':'")
            elif folded in owner:
                problems.append(f"{where}: alias '{alias}' is already an alias of '{owner[folded]}'")
            elif folded in taken:
                problems.append(f"{where}: alias '{alias}' is already the name of a scope, group or operation")
            else:
                owner[folded] = entry.get("id", "?")


# --- building ---------------------------------------------------------------------------
def _build(data: dict, text: str) -> Catalog:
    """The rows of a validated document (keyctl/catalog/build.py), then the catalog."""
    groups = {g: tuple(m) for g, m in data.get("groups", {}).items()}
    member_of = {m: g for g, ms in groups.items() for m in ms}
    scopes: dict[str, list] = {}
    aliases: dict[str, str] = {}
    for e in data["scopes"]:
        sid = e["id"]
        names = list(e.get("aliases", []))
        scopes[sid] = [e.get("description", ""), member_of.get(sid), list(e.get("requires", [])),
                       e.get("billable"), e.get("deprecated", False), e.get("hidden", False), names]
        aliases.update((normalize(a), sid) for a in names if normalize(a) != sid)
    operations = {
        e["id"]: [e.get("description"), e.get("requires"), dict(e.get("redacts", {})), e.get("billable"),
                  e.get("auth", "key"), e.get("resource"), e.get("deprecated", False)]
        for e in data.get("operations", [])
    }
    return build_catalog(data["name"], data.get("description", ""), groups, scopes, operations, aliases, text,
                         data.get("scopes_are_calls", True))
