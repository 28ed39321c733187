"""The only place that prints data, to stdout. JSON for scripts (stable field names, a
contract: README "JSON shapes"); Rich tables for people, imported lazily (it is heavy).
``check`` prints plain lines so that it stays fast in shell loops. Warnings, errors and
notes never come here: they go to stderr through keyctl/edge.py.

Text keyctl did not write (names, descriptions, catalog text, user names) is escaped
before it reaches a terminal. A stdout that cannot encode non-ASCII text (LC_ALL=C,
PYTHONIOENCODING=ascii) gets ASCII marks and JSON with escaped characters. A write
that fails raises OutputError (a closed pipe: quietly, unless a change depends on it).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, Iterator

from .output import RichFile, ascii_only, emit_json, emit_json_stream, out, write
from .output import flush  # noqa: F401 (render.flush: part of the renderer's API)
from .text import printable

# keyctl/table.py and keyctl/catalog_view.py are imported by what prints a table or a
# catalog: `list --json` needs neither.
if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .table import Column
    from .models import CheckReport, Created, Key, KeyDetail, LogEntry, ScopeChange


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _console() -> Any:
    from rich.console import Console

    # Rich itself drops colour when stdout is not a terminal or NO_COLOR is set. Piped
    # output is not folded at 80 columns: a row stays one line for grep and less.
    width = None if sys.stdout.isatty() else 200
    return Console(file=RichFile(), highlight=False, soft_wrap=False, width=width)


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


def _key_columns() -> "tuple[Column, ...]":
    from .table import Column

    return (Column("NAME", floor=12), Column("ID", drop=2), Column("STATUS"),
            Column("SCOPES", wrap=True, floor=12), Column("CREATED", drop=3), Column("EXPIRES", drop=1))


NO_KEYS = "No keys yet. Create one with: keyctl create --name NAME --scope predict"


def keys(items: Iterator["Key"], as_json: bool, catalog: "Catalog | None", headers: bool = True,
         empty: str | None = NO_KEYS) -> None:
    """``list``: a streamed JSON array; at a terminal a table that fits (``empty``
    when there is no key); piped, tab-separated lines (these two show groups by name,
    so they need the ``catalog``)."""
    if as_json:
        emit_json_stream(key_dict(k) for k in items)
        return
    assert catalog is not None
    terminal = sys.stdout.isatty()
    sep = ", " if terminal else ","

    def row(k: "Key") -> list[str]:
        # Every cell escaped: a store written by hand may hold anything in any column.
        name = printable(k.name, 64) if k.name else (printable(k.id) if terminal else "")
        scopes = printable(sep.join(catalog.compact(k.granted)), 100_000)
        return [name, printable(k.id), k.status, scopes, printable(k.created_at), printable(k.expires_at or "never")]

    _records(_key_columns(), (row(k) for k in items), headers, empty)


def _records(columns: "tuple[Column, ...]", rows: Iterator[list[str]], headers: bool, empty: str | None) -> None:
    """Rows as a table that fits the terminal, or as tab-separated lines (streamed)
    when stdout is not a terminal."""
    from itertools import chain

    from .table import layout, tsv

    first = next(rows, None)  # read before anything is printed: a store that fails prints nothing
    if not sys.stdout.isatty():  # cells escaped by the table: tabs are the separators
        batch: list[str] = []
        for line in tsv(columns, chain([first], rows) if first is not None else (), headers):
            batch.append(line + "\n")
            if len(batch) >= 500:
                write("".join(batch))
                batch = []
        write("".join(batch))
        return
    if first is None:
        if empty is not None:
            out(empty)
        return
    table = [first, *rows]
    import shutil

    width = shutil.get_terminal_size().columns
    write("".join(line + "\n" for line in layout(columns, table, width, headers, "..." if ascii_only() else "…")))


def created_dict(result: "Created", show_secret: bool) -> dict:
    """A new key as ``create``, ``rotate`` and ``apply`` print it: the key, its secret
    (or null), the prerequisites added and the keyring that keeps the secret (or null)."""
    return key_dict(result.key) | {
        "secret": result.secret if show_secret else None,
        "added_prerequisites": [c.scope for c in result.added_prerequisites],
        "stored_in": result.stored_in,
    }


def created(result: "Created", as_json: bool, catalog: "Catalog", stored_in: str | None = None,
            show_secret: bool = True) -> None:
    """``create`` and ``rotate``: the secret, shown once."""
    if as_json:
        emit_json(created_dict(result._replace(stored_in=stored_in), show_secret))
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
    """``show``: every field, and the outcome of every operation (grouped by resource
    when there are many)."""
    k = result.key
    if as_json:
        data = key_dict(k)
        data["updated_at"] = k.updated_at
        data["operations"] = result.operations
        emit_json(data)
        return
    absent = "-" if sys.stdout.isatty() else ""  # piped, as every table: an absent value is empty
    rows = [
        ("id", k.id), ("name", k.name or absent), ("description", printable(k.description or absent, 10_000)),
        ("scopes", ", ".join(catalog.sorted_ids(k.granted))), ("status", k.status),
        ("created", k.created_at), ("updated", k.updated_at), ("expires", k.expires_at or "never"),
        ("secret", f"kc_...{k.hint}" + ("  (in the keyring)" if k.in_keyring else "")),
    ]
    _fields(rows)
    out()
    from .grouping import GROUP_OVER, detail_rows
    from .table import Column

    if len(result.operations) > GROUP_OVER:
        out(f"{len(result.operations)} operations, by resource (`keyctl check {k.ref}` says why):")
        columns = (Column("RESOURCE", floor=12), Column("ALLOWED"), Column("REDACTED", drop=3),
                   Column("REJECTED", drop=2), Column("ALLOWED OPERATIONS", wrap=True, floor=16, drop=1))
        table = [[printable(cell, 100_000) if cell != "-" else absent for cell in row]
                 for row in detail_rows(result.operations, catalog)]
    else:
        columns = (Column("OPERATION", floor=12), Column("OUTCOME"), Column("CONSUMES AN OPERATION", drop=1))
        table = [[printable(op, 1000), _mark(outcome), _YES_NO.get(catalog.operations[op].billable, absent)]
                 for op, outcome in result.operations.items()]
    _records(columns, iter(table), True, None)


def _terminal_columns() -> int:
    """The terminal's width when stdout is one, else 0 (a pipe gets lines whole)."""
    if not sys.stdout.isatty():
        return 0
    import shutil

    return shutil.get_terminal_size().columns


