"""The only place that prints data, to stdout. JSON for scripts (stable field names, a
contract: README "JSON shapes"); Rich tables for people, imported lazily (it is heavy).
``check`` prints plain lines so that it stays fast in shell loops. Warnings, errors and
notes never come here: they go to stderr through keyctl/edge.py.

Text keyctl did not write (names, descriptions, catalog text, user names) is escaped
before it reaches a terminal. Every write goes through keyctl/output.py: a stdout
that cannot take it raises OutputError (a closed pipe: quietly, unless a change
depends on it), and one that cannot encode non-ASCII text gets ASCII marks and
escaped characters.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, Iterator

from .output import RichFile, ascii_only, emit_json, emit_json_stream, json_ascii, out, toml_ascii, write
from .output import flush  # noqa: F401 (render.flush: part of the renderer's API)
from .text import printable

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .models import ApplyResult, CheckReport, Created, Exported, Key, KeyDetail, LogEntry, ScopeChange
    from .plan import Plan


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _console() -> Any:
    from rich.console import Console

    # Rich itself drops colour when stdout is not a terminal or NO_COLOR is set. Piped
    # output is not folded at 80 columns: a row stays one line for grep and less.
    width = None if sys.stdout.isatty() else 200
    return Console(file=RichFile(), highlight=False, soft_wrap=False, width=width)


def _table(*columns: str) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in _NO_WRAP)
    return table


_NO_WRAP = {"ID", "STATUS", "CREATED", "EXPIRES", "AT", "KEY", "ACTION", "OPERATION", "OUTCOME"}


def _esc(text: Any, limit: int = 10_000) -> str:
    """User text for a Rich cell: terminal escapes made visible, markup escaped."""
    from rich.markup import escape

    return escape(printable("" if text is None else str(text), limit))


# --- keys ------------------------------------------------------------------------------
def key_dict(key: "Key") -> dict:
    return key.to_dict()


def key(key: "Key", as_json: bool, catalog: "Catalog") -> None:
    """One key (update, disable, enable, delete)."""
    if as_json:
        emit_json(key_dict(key))
        return
    _key_lines(key, catalog)


def _key_lines(key: "Key", catalog: "Catalog") -> None:
    label = f"{key.id} ({key.name})" if key.name else key.id
    out(f"{label}: {key.status}")
    out(f"  scopes:   {', '.join(catalog.compact(key.granted))}")
    if key.description:
        out(f"  description: {printable(key.description, 10_000)}")
    out(f"  expires:  {key.expires_at or 'never'}")


def keys(items: Iterator["Key"], as_json: bool, catalog: "Catalog") -> None:
    """``list``: a streamed JSON array, or a table (a friendly line when empty)."""
    if as_json:
        emit_json_stream(key_dict(k) for k in items)
        return
    first = next(items, None)
    if first is None:
        out("No keys yet. Create one with: keyctl create --name NAME --scope predict")
        return
    table = _table("ID", "NAME", "SCOPES", "STATUS", "CREATED", "EXPIRES")
    for k in [first, *items]:
        table.add_row(
            _esc(k.id), _esc(k.name or "-"), _esc(", ".join(catalog.compact(k.granted))), k.status,
            _esc(k.created_at), _esc(k.expires_at or "never"),
        )
    _console().print(table)


def created(result: "Created", as_json: bool, catalog: "Catalog", stored_in: str | None = None,
            show_secret: bool = True) -> None:
    """``create`` and ``rotate``: the secret, shown once."""
    if as_json:
        data = key_dict(result.key)
        data["secret"] = result.secret if show_secret else None
        data["added_prerequisites"] = [c.scope for c in result.added_prerequisites]
        data["stored_in"] = stored_in  # the keyring backend's name, or null
        emit_json(data)
        return
    label = f"{result.key.id} ({result.key.name})" if result.key.name else result.key.id
    out(f"key:     {label}")
    out(f"scopes:  {', '.join(catalog.sorted_ids(result.key.granted))}")
    if result.key.expires_at:
        out(f"expires: {result.key.expires_at}")
    if stored_in is not None:
        out(f"secret:  stored in the keyring ({stored_in}); read it with `keyctl secret {result.key.ref}`")
    if show_secret:
        out(f"secret:  {result.secret}")


def secret(key: "Key", value: str, as_json: bool) -> None:
    """``secret``: the stored secret alone on one line, for ``$(keyctl secret KEY)``."""
    if as_json:
        emit_json({"id": key.id, "name": key.name, "secret": value})
        return
    out(value)


def scope_change(result: "ScopeChange", as_json: bool, catalog: "Catalog") -> None:
    if as_json:
        data = key_dict(result.key)
        data["added_prerequisites"] = [c.scope for c in result.added_prerequisites]
        data["removed_dependents"] = [c.scope for c in result.removed_dependents]
        emit_json(data)
        return
    _key_lines(result.key, catalog)


def detail(result: "KeyDetail", as_json: bool, catalog: "Catalog") -> None:
    """``show``: every field, and the outcome of every operation."""
    k = result.key
    if as_json:
        data = key_dict(k)
        data["updated_at"] = k.updated_at
        data["operations"] = result.operations
        emit_json(data)
        return
    rows = [
        ("id", k.id), ("name", k.name or "-"), ("description", printable(k.description or "-", 10_000)),
        ("scopes", ", ".join(catalog.sorted_ids(k.granted))), ("status", k.status),
        ("created", k.created_at), ("updated", k.updated_at), ("expires", k.expires_at or "never"),
        ("secret", f"kc_...{k.hint}" + ("  (in the keyring)" if k.in_keyring else "")),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out(f"{label:<{width}}  {value}")
    out()
    table = _table("OPERATION", "OUTCOME", "CONSUMES AN OPERATION")
    for op, outcome in result.operations.items():
        table.add_row(op, _mark(outcome), "yes" if catalog.operations[op].billable else "no")
    _console().print(table)


# --- check -----------------------------------------------------------------------------
_SYMBOL = {"allowed": "✔", "redacted": "◐", "rejected": "✘"}
_ANSI = {"allowed": "\033[32m", "redacted": "\033[33m", "rejected": "\033[31m"}


def _mark(outcome: str) -> str:
    """``✔ allowed``, or ``[allowed]`` where stdout takes only ASCII."""
    return f"[{outcome}]" if ascii_only() else f"{_SYMBOL[outcome]} {outcome}"


def check(report: "CheckReport", as_json: bool) -> None:
    if as_json:
        emit_json({
            "key": None if report.key is None else {"id": report.key.id, "name": report.key.name},
            "outcome": report.outcome.value,
            "results": [v.to_dict() for v in report.results],
        })
        return
    color = _color()
    width = max(len(v.operation) for v in report.results)
    for v in report.results:
        outcome = v.outcome.value
        mark = f"{_mark(outcome):<10}"
        if color:
            mark = f"{_ANSI[outcome]}{mark}\033[0m"
        extra = []
        if v.missing_scopes:
            extra.append(f"missing: {', '.join(v.missing_scopes)}")
        if v.redacted:
            extra.append(f"hidden: {printable(', '.join(v.redacted))}")
        extra.append("consumes an Operation" if v.billable else "free")
        text = f"{v.operation:<{width}}  {v.reason}  [{'; '.join(extra)}]"
        write(f"{mark}  {printable(text, len(text))}\n")


# --- audit trail -------------------------------------------------------------------------
def log(entries: Iterator["LogEntry"], as_json: bool) -> None:
    if as_json:
        emit_json_stream(e.to_dict() for e in entries)
        return
    first = next(entries, None)
    if first is None:
        out("The audit trail is empty.")
        return
    table = _table("AT", "ACTOR", "ACTION", "KEY", "DETAILS")
    for e in [first, *entries]:
        summary = "; ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(e.details.items()) if v not in (None, [], {}))
        table.add_row(_esc(e.at), _esc(e.actor), _esc(e.action), _esc(e.key_id or "-"), _esc(summary or "-"))
    _console().print(table)


# --- the catalog -------------------------------------------------------------------------
def catalog_dict(catalog: "Catalog") -> dict:
    return {
        "catalog": catalog.name,
        "scopes": [
            {"id": s.id, "group": s.group, "description": s.description,
             "requires": list(s.requires), "billable": s.billable}
            for s in catalog.scopes.values()
        ],
        "groups": {g: list(m) for g, m in catalog.groups.items()},
        "operations": [
            {"id": o.id, "requires": sorted(o.requires), "redacts": dict(o.redacts_direct),
             "billable": o.billable}
            for o in catalog.operations.values()
        ],
    }


def scopes(catalog: "Catalog", as_json: bool) -> None:
    """The catalog as a tree: group -> scopes, with prerequisites and billing."""
    if as_json:
        emit_json(catalog_dict(catalog))
        return
    from rich.tree import Tree

    tree = Tree(f"[bold]{_esc(catalog.name)}[/bold]: {_esc(catalog.description)}")
    branches: dict[str | None, Any] = {}
    for s in catalog.scopes.values():
        if s.group is None:
            parent = tree
        else:
            if s.group not in branches:
                branches[s.group] = tree.add(f"[bold]{_esc(s.group)}[/bold] (all of: {_esc(', '.join(catalog.groups[s.group]))})")
            parent = branches[s.group]
        notes = []
        if s.requires:
            notes.append("requires " + ", ".join(s.requires))
        notes.append("consumes an Operation" if s.billable else "free")
        redactions = catalog.operations.get(s.id)
        if redactions is not None and redactions.redacts_direct:
            notes.append("; ".join(f"{p} redacted without {sc}" for p, sc in redactions.redacts_direct.items()))
        parent.add(f"[bold]{_esc(s.id)}[/bold]  {_esc(s.description)}  [dim]({_esc('; '.join(notes))})[/dim]")
    tree.add("[bold]all[/bold]  every scope, including scopes added to the catalog later")
    _console().print(tree)


# --- manifests: apply and export ------------------------------------------------------------
_PLAN_MARK = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}
_PLAN_ANSI = {"create": "\033[32m", "update": "\033[33m", "delete": "\033[31m", "unchanged": "\033[2m"}


def _manifest_value(value: Any) -> str:
    """A manifest value in a plan line: never, true/false, or a quoted string."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _add(lines: list[str], text: str) -> None:
    lines.append(printable(text, len(text)))


