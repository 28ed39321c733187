"""What ``apply`` and ``export`` print, to stdout: the plan, the result (the new
secrets, once) and the store as a manifest. keyctl/render.py holds what they share
(writing, JSON, colour)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .output import json_ascii, out, toml_ascii, write
from .render import _color, created_dict
from .text import printable

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .models import ApplyResult
    from .plan import Plan


PIECE = 500  # keys (or lines) written at a time
_PLAN_MARK = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}
_PLAN_ANSI = {"create": "\033[32m", "update": "\033[33m", "delete": "\033[31m", "unchanged": "\033[2m"}


def _manifest_value(value: Any) -> str:
    """A manifest value in a plan line: never, true/false, or a quoted string."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def plan_lines(p: "Plan", catalog: "Catalog", color: bool = False) -> Iterator[str]:
    """The plan of ``apply``: ``+`` create, ``~`` update, ``-`` delete, ``=`` unchanged,
    then ``N to create, N to update, N to delete``. (On stdout; under --json the command
    shows it on stderr, so that stdout stays pure JSON.)"""
    for a in p.actions:
        head = f"{_PLAN_MARK[a.kind]} {printable(a.name)}"
        if a.kind == "delete":
            head += f" ({printable(a.key_id)})"
        yield f"{_PLAN_ANSI[a.kind]}{head}\033[0m" if color else head
        if a.kind == "create" and a.spec is not None:
            yield printable(f"    scopes: {', '.join(catalog.compact(a.scopes))}", 100_000)
            if a.spec.description:
                yield printable(f"    description: {_manifest_value(a.spec.description)}", 10_000)
            if a.spec.expires:
                yield f"    expires: {a.spec.expires}"
            if not a.spec.enabled:
                yield "    enabled: false"
        elif a.kind == "update":
            if a.added_scopes or a.removed_scopes:
                moves = [f"+{s}" for s in a.added_scopes] + [f"-{s}" for s in a.removed_scopes]
                yield printable(f"    scopes: {' '.join(moves)}", 100_000)
            for name, old, new in a.changes:
                if name == "expires":
                    yield printable(f"    expires: {old or 'never'} -> {new or 'never'}", 1000)
                else:
                    text = f"    {name}: {_manifest_value(old)} -> {_manifest_value(new)}"
                    yield printable(text, 10 * len(text))
    counts = p.counts()
    summary = (f"{counts['create']} to create, {counts['update']} to update, "
               f"{counts['delete']} to delete, {counts['unchanged']} unchanged")
    if p.not_in_manifest:
        summary += (f"; {p.not_in_manifest} named key(s) in the store are not in {printable(p.source, 200)} "
                    "and stay (--prune deletes them)")
    yield summary


def plan(p: "Plan", catalog: "Catalog") -> None:
    batch: list[str] = []
    for line in plan_lines(p, catalog, _color()):
        batch.append(line + "\n")  # its parts escaped by plan_lines; colours are keyctl's own
        if len(batch) >= PIECE:
            write("".join(batch))
            batch = []
    write("".join(batch))


def _planned(a: Any) -> dict:
    """A key a dry run would create, in the shape ``create`` prints (null where only
    creating it tells: id, times, hint, secret)."""
    from . import when
    from .catalog import Catalog
    from .plan import expiry_at

    spec = a.spec
    return {
        "id": None, "name": a.name, "description": spec.description, "scopes": Catalog.sorted_ids(a.scopes),
        "status": "active" if spec.enabled else "disabled", "created_at": None,
        "expires_at": expiry_at(spec, when.utcnow()), "hint": None, "in_keyring": False, "secret": None,
        "added_prerequisites": [c.scope for c in a.added_prerequisites], "stored_in": None,
    }