def _fields(rows: "list[tuple[str, str]]") -> None:
    """``label  value`` lines; at a terminal a long value wraps between words under
    itself (a description, many scopes), never inside one."""
    if not sys.stdout.isatty():  # piped: one field per line, its label and value tab-separated
        write("".join(f"{label}\t{printable(value, 10 * len(value))}\n" for label, value in rows))
        return
    width = max(len(label) for label, _ in rows)
    room = _terminal_columns() - width - 2
    for label, value in rows:
        lines = [value]
        if room >= 20 and len(value) > room:
            from .table import wrap

            lines = wrap(value, room)
        out(f"{label:<{width}}  {lines[0]}")  # out escapes what keyctl did not write
        for line in lines[1:]:
            out(f"{'':<{width}}  {line}")


_YES_NO = {True: "yes", False: "no"}  # None: the catalog does not say


# --- check -----------------------------------------------------------------------------
_SYMBOL = {"allowed": "✔", "redacted": "◐", "rejected": "✘"}
_ANSI = {"allowed": "\033[32m", "redacted": "\033[33m", "rejected": "\033[31m"}


def _mark(outcome: str) -> str:
    """``✔ allowed``, or ``[allowed]`` where stdout takes only ASCII."""
    return f"[{outcome}]" if ascii_only() else f"{_SYMBOL[outcome]} {outcome}"


def _mark_cell(outcome: str, color: bool) -> str:
    """The outcome at the head of a line of ``check``: padded, coloured on a terminal."""
    mark = f"{_mark(outcome):<10}"
    return f"{_ANSI[outcome]}{mark}\033[0m" if color else mark


def check(report: "CheckReport", as_json: bool, catalog: "Catalog | None" = None) -> None:
    """``check``: a line per operation; over many operations of ``catalog``, grouped by
    resource (keyctl/grouping.py). JSON is always complete, one result per operation."""
    if as_json:
        emit_json({
            "key": None if report.key is None else {"id": report.key.id, "name": report.key.name},
            "outcome": report.outcome.value,
            "results": [v.to_dict() for v in report.results],
        })
        return
    color = _color()
    from .grouping import GROUP_OVER, check_lines

    if catalog is not None and len(report.results) > GROUP_OVER:
        ref = report.key.ref if report.key is not None else "KEY"
        write("".join(line + "\n" for line in check_lines(report.results, catalog, ref,
                                                          lambda o: _mark_cell(o, color), _terminal_columns())))
        return
    from .catalog_view import BILLING

    width = max(len(v.operation) for v in report.results)
    room = _terminal_columns()
    for v in report.results:
        mark = _mark_cell(v.outcome.value, color)
        extra = []
        if v.missing_scopes:
            extra.append(f"missing: {', '.join(v.missing_scopes)}")
        if v.redacted:
            extra.append(f"hidden: {printable(', '.join(v.redacted))}")
        if v.billable is not None:
            extra.append(BILLING[v.billable])
        tail = f"  [{'; '.join(extra)}]" if extra else ""
        text = f"{v.operation:<{width}}  {v.reason}{tail}"
        text = printable(text, 10 * len(text))
        if room >= 40 and 12 + len(text) > room:  # at a terminal (of 40 columns or more): wrapped between words,
            from .table import wrap  # under the reason (under the operation when that column would be too narrow)

            hang = width + 2 if room - 12 - width - 2 >= 20 else 2
            text = ("\n" + " " * 12).join(wrap(text, room - 12, hang))
        write(f"{mark}  {text}\n")  # the mark's colours are keyctl's own