def plan_lines(p: "Plan", catalog: "Catalog", color: bool = False) -> list[str]:
    """The plan of ``apply``: ``+`` create, ``~`` update, ``-`` delete, ``=`` unchanged,
    then ``N to create, N to update, N to delete``. (On stdout; under --json the command
    shows it on stderr, so that stdout stays pure JSON.)"""
    lines: list[str] = []
    for a in p.actions:
        head = f"{_PLAN_MARK[a.kind]} {printable(a.name)}"
        if a.kind == "delete":
            head += f" ({printable(a.key_id)})"
        lines.append(f"{_PLAN_ANSI[a.kind]}{head}\033[0m" if color else head)
        if a.kind == "create" and a.spec is not None:
            _add(lines, f"    scopes: {', '.join(catalog.compact(a.scopes))}")
            if a.spec.description:
                _add(lines, f"    description: {_manifest_value(a.spec.description)}")
            if a.spec.expires:
                _add(lines, f"    expires: {a.spec.expires}")
            if not a.spec.enabled:
                _add(lines, "    enabled: false")
        elif a.kind == "update":
            if a.added_scopes or a.removed_scopes:
                moves = [f"+{s}" for s in a.added_scopes] + [f"-{s}" for s in a.removed_scopes]
                _add(lines, f"    scopes: {' '.join(moves)}")
            for name, old, new in a.changes:
                if name == "expires":
                    _add(lines, f"    expires: {old or 'never'} -> {new or 'never'}")
                else:
                    _add(lines, f"    {name}: {_manifest_value(old)} -> {_manifest_value(new)}")
    counts = p.counts()
    summary = (f"{counts['create']} to create, {counts['update']} to update, "
               f"{counts['delete']} to delete, {counts['unchanged']} unchanged")
    if p.not_in_manifest:
        summary += (f"; {p.not_in_manifest} named key(s) in the store are not in {printable(p.source, 200)} "
                    "and stay (--prune deletes them)")
    lines.append(summary)
    return lines


