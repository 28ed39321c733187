"""Verdicts: the outcome of every operation of the built-in catalog for a key holding
each single scope, none and all, written out by hand; billing, status codes and
reasons; and the property that granting more never makes an outcome worse."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED_SCOPE_IDS
from keyctl.catalog import builtin
from keyctl.decide import (
    INSUFFICIENT_SCOPES,
    KEY_INVALID,
    KEY_NOT_FOUND,
    SUCCESS,
    KeyState,
    Outcome,
    Verdict,
    decide,
    outcomes_for,
    worst,
)

OPS = SEED_SCOPE_IDS
SCOPES = OPS  # one operation per scope, with the same id

# Closure of each scope (== the closed requirements of the operation of that id).
CLOSURE: dict[str, frozenset[str]] = {
    "predict.call": frozenset({"predict.call"}),
    "predict.feedback": frozenset({"predict.feedback"}),
    "search": frozenset({"search"}),
    "inputs.add": frozenset({"inputs.add"}),
    "inputs.get": frozenset({"inputs.get"}),
    "inputs.patch": frozenset({"inputs.patch", "inputs.get"}),
    "inputs.delete": frozenset({"inputs.delete", "inputs.get"}),
    "concepts.add": frozenset({"concepts.add"}),
    "concepts.get": frozenset({"concepts.get"}),
    "concepts.patch": frozenset({"concepts.patch", "concepts.get"}),
    "models.add": frozenset({"models.add"}),
    "models.get": frozenset({"models.get"}),
    "models.patch": frozenset({"models.patch", "models.get", "models.train"}),
    "models.delete": frozenset({"models.delete", "models.get"}),
    "models.train": frozenset({"models.train", "models.get"}),
}

BILLABLE = frozenset(
    {
        "predict.call",
        "search",
        "inputs.add",
        "inputs.patch",
        "concepts.add",
        "concepts.patch",
        "models.train",
    }
)
FREE = frozenset({"predict.feedback"})  # the guide calls feedback free; of the rest it says nothing


def billing(op: str) -> bool | None:
    """What the source document says: consumes an Operation, free, or nothing."""
    return True if op in BILLABLE else False if op in FREE else None
REDACTING = frozenset({"inputs.get", "inputs.patch"})  # hide "concepts" without concepts.get

A, D, R = "allowed", "redacted", "rejected"

# For a key holding only the scope on the left (closed), the operations that are
# allowed and redacted; every other operation is rejected.
SINGLE_SCOPE_OUTCOMES: dict[str, dict[str, str]] = {
    "predict.call": {"predict.call": A},
    "predict.feedback": {"predict.feedback": A},
    "search": {"search": A},
    "inputs.add": {"inputs.add": A},
    "inputs.get": {"inputs.get": D},
    "inputs.patch": {"inputs.get": D, "inputs.patch": D},
    "inputs.delete": {"inputs.get": D, "inputs.delete": A},
    "concepts.add": {"concepts.add": A},
    "concepts.get": {"concepts.get": A},
    "concepts.patch": {"concepts.get": A, "concepts.patch": A},
    "models.add": {"models.add": A},
    "models.get": {"models.get": A},
    "models.patch": {"models.get": A, "models.patch": A, "models.train": A},
    "models.delete": {"models.get": A, "models.delete": A},
    "models.train": {"models.get": A, "models.train": A},
}


def expected_outcome(grant: frozenset[str], op: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(outcome, missing_scopes, redacted) by the rule in the issue, from the tables
    above; ``grant`` is a closed set of scope ids or {"all"}."""
    if "all" in grant:
        return A, (), ()
    missing = tuple(sorted(CLOSURE[op] - grant))
    if missing:
        return R, missing, ()
    if op in REDACTING and "concepts.get" not in grant:
        return D, ("concepts.get",), ("concepts",)
    return A, (), ()


def closed(grant) -> frozenset[str]:
    out: set[str] = set()
    for s in grant:
        out |= CLOSURE[s]
    return frozenset(out)


@pytest.fixture(scope="module")
def cat():
    return builtin("clarifai")


def check_verdict(v: Verdict, op: str, outcome: str, missing=None, redacted=()):
    assert v.operation == op
    assert v.outcome is Outcome(outcome)
    assert v.billable is billing(op)
    if outcome == A:
        assert v.missing_scopes == ()
        assert v.redacted == ()
        assert v.status == SUCCESS
        assert v.reason.startswith("allowed: ")
    elif outcome == D:
        assert v.missing_scopes == ("concepts.get",)
        assert v.redacted == ("concepts",)
        assert v.status == SUCCESS
        assert v.reason.startswith("redacted: ")
    else:
        assert v.missing_scopes == missing
        assert v.redacted == ()
        assert v.status == INSUFFICIENT_SCOPES
        assert v.reason.startswith("rejected: missing " + ", ".join(missing))


# --- the table itself ---------------------------------------------------------------
def test_tables_cover_the_catalog(cat):
    assert tuple(cat.operations) == OPS
    assert tuple(cat.scopes) == SCOPES
    assert set(SINGLE_SCOPE_OUTCOMES) == set(SCOPES)
    for scope in SCOPES:
        assert cat.closure([scope])[0] == CLOSURE[scope]
        assert cat.operations[scope].requires == CLOSURE[scope]


