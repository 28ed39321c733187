"""PURE: a :class:`Catalog` from rows, the one form both paths share: the rows that
keyctl/catalog/load.py makes from a catalog file it validated, and the rows a store
keeps compiled (keyctl/catalog/compiled.py), which need no validation again.

A row is a list (a compact JSON form): scope rows are ``[description, group,
requires, billable, deprecated, hidden, aliases]``; operation rows, for the
``[[operations]]`` entries only, ``[description, requires, redacts, billable, auth,
resource, deprecated]``, where a null description, requires or billable means "as the
scope of the same id says". A row may stop early: what it leaves out is the default
(:data:`SCOPE_DEFAULTS`, :data:`OPERATION_DEFAULTS`). Building is linear in the rows:
scopes and operations are made when first looked at, and an operation's closure
when it is made.
"""

from __future__ import annotations

from typing import Any, Mapping

from .model import Catalog, Operation, Scope, Table

ScopeRow = list  # [description, group, requires, billable, deprecated, hidden, aliases]
OperationRow = list  # [description, requires, redacts, billable, auth, resource, deprecated]
SCOPE_DEFAULTS: ScopeRow = ["", None, [], None, False, False, []]
OPERATION_DEFAULTS: OperationRow = [None, None, {}, None, "key", None, False]


def trim(row: list, defaults: list) -> list:
    """A row without the defaults it ends with (a store keeps rows this way)."""
    end = len(row)
    while end and row[end - 1] == defaults[end - 1]:
        end -= 1
    return row[:end]


def build_catalog(
    name: str,
    description: str,
    groups: Mapping[str, tuple[str, ...]],
    scope_rows: Mapping[str, ScopeRow],
    operation_rows: Mapping[str, OperationRow],
    aliases: Mapping[str, str],
    text: str,
    scopes_are_calls: bool = True,
) -> Catalog:
    """``operation_rows`` holds the [[operations]] entries: those named after a scope
    refine its operation, the others are operations of their own (after the scopes')."""
    rows: dict[str, Any] = dict.fromkeys(scope_rows)
    rows.update(operation_rows)

    def make_scope(sid: str, row: ScopeRow) -> Scope:
        desc, group, requires, billable, deprecated, hidden, names = row + SCOPE_DEFAULTS[len(row):]
        return Scope(sid, desc, group, tuple(requires), billable, deprecated, hidden, tuple(names))

    def make_operation(oid: str, row: OperationRow | None) -> Operation:
        scope = catalog.scopes[oid] if oid in catalog.scopes else None
        full = OPERATION_DEFAULTS if row is None else row + OPERATION_DEFAULTS[len(row):]
        desc, requires, redacts, billable, auth, resource, deprecated = full
        if desc is None:
            desc = scope.description if scope is not None else ""
        if billable is None and scope is not None:
            billable = scope.billable
        closure = catalog.closure
        return Operation(
            id=oid,
            description=desc,
            requires=closure([oid] if requires is None else requires)[0],
            redacts={portion: closure([s])[0] for portion, s in redacts.items()},
            redacts_direct=dict(redacts),
            billable=billable,
            auth=auth,
            resource=resource,
            deprecated=deprecated,
        )

    catalog = Catalog(
        name, description, Table(scope_rows, make_scope), groups, Table(rows, make_operation), text, aliases,
        scopes_are_calls,
    )
    return catalog


def rows_of(catalog: Catalog) -> tuple[dict[str, ScopeRow], dict[str, OperationRow]]:
    """The rows a catalog was built from (to keep them, compiled)."""
    scopes, operations = catalog.scopes, catalog.operations
    if not isinstance(scopes, Table) or not isinstance(operations, Table):
        raise TypeError("only a catalog made by build_catalog has rows")
    return ({k: trim(v, SCOPE_DEFAULTS) for k, v in scopes.rows().items()},
            {k: trim(v, OPERATION_DEFAULTS) for k, v in operations.rows().items() if v is not None})