def plan(p: "Plan", catalog: "Catalog") -> None:
    for line in plan_lines(p, catalog, _color()):
        write(line + "\n")  # its parts escaped by plan_lines; colours are keyctl's own


def _emit_json_lists(data: dict) -> None:
    """A JSON object whose lists are written one item per line. json.dumps with indent
    runs the pure-Python encoder: for 10,000 keys, about a second of `apply`."""
    ascii_ = json_ascii()
    fields = list(data.items())
    write("{\n")
    for n, (name, value) in enumerate(fields):
        write(f"  {json.dumps(name)}: ")
        if isinstance(value, list) and value:
            write("[\n" + ",\n".join("    " + json.dumps(v, ensure_ascii=ascii_) for v in value) + "\n  ]")
        else:
            write(json.dumps(value, ensure_ascii=ascii_))
        write(",\n" if n < len(fields) - 1 else "\n")
    write("}\n")


def applied(result: "ApplyResult", as_json: bool, dry_run: bool = False) -> None:
    """After ``apply``: JSON (created with secrets, updated with changes, deleted,
    unchanged) for scripts, or for a person a line and the new secrets, once."""
    p = result.plan
    ids = {c.key.name: c for c in result.created}
    if as_json:
        def made(a: Any) -> dict:
            c = ids.get(a.name)
            entry = {"name": a.name, "id": c.key.id if c else None,
                     "secret": c.secret if c and result.keyring is None else None}
            if result.keyring is not None:
                entry["stored_in"] = result.keyring
            return entry

        _emit_json_lists({
            "dry_run": dry_run,
            "created": [made(a) for a in p.of("create")],
            "updated": [{"name": a.name, "id": a.key_id, "changes": a.changes_dict()} for a in p.of("update")],
            "deleted": [{"name": a.name, "id": a.key_id} for a in p.of("delete")],
            "unchanged": [{"name": a.name, "id": a.key_id} for a in p.of("unchanged")],
        })
        return
    if dry_run:
        out("dry run: nothing was changed")
        return
    counts = p.counts()
    if not p.has_changes:
        out(f"nothing to do: the store already matches {printable(p.source, 200)}")
        return
    out(f"applied {printable(p.source, 200)}: {counts['create']} created, {counts['update']} updated, {counts['delete']} deleted")
    if not result.created:
        return
    if result.keyring is not None:
        out(f"the new secrets are in the keyring ({result.keyring}); read one with `keyctl secret NAME`")
        return
    # Plain aligned columns, not a Rich table: a table may fold a long cell across
    # lines, and a secret must stay whole to be copied.
    rows = [("NAME", "ID", "SECRET")] + [(c.key.name or "-", c.key.id, c.secret) for c in result.created]
    wide = [max(len(r[i]) for r in rows) for i in range(2)]
    out()
    for name, kid, secret in rows:
        out(f"{name:<{wide[0]}}  {kid:<{wide[1]}}  {secret}")


