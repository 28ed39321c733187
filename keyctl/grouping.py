"""PURE: reports over many operations, made readable: grouped by resource (what each
operation acts on), the allowed ones summarised, the others gathered by what they
lack. keyctl/render.py prints what this returns; JSON output is never grouped.

An API such as Clarifai's has hundreds of operations: one line each for ``check KEY``
and one row each for ``show KEY`` would bury the few that matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .decide import Verdict

# Reports over more operations than this are grouped (a screen of lines).
GROUP_OVER = 30
OTHER = "other"  # the heading of operations with no resource

_SYMBOL = {"allowed": "✔", "redacted": "◐", "rejected": "✘"}
_ANSI = {"allowed": "\033[32m", "redacted": "\033[33m", "rejected": "\033[31m"}


def by_resource(catalog: "Catalog", operations: Iterable[str]) -> dict[str, list[str]]:
    """Operations under their resource, resources in the order first met."""
    groups: dict[str, list[str]] = {}
    for op in operations:
        groups.setdefault(catalog.resource_of(op) or OTHER, []).append(op)
    return groups


def _why(v: "Verdict") -> str:
    """What a verdict lacks, without naming the operation or the key, so that the
    operations lacking the same thing share one line."""
    if v.missing_scopes and v.redacted:
        return f"hidden: {', '.join(v.redacted)}; without {', '.join(v.missing_scopes)}"
    if v.missing_scopes:
        return f"missing: {', '.join(v.missing_scopes)}"
    return v.reason.split(": ", 1)[-1]


def check_lines(results: Iterable["Verdict"], catalog: "Catalog", ref: str, color: bool) -> Iterator[str]:
    """``check KEY`` over many operations: per resource, one line for the allowed
    ones, and one line per outcome and reason for the rest."""
    verdicts = {v.operation: v for v in results}
    counts = {"allowed": 0, "redacted": 0, "rejected": 0}
    for resource, ops in by_resource(catalog, verdicts).items():
        yield f"{resource} ({len(ops)})"
        buckets: dict[tuple[str, str], list[str]] = {}
        for op in ops:
            v = verdicts[op]
            outcome = v.outcome.value
            counts[outcome] += 1
            buckets.setdefault((outcome, "" if outcome == "allowed" else _why(v)), []).append(op)
        for (outcome, why), names in sorted(buckets.items(), key=lambda b: _ORDER[b[0][0]]):
            mark = f"{_SYMBOL[outcome]} {outcome:<8}"
            if color:
                mark = f"{_ANSI[outcome]}{mark}\033[0m"
            tail = f"  [{why}]" if why else ""
            yield f"  {mark}  {', '.join(names)}{tail}"
    summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n)
    yield (f"{len(verdicts)} operations: {summary}. `keyctl check {ref} OPERATION` explains one; "
           f"`keyctl scope add {ref} SCOPE...` grants what is missing")


_ORDER = {"allowed": 0, "redacted": 1, "rejected": 2}


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