def _emit_json_lists(data: dict) -> None:
    """A JSON object whose lists (any iterables) are written one item per line, a few
    hundred items at a time: json.dumps with indent runs the pure-Python encoder (for
    10,000 keys, about a second of `apply`), and a list written whole would be held
    whole in memory."""
    ascii_ = json_ascii()
    fields = list(data.items())
    write("{\n")
    for n, (name, value) in enumerate(fields):
        write(f"  {json.dumps(name)}: ")
        if isinstance(value, (list, tuple, Iterator)):
            _emit_list(iter(value), ascii_)
        else:
            write(json.dumps(value, ensure_ascii=ascii_))
        write(",\n" if n < len(fields) - 1 else "\n")
    write("}\n")


def _emit_list(items: Iterator[Any], ascii_: bool) -> None:
    first = next(items, _NONE)
    if first is _NONE:
        write("[]")
        return
    parts = ["[\n    " + json.dumps(first, ensure_ascii=ascii_)]
    for item in items:
        parts.append(",\n    " + json.dumps(item, ensure_ascii=ascii_))
        if len(parts) >= PIECE:
            write("".join(parts))
            parts = []
    parts.append("\n  ]")
    write("".join(parts))


_NONE = object()


def applied(result: "ApplyResult", as_json: bool, dry_run: bool = False) -> None:
    """After ``apply``: JSON (created with secrets, updated with changes, deleted,
    unchanged) for scripts, or for a person a line and the new secrets, once."""
    p = result.plan
    if as_json:
        created = (created_dict(c, show_secret=result.keyring is None) for c in result.created)
        _emit_json_lists({
            "dry_run": dry_run,
            "created": created if result.created or not p.of("create") else (_planned(a) for a in p.of("create")),
            "updated": ({"name": a.name, "id": a.key_id, "changes": a.changes_dict()} for a in p.of("update")),
            "deleted": ({"name": a.name, "id": a.key_id} for a in p.of("delete")),
            "unchanged": ({"name": a.name, "id": a.key_id} for a in p.of("unchanged")),
        })
        return
    if dry_run:
        out("dry run: nothing was changed")
        return
    counts = p.counts()
    if not p.has_changes:
        out(f"nothing to do: the store already matches {p.source}")
        return
    out(f"applied {p.source}: {counts['create']} created, {counts['update']} updated, {counts['delete']} deleted")
    if not result.created:
        return
    if result.keyring is not None:
        out(f"the new secrets are in the keyring ({result.keyring}); read one with `keyctl secret NAME`")
        return
    # Plain aligned columns, never a fitted table: a table cuts or folds a long cell,
    # and a secret must stay whole to be copied (a narrow terminal wraps the line on
    # screen, not in what is copied). Piped: tab-separated, as every table.
    rows = [("NAME", "ID", "SECRET")] + [(printable(c.key.name or "-"), c.key.id, c.secret) for c in result.created]
    out()
    if not sys.stdout.isatty():
        write("".join("\t".join(row) + "\n" for row in rows))
        return
    wide = [max(len(r[i]) for r in rows) for i in range(2)]
    for name, kid, secret in rows:
        out(f"{name:<{wide[0]}}  {kid:<{wide[1]}}  {secret}")


def exported(keys: "Iterable[tuple[str, dict[str, Any]]]", as_json: bool) -> None:
    """``export``: the manifest (TOML), or with --json ``{"keys": {NAME: {"scopes",
    "description", "expires", "enabled"}}}`` (every field, defaults included). Written
    as ``keys`` are read (KeyStore.export_keys streams them in name order), a few
    hundred at a time: the same text as one document, in flat memory."""
    if not as_json:
        from .manifest import dump_manifest

        escape = json_ascii()
        for piece in dump_manifest(keys):
            write(toml_ascii(piece) if escape else piece)
        return
    from itertools import islice

    ascii_ = json_ascii()
    head, tail = '{\n  "keys": {', '\n  }\n}'
    write(head)
    keys = iter(keys)
    written = False
    while True:
        chunk = dict(islice(keys, PIECE))
        if not chunk:
            break
        # The chunk as json.dumps indents it inside the whole object, without the
        # object's own first and last lines.
        text = json.dumps({"keys": chunk}, indent=2, ensure_ascii=ascii_)[len(head):-len(tail)]
        write(("," if written else "") + text)
        written = True
    write((tail if written else "}\n}") + "\n")