def test_hand_written_table_agrees_with_the_rule():
    # Guards the literal table above against typos: it must say what the rule says.
    for scope, row in SINGLE_SCOPE_OUTCOMES.items():
        for op in OPS:
            assert row.get(op, R) == expected_outcome(CLOSURE[scope], op)[0], (scope, op)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("scope", SCOPES)
def test_every_operation_for_every_single_scope(cat, scope, op):
    grant = cat.closure([scope])[0]
    assert grant == CLOSURE[scope]
    outcome = SINGLE_SCOPE_OUTCOMES[scope].get(op, R)
    missing = tuple(sorted(CLOSURE[op] - CLOSURE[scope])) if outcome == R else None
    check_verdict(decide(cat, grant, op), op, outcome, missing)


@pytest.mark.parametrize("op", OPS)
def test_every_operation_with_no_scope(cat, op):
    v = decide(cat, frozenset(), op)
    check_verdict(v, op, R, tuple(sorted(CLOSURE[op])))


@pytest.mark.parametrize("op", OPS)
def test_every_operation_with_all(cat, op):
    check_verdict(decide(cat, frozenset({"all"}), op), op, A)


@pytest.mark.parametrize("op", OPS)
def test_every_operation_with_every_scope_listed(cat, op):
    check_verdict(decide(cat, frozenset(SCOPES), op), op, A)


def test_outcomes_for_matches_the_table(cat):
    for scope in SCOPES:
        got = outcomes_for(cat, CLOSURE[scope])
        assert got == {op: SINGLE_SCOPE_OUTCOMES[scope].get(op, R) for op in OPS}
    assert outcomes_for(cat, frozenset({"all"})) == {op: A for op in OPS}
    assert outcomes_for(cat, frozenset()) == {op: R for op in OPS}
    assert outcomes_for(cat, frozenset({"all"}), KeyState.DISABLED) == {op: R for op in OPS}


# --- redaction ----------------------------------------------------------------------
def test_inputs_get_redacted_without_concepts_get(cat):
    v = decide(cat, frozenset({"inputs.get"}), "inputs.get", key="ci-bot")
    assert v.outcome is Outcome.REDACTED
    assert v.redacted == ("concepts",)
    assert v.missing_scopes == ("concepts.get",)
    assert v.status == SUCCESS
    assert v.reason == (
        "redacted: concepts hidden without concepts.get; "
        "add it with `keyctl scope add ci-bot concepts.get`"
    )


@pytest.mark.parametrize("op", ["inputs.get", "inputs.patch"])
def test_concepts_get_lifts_the_redaction(cat, op):
    grant = frozenset({"inputs.patch", "inputs.get", "concepts.get"})
    check_verdict(decide(cat, grant, op), op, A)
    # concepts.patch brings concepts.get with it once closed.
    grant = cat.closure({"inputs.patch", "concepts.patch"})[0]
    check_verdict(decide(cat, grant, op), op, A)


def test_redaction_only_after_the_scopes_are_held(cat):
    # Missing inputs.get wins over the redaction: rejected, not redacted.
    v = decide(cat, frozenset({"inputs.patch"}), "inputs.patch")
    assert v.outcome is Outcome.REJECTED
    assert v.missing_scopes == ("inputs.get",)
    assert v.redacted == ()


# --- billing ------------------------------------------------------------------------
@pytest.mark.parametrize("op", OPS)
def test_billable_is_the_same_whatever_the_outcome(cat, op):
    grants = [frozenset(), frozenset({"all"}), *CLOSURE.values()]
    seen = set()
    for grant in grants:
        for state in KeyState:
            v = decide(cat, grant, op, state)
            seen.add(v.outcome)
            assert v.billable is billing(op), (op, grant, state)
    assert cat.operations[op].billable is billing(op)
    assert {Outcome.ALLOWED, Outcome.REJECTED} <= seen


# --- key states and status codes ----------------------------------------------------
@pytest.mark.parametrize(
    "state, status",
    [
        (KeyState.MALFORMED, KEY_INVALID),
        (KeyState.DISABLED, KEY_INVALID),
        (KeyState.EXPIRED, KEY_INVALID),
        (KeyState.UNKNOWN, KEY_NOT_FOUND),
    ],
)
@pytest.mark.parametrize("grant", [frozenset({"all"}), frozenset(), CLOSURE["inputs.patch"]])
def test_key_state_is_judged_before_scopes(cat, state, status, grant):
    for op in OPS:
        v = decide(cat, grant, op, state, key="ci-bot")
        assert v.outcome is Outcome.REJECTED
        assert v.status == status
        assert v.missing_scopes == ()
        assert v.redacted == ()
        assert v.reason.startswith("rejected: ")


def test_status_codes():
    assert (SUCCESS.code, SUCCESS.name) == (10000, "SUCCESS")
    assert (INSUFFICIENT_SCOPES.code, INSUFFICIENT_SCOPES.name) == (11007, "CONN_INSUFFICIENT_SCOPES")
    assert (KEY_INVALID.code, KEY_INVALID.name) == (11008, "CONN_KEY_INVALID")
    assert (KEY_NOT_FOUND.code, KEY_NOT_FOUND.name) == (11009, "CONN_KEY_NOT_FOUND")