def exported(result: "Exported", as_json: bool) -> None:
    """``export``: the manifest (TOML), or with --json ``{"keys": {NAME: {"scopes",
    "description", "expires", "enabled"}}}`` (every field, defaults included)."""
    if as_json:
        emit_json({"keys": result.keys})
        return
    write(toml_ascii(result.text) if json_ascii() else result.text)


# --- catalogs ------------------------------------------------------------------------------
def catalog_list(catalogs: "list[Catalog]", default: str, as_json: bool) -> None:
    rows = [{"name": c.name, "description": c.description, "scopes": len(c.scopes),
             "default": c.name == default} for c in catalogs]
    if as_json:
        emit_json(rows)
        return
    table = _table("NAME", "SCOPES", "DESCRIPTION")
    for r in rows:
        table.add_row(_esc(r["name"]) + (" (default)" if r["default"] else ""), str(r["scopes"]), _esc(r["description"]))
    _console().print(table)


def catalog_validation(file: str, catalog: "Catalog | None", problems: "tuple[str, ...]", as_json: bool) -> None:
    """``catalog validate``: JSON, or for a valid catalog one line (the command puts the
    problems of an invalid one on stderr)."""
    if as_json:
        emit_json({
            "file": file, "valid": catalog is not None, "name": catalog.name if catalog else None,
            "problems": list(problems),
        })
        return
    if catalog is None:
        return
    out(f"{printable(file)}: valid catalog '{printable(catalog.name)}': {len(catalog.scopes)} scopes, "
        f"{len(catalog.groups)} groups, {len(catalog.operations)} operations")


def catalog_upgrade(result: Any, as_json: bool) -> None:
    if as_json:
        emit_json({
            "from": result.old, "to": result.new, "applied": result.applied,
            "unknown_scopes": [{"id": k.id, "name": k.name, "scopes": list(s)} for k, s in result.unknown],
            "added_prerequisites": [{"id": k.id, "name": k.name, "scopes": [c.scope for c in a]}
                                    for k, a in result.additions],
        })
        return
    verb = "replaced" if result.applied else "would replace"
    out(f"catalog: {verb} '{result.old}' with '{result.new}'")
    for key, scopes in result.unknown:
        out(f"  ! {key.ref}: holds {', '.join(scopes)}, unknown to '{result.new}' (blocks the upgrade)")
    for key, added in result.additions:
        gained = ", ".join(f"{c.scope} (for {c.because})" for c in added)
        out(f"  + {key.ref}: {'gained' if result.applied else 'would gain'} {gained}")
    if not result.unknown and not result.additions:
        out("  every key already fits the new catalog")
