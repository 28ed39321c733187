"""PURE: what the API would do with a key for an operation. A verdict explains itself:
the outcome, the scopes that are missing, the portions hidden, the simulated status,
and a sentence a person can act on."""

from __future__ import annotations

from enum import Enum
from typing import Iterable, NamedTuple

from .catalog import ALL, Catalog
from .models import STATUSES, judged_status, key_status  # noqa: F401 (a key's status: the Key carries it)


class Outcome(str, Enum):
    ALLOWED = "allowed"
    REDACTED = "redacted"
    REJECTED = "rejected"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Outcome.ALLOWED: 0, Outcome.REDACTED: 1, Outcome.REJECTED: 2}


class KeyState(str, Enum):
    """The key as the API would judge it before looking at scopes."""

    OK = "ok"
    MALFORMED = "malformed"  # bad format or checksum
    UNKNOWN = "unknown"  # well-formed, but no key has this secret
    DISABLED = "disabled"
    EXPIRED = "expired"
    DISABLED_EXPIRED = "disabled_expired"  # both: listed as disabled, but enabling alone would not do


class Status(NamedTuple):
    code: int
    name: str


SUCCESS = Status(10000, "SUCCESS")
INSUFFICIENT_SCOPES = Status(11007, "CONN_INSUFFICIENT_SCOPES")
KEY_INVALID = Status(11008, "CONN_KEY_INVALID")
KEY_NOT_FOUND = Status(11009, "CONN_KEY_NOT_FOUND")


class Verdict(NamedTuple):
    """Immutable, so that one verdict may answer many calls (KeyStore.check's memo)."""

    operation: str  # as the catalog spells it
    outcome: Outcome
    billable: bool | None  # None: the catalog does not say
    missing_scopes: tuple[str, ...]
    redacted: tuple[str, ...]
    status: Status
    reason: str

    def to_dict(self) -> dict:
        return {
            "operation": self.operation,
            "outcome": self.outcome.value,
            "billable": self.billable,
            "missing_scopes": list(self.missing_scopes),
            "redacted": list(self.redacted),
            "status": {"code": self.status.code, "name": self.status.name},
            "reason": self.reason,
        }


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The worst of several outcomes (allowed when there are none)."""
    result = Outcome.ALLOWED
    for outcome in outcomes:
        if _RANK[outcome] > _RANK[result]:
            result = outcome
    return result


def decide(
    catalog: Catalog,
    granted: frozenset[str],
    operation: str,
    state: KeyState = KeyState.OK,
    key: str | None = None,
) -> Verdict:
    """The verdict for ``operation`` with ``granted`` scopes (ids, or ``{"all"}``).

    The key's state is judged first, as the API would; then the scopes. ``key`` is how
    to name the key in the reason (its name or id) where the caller knows it."""
    op = catalog.operations[operation]
    ref = key or "KEY"
    if state is not KeyState.OK:
        status = KEY_NOT_FOUND if state is KeyState.UNKNOWN else KEY_INVALID
        return Verdict(operation, Outcome.REJECTED, op.billable, (), (), status, _STATE_REASON[state].format(key=ref))
    if op.auth != "key":
        # Decided by who calls, not by scopes: no API key can call a token's or a
        # session's operation, and any key may call one that needs no authorization.
        outcome = Outcome.ALLOWED if op.auth == "none" else Outcome.REJECTED
        status = SUCCESS if op.auth == "none" else INSUFFICIENT_SCOPES
        return Verdict(operation, outcome, op.billable, (), (), status, _AUTH_REASON[op.auth])
    everything = ALL in granted
    missing = () if everything else tuple(sorted(op.requires - granted))
    if missing:
        direct = _to_add(catalog, missing)
        them = "it" if len(direct) == 1 else "them"
        return Verdict(
            operation, Outcome.REJECTED, op.billable, missing, (), INSUFFICIENT_SCOPES,
            f"rejected: missing {', '.join(missing)}; add {them} with "
            f"`keyctl scope add {ref} {' '.join(direct)}`",
        )
    hidden: list[str] = []
    hidden_missing: set[str] = set()
    if not everything:
        for portion, needs in op.redacts.items():
            lacking = needs - granted
            if lacking:
                hidden.append(portion)
                hidden_missing |= lacking
    if hidden:
        lacking_sorted = tuple(sorted(hidden_missing))
        direct = _to_add(catalog, lacking_sorted)
        them = "it" if len(direct) == 1 else "them"
        return Verdict(
            operation, Outcome.REDACTED, op.billable, lacking_sorted, tuple(hidden), SUCCESS,
            f"redacted: {', '.join(hidden)} hidden without {', '.join(lacking_sorted)}; "
            f"add {them} with `keyctl scope add {ref} {' '.join(direct)}`",
        )
    if not op.requires:
        return Verdict(operation, Outcome.ALLOWED, op.billable, (), (), SUCCESS,
                       f"allowed: {operation} needs a valid key and no scope")
    return Verdict(operation, Outcome.ALLOWED, op.billable, (), (), SUCCESS, f"allowed: {ref} holds every scope {operation} needs")


def _to_add(catalog: Catalog, missing: tuple[str, ...]) -> tuple[str, ...]:
    """The fewest of the missing scopes to name: those not brought in by another
    missing scope's prerequisites (keyctl adds prerequisites itself)."""
    # What the missing scopes bring in is the closure of their direct prerequisites
    # (the catalog has no cycles): one pass, however long the chains.
    implied, _ = catalog.closure({req for scope in missing for req in catalog.scopes[scope].requires})
    return tuple(s for s in missing if s not in implied) or missing


STATE_OF_STATUS = {"active": KeyState.OK, "disabled": KeyState.DISABLED, "expired": KeyState.EXPIRED,
                   "disabled_expired": KeyState.DISABLED_EXPIRED}


def state_of(status: str, expires_at: str | None, now_iso: str) -> KeyState:
    """The state a key is judged in, from its status as listed (``Key.status``):
    keyctl/models.py's ``judged_status``."""
    return STATE_OF_STATUS[judged_status(True, expires_at, now_iso) if status == "disabled" else status]


_STATE_REASON = {
    KeyState.MALFORMED: "rejected: the key is malformed (its checksum does not match); check that it was copied whole",
    KeyState.UNKNOWN: "rejected: no key has this secret; it may have been rotated or deleted (see `keyctl list`)",
    KeyState.DISABLED: "rejected: {key} is disabled; enable it with `keyctl enable {key}`",
    KeyState.EXPIRED: "rejected: {key} has expired; extend it with `keyctl update {key} --expires 30d`",
    KeyState.DISABLED_EXPIRED: "rejected: {key} is disabled and has expired; extend it with "
                               "`keyctl update {key} --expires 30d`, then enable it with `keyctl enable {key}`",
}


_AUTH_REASON = {
    "pat": "rejected: needs a personal access token; no API key can call it, whatever its scopes",
    "session": "rejected: needs a session token (a signed-in browser); no API key can call it, whatever its scopes",
    "none": "allowed: needs no authorization",
}


def outcomes_for(catalog: Catalog, granted: frozenset[str], state: KeyState = KeyState.OK) -> dict[str, str]:
    """The outcome of every operation, for ``show``: ``{"inputs.get": "redacted", ...}``
    (operations as the catalog spells them)."""
    return {op: decide(catalog, granted, op, state).outcome.value for op in catalog.operations}
