"""What ``keyctl scopes`` shows of a catalog: the JSON form (a contract: README "JSON
shapes") and the tree for people. keyctl/render.py prints them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog

# Billing as a catalog says it; None (the catalog does not say) has no text.
BILLING = {True: "consumes an Operation", False: "free"}


def catalog_dict(catalog: "Catalog") -> dict:
    return {
        "catalog": catalog.name,
        "scopes": [
            {"id": s.id, "group": s.group, "description": s.description, "requires": list(s.requires),
             "billable": s.billable, "deprecated": s.deprecated, "hidden": s.hidden, "aliases": list(s.aliases)}
            for s in catalog.scopes.values()
        ],
        "groups": {g: list(m) for g, m in catalog.groups.items()},
        "operations": [
            {"id": o.id, "requires": sorted(o.requires), "redacts": dict(o.redacts_direct),
             "billable": o.billable, "auth": o.auth, "resource": catalog.resource_of(o.id),
             "deprecated": o.deprecated}
            for o in catalog.operations.values()
        ],
    }


def scope_tree(catalog: "Catalog", esc: Callable[[Any], str]) -> Any:
    """The catalog as a Rich tree: group -> scopes, each with its other names, its
    marks (deprecated, hidden), prerequisites, billing and redactions. ``esc`` escapes
    the catalog's text for Rich markup."""
    from rich.tree import Tree

    tree = Tree(f"[bold]{esc(catalog.name)}[/bold]: {esc(catalog.description)}")
    branches: dict[str | None, Any] = {}
    for s in catalog.scopes.values():
        if s.group is None:
            parent = tree
        else:
            if s.group not in branches:
                branches[s.group] = tree.add(f"[bold]{esc(s.group)}[/bold] (all of: {esc(', '.join(catalog.groups[s.group]))})")
            parent = branches[s.group]
        notes = [mark for mark, on in (("deprecated", s.deprecated), ("hidden: not offered for keys", s.hidden)) if on]
        if s.requires:
            notes.append("requires " + ", ".join(s.requires))
        if s.billable is not None:
            notes.append(BILLING[s.billable])
        redacts = catalog.operations[s.id].redacts_direct
        if redacts:
            notes.append("; ".join(f"{p} redacted without {sc}" for p, sc in redacts.items()))
        names = f" ({esc(', '.join(s.aliases))})" if s.aliases else ""
        dim = f"  [dim]({esc('; '.join(notes))})[/dim]" if notes else ""
        parent.add(f"[bold]{esc(s.id)}[/bold]{names}  {esc(s.description)}{dim}")
    tree.add("[bold]all[/bold]  every scope, including scopes added to the catalog later")
    return tree