# --- audit trail -------------------------------------------------------------------------
def _log_columns() -> "tuple[Column, ...]":
    from .table import Column

    return (Column("RECORDED", drop=1), Column("ACTOR", drop=3), Column("ACTION"), Column("NAME", floor=12),
            Column("ID", drop=4), Column("DETAILS", drop=2, wrap=True, floor=16, max_lines=3))


def log(entries: Iterator["LogEntry"], as_json: bool, headers: bool = True) -> None:
    """``log``: a streamed JSON array; at a terminal a table that fits, each entry
    naming its key by the name it had then; piped, tab-separated lines."""
    if as_json:
        emit_json_stream(e.to_dict() for e in entries)
        return
    terminal = sys.stdout.isatty()

    def row(e: "LogEntry") -> list[str]:
        summary = "; ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(e.details.items())
                            if v not in (None, [], {}))
        name = e.key_name or (e.key_id or "-" if terminal else "")
        return [printable(e.at), printable(e.actor, 64), printable(e.action), printable(name, 64),
                printable(e.key_id or ("-" if terminal else "")), printable(summary or ("-" if terminal else ""), 10_000)]

    _records(_log_columns(), (row(e) for e in entries), headers, "The audit trail is empty.")


# --- the store ---------------------------------------------------------------------------
def store_status(report: dict, as_json: bool) -> None:
    """``status``: the store, its catalog and its keys (its warnings go to stderr)."""
    if as_json:
        emit_json(report)
        return
    if not report["exists"]:
        state = "does not exist yet; the first change (e.g. `keyctl create`) makes it"
    else:
        backend = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(report["backend"], report["backend"])
        state = ", ".join([backend] + [f"{label} {report[field]}" for label, field in
                                       (("schema", "schema_version"), ("mode", "mode")) if report[field] is not None])
    out(f"store:    {printable(report['location'], 4096)}")
    out(f"          {state if report['usable'] else 'cannot be used (below)'}")
    if report["catalog"] is not None:
        cat = report["catalog"]
        out(f"catalog:  {printable(cat['name'])} ({'built in' if cat['builtin'] else 'from a catalog file'})")
    if report["keys"] is not None:
        k = report["keys"]
        out(f"keys:     {k['total']} ({k['active']} active, {k['disabled']} disabled, {k['expired']} expired)")


# --- the catalog -------------------------------------------------------------------------
_SCOPE_HEADERS = ("SCOPE", "GROUP", "REQUIRES", "BILLABLE", "ALIASES", "MARKS", "DESCRIPTION")


def scopes(catalog: "Catalog", as_json: bool, headers: bool = True) -> None:
    """The catalog as a tree: group -> scopes, with prerequisites, billing and marks
    (piped: one scope per tab-separated line)."""
    from .catalog_view import catalog_dict, scope_tree

    if as_json:
        emit_json(catalog_dict(catalog))
        return
    if not sys.stdout.isatty():
        rows = ([printable(s.id, 200), printable(s.group or "", 200), printable(",".join(s.requires), 2000),
                 _YES_NO.get(s.billable, ""), printable(",".join(s.aliases), 2000),
                 ",".join(m for m, on in (("deprecated", s.deprecated), ("hidden", s.hidden)) if on),
                 printable(s.description or "", 2000)] for s in catalog.scopes.values())
        from .table import Column

        _records(tuple(Column(h) for h in _SCOPE_HEADERS), rows, headers, None)
        return
    _console().print(scope_tree(catalog, _esc))


# --- catalogs ------------------------------------------------------------------------------
def catalog_list(catalogs: "list[Catalog]", default: str, as_json: bool, headers: bool = True) -> None:
    rows = [{"name": c.name, "description": c.description, "scopes": len(c.scopes),
             "default": c.name == default} for c in catalogs]
    if as_json:
        emit_json(rows)
        return
    from .table import Column

    columns = (Column("NAME"), Column("SCOPES"), Column("DESCRIPTION", wrap=True, floor=16, drop=1))
    table = [[printable(r["name"]) + (" (default)" if r["default"] else ""), str(r["scopes"]),
              printable(r["description"], 1000)] for r in rows]
    _records(columns, iter(table), headers, None)


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
