"""PURE: reports over many operations, made readable: grouped by resource (what each
operation acts on), the allowed ones summarised, the others gathered by what they
lack. keyctl/render.py prints what this returns; JSON output is never grouped.

An API such as Clarifai's has hundreds of operations: one line each for ``check KEY``
and one row each for ``show KEY`` would bury the few that matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .decide import Verdict

# Reports over more operations than this are grouped (a screen of lines).
GROUP_OVER = 30
OTHER = "other"  # the heading of operations with no resource

_ORDER = {"allowed": 0, "redacted": 1, "rejected": 2}


def by_resource(catalog: "Catalog", operations: Iterable[str]) -> dict[str, list[str]]:
    """Operations under their resource, resources in the order first met, and those
    with none last."""
    groups: dict[str, list[str]] = {}
    rest: list[str] = []
    for op in operations:
        resource = catalog.resource_of(op)
        if resource is None:
            rest.append(op)
        else:
            groups.setdefault(resource, []).append(op)
    if rest:
        groups.setdefault(OTHER, []).extend(rest)
    return groups


def _kind(v: "Verdict") -> str:
    """Why an operation is not allowed, in words shared by every operation it fits: a
    missing scope, a hidden portion, or the reason's first clause, which names neither
    the operation nor the key (who alone may call it; a disabled or unknown key)."""
    if v.redacted:
        return "hidden"
    if v.missing_scopes:
        return "missing"
    return v.reason.split(": ", 1)[-1].split(";")[0]  # "needs a personal access token"


def _tail(kind: str, verdicts: list["Verdict"]) -> str:
    """What a line's operations lack between them: granting these allows them all."""
    missing = sorted({s for v in verdicts for s in v.missing_scopes})
    if kind == "hidden":
        portions = sorted({p for v in verdicts for p in v.redacted})
        return f"hidden: {', '.join(portions)}; without {', '.join(missing)}"
    if kind == "missing":
        return f"missing: {', '.join(missing)}" if len(verdicts) == 1 else f"missing, between them: {', '.join(missing)}"
    return kind


def check_lines(results: Iterable["Verdict"], catalog: "Catalog", ref: str,
                mark_of: Callable[[str], str], width: int = 0) -> Iterator[str]:
    """``check KEY`` over many operations: per resource, one line for the allowed
    ones and one per outcome and reason for the rest (``mark_of`` draws an outcome, in
    a cell of 10). Over ``width`` (a terminal's), a line wraps between words, under
    its operations."""
    verdicts = {v.operation: v for v in results}
    counts = {"allowed": 0, "redacted": 0, "rejected": 0}
    for resource, ops in by_resource(catalog, verdicts).items():
        yield f"{resource} ({len(ops)})"
        buckets: dict[tuple[str, str], list["Verdict"]] = {}
        for op in ops:
            v = verdicts[op]
            counts[v.outcome.value] += 1
            kind = "" if v.outcome.value == "allowed" else _kind(v)
            buckets.setdefault((v.outcome.value, kind), []).append(v)
        for (outcome, kind), bucket in sorted(buckets.items(), key=lambda b: _ORDER[b[0][0]]):
            mark = mark_of(outcome)
            tail = f"  [{_tail(kind, bucket)}]" if kind else ""
            yield f"  {mark}  " + _wrapped(f"{', '.join(v.operation for v in bucket)}{tail}", width, 14)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n)
    grant = any(v.missing_scopes for v in verdicts.values())
    yield _wrapped(f"{len(verdicts)} operations: {summary}. `keyctl check {ref} OPERATION` explains one"
                   + (f"; `keyctl scope add {ref} SCOPE...` grants what is missing" if grant else ""), width, 0)


def _wrapped(text: str, width: int, indent: int) -> str:
    """``text`` whole, or over ``width`` its lines joined, each after ``indent``
    spaces but the first (which follows what is already on its line)."""
    if width - indent < 20 or indent + len(text) <= width:
        return text
    from .table import wrap

    return ("\n" + " " * indent).join(wrap(text, width - indent))


def detail_rows(outcomes: dict[str, str], catalog: "Catalog") -> list[tuple[str, str, str, str, str]]:
    """``show KEY`` over many operations: per resource, how many are allowed, redacted
    and rejected, and the names of those allowed."""
    rows = []
    for resource, ops in by_resource(catalog, outcomes).items():
        allowed = [op for op in ops if outcomes[op] == "allowed"]
        redacted = sum(1 for op in ops if outcomes[op] == "redacted")
        rows.append((resource, str(len(allowed)), str(redacted), str(len(ops) - len(allowed) - redacted),
                     ", ".join(allowed) or "-"))
    return rows