def test_state_codes_by_number(cat):
    grant = frozenset({"all"})
    assert decide(cat, grant, "search").status.code == 10000
    assert decide(cat, frozenset(), "search").status.code == 11007
    assert decide(cat, frozenset({"inputs.get"}), "inputs.get").status.code == 10000
    for state in (KeyState.MALFORMED, KeyState.DISABLED, KeyState.EXPIRED):
        assert decide(cat, grant, "search", state).status.code == 11008
    assert decide(cat, grant, "search", KeyState.UNKNOWN).status.code == 11009


def test_state_reasons_name_the_key(cat):
    grant = frozenset({"all"})
    assert "ci-bot is disabled" in decide(cat, grant, "search", KeyState.DISABLED, key="ci-bot").reason
    assert "keyctl enable ci-bot" in decide(cat, grant, "search", KeyState.DISABLED, key="ci-bot").reason
    assert "ci-bot has expired" in decide(cat, grant, "search", KeyState.EXPIRED, key="ci-bot").reason
    assert "malformed" in decide(cat, grant, "search", KeyState.MALFORMED).reason
    assert "no key has this secret" in decide(cat, grant, "search", KeyState.UNKNOWN).reason


# --- reasons ------------------------------------------------------------------------
def test_missing_scope_reason_names_the_command(cat):
    v = decide(cat, frozenset({"models.get"}), "models.train", key="ci-bot")
    assert v.outcome is Outcome.REJECTED
    assert v.missing_scopes == ("models.train",)
    assert "missing models.train" in v.reason
    assert "keyctl scope add ci-bot models.train" in v.reason
    assert v.reason == "rejected: missing models.train; add it with `keyctl scope add ci-bot models.train`"


def test_reason_names_only_scopes_not_implied_by_others(cat):
    # models.patch brings models.get and models.train: naming models.patch is enough.
    v = decide(cat, frozenset(), "models.patch")
    assert v.missing_scopes == ("models.get", "models.patch", "models.train")
    assert v.reason == (
        "rejected: missing models.get, models.patch, models.train; "
        "add it with `keyctl scope add KEY models.patch`"
    )


def test_allowed_reason(cat):
    v = decide(cat, frozenset({"search"}), "search", key="ci-bot")
    assert v.reason == "allowed: ci-bot holds every scope search needs"


def test_to_dict(cat):
    v = decide(cat, frozenset({"inputs.get"}), "inputs.get", key="k")
    assert v.to_dict() == {
        "operation": "inputs.get",
        "outcome": "redacted",
        "billable": None,
        "missing_scopes": ["concepts.get"],
        "redacted": ["concepts"],
        "status": {"code": 10000, "name": "SUCCESS"},
        "reason": v.reason,
    }


# --- outcome order ------------------------------------------------------------------
def test_rank_and_worst():
    assert Outcome.ALLOWED.rank < Outcome.REDACTED.rank < Outcome.REJECTED.rank
    assert worst([]) is Outcome.ALLOWED
    assert worst([Outcome.ALLOWED, Outcome.REDACTED]) is Outcome.REDACTED
    assert worst([Outcome.REJECTED, Outcome.ALLOWED, Outcome.REDACTED]) is Outcome.REJECTED


# --- properties ---------------------------------------------------------------------
scope_sets = st.frozensets(st.sampled_from(SCOPES))


@settings(deadline=None)
@given(scope_sets)
def test_any_closed_grant_matches_the_rule(granted):
    cat = builtin()
    grant = cat.closure(granted)[0]
    assert grant == closed(granted)
    for op in OPS:
        v = decide(cat, grant, op)
        assert (v.outcome.value, v.missing_scopes, v.redacted) == expected_outcome(grant, op), op
        assert v.billable is billing(op)
        assert v.status == (INSUFFICIENT_SCOPES if v.outcome is Outcome.REJECTED else SUCCESS)


@settings(deadline=None)
@given(scope_sets, scope_sets)
def test_more_scopes_never_make_an_outcome_worse(s, extra):
    cat = builtin()
    t = s | extra
    s_closed, t_closed = cat.closure(s)[0], cat.closure(t)[0]
    for op in OPS:
        # Raw grants (as stored before closing) and closed grants alike.
        assert decide(cat, t, op).outcome.rank <= decide(cat, s, op).outcome.rank, op
        assert decide(cat, t_closed, op).outcome.rank <= decide(cat, s_closed, op).outcome.rank, op
        # {"all"} is at least as good as any grant.
        assert decide(cat, frozenset({"all"}), op).outcome.rank <= decide(cat, s, op).outcome.rank
        # Rejected either way: the bigger grant misses no required scope the smaller holds.
        big, small = decide(cat, t_closed, op), decide(cat, s_closed, op)
        if big.outcome is Outcome.REJECTED:
            assert small.outcome is Outcome.REJECTED
            assert set(big.missing_scopes) <= set(small.missing_scopes)
