"""The scope catalog: the built-in catalog's closure table, closure and removal
properties, name parsing, compact display and the loader's validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED_SCOPE_IDS
from keyctl import catalog as catalog_mod
from keyctl.catalog import Change, builtin, parse_catalog, validate
from keyctl.errors import CatalogError, UnknownOperationError, UnknownScopeError

CATALOGS = Path(__file__).parent / "catalogs"

SCOPE_IDS = SEED_SCOPE_IDS

# Each scope's prerequisites (the closure minus the scope itself), from the issue.
EXPECTED_PREREQUISITES: dict[str, frozenset[str]] = {
    "predict.call": frozenset(),
    "predict.feedback": frozenset(),
    "search": frozenset(),
    "inputs.add": frozenset(),
    "inputs.get": frozenset(),
    "inputs.patch": frozenset({"inputs.get"}),
    "inputs.delete": frozenset({"inputs.get"}),
    "concepts.add": frozenset(),
    "concepts.get": frozenset(),
    "concepts.patch": frozenset({"concepts.get"}),
    "models.add": frozenset(),
    "models.get": frozenset(),
    "models.patch": frozenset({"models.get", "models.train"}),
    "models.delete": frozenset({"models.get"}),
    "models.train": frozenset({"models.get"}),
}
EXPECTED_CLOSURE = {s: frozenset({s}) | reqs for s, reqs in EXPECTED_PREREQUISITES.items()}

EXPECTED_GROUPS = {
    "predict": ("predict.call", "predict.feedback"),
    "inputs": ("inputs.add", "inputs.get", "inputs.patch", "inputs.delete"),
    "concepts": ("concepts.add", "concepts.get", "concepts.patch"),
    "models": ("models.add", "models.get", "models.patch", "models.delete", "models.train"),
}

scope_sets = st.frozensets(st.sampled_from(SCOPE_IDS))


@pytest.fixture(scope="module")
def cat():
    return builtin("clarifai")


def oracle_close(scopes) -> frozenset[str]:
    """The closure computed from the hand-written table (one level suffices: the
    table already lists every transitive prerequisite)."""
    out: set[str] = set()
    for s in scopes:
        out |= EXPECTED_CLOSURE[s]
    return frozenset(out)


# --- the built-in catalog as a table -------------------------------------------------
def test_builtin_has_exactly_the_expected_scopes_in_order(cat):
    assert tuple(cat.scopes) == SCOPE_IDS
    assert set(EXPECTED_CLOSURE) == set(cat.scopes)
    assert cat.name == "clarifai"


def test_builtin_groups(cat):
    assert dict(cat.groups) == EXPECTED_GROUPS
    for group, members in EXPECTED_GROUPS.items():
        for member in members:
            assert cat.group_of(member) == group
    assert cat.group_of("search") is None


def test_builtin_operations_are_one_per_scope(cat):
    assert tuple(cat.operations) == SCOPE_IDS


def test_builtin_is_cached_and_unknown_builtin_refused():
    assert builtin("clarifai") is builtin("clarifai")
    with pytest.raises(CatalogError) as info:
        builtin("nope")
    assert "unknown catalog 'nope'" in str(info.value)
    assert info.value.exit_code == 2


def test_builtin_text_validates_cleanly():
    import tomllib

    assert validate(tomllib.loads(catalog_mod.builtin_text("clarifai"))) == []


@pytest.mark.parametrize("scope", SCOPE_IDS)
def test_closure_of_every_scope(cat, scope):
    closed, changes = cat.closure([scope])
    assert closed == EXPECTED_CLOSURE[scope]
    # Every scope added is reported once, with a reason that is in the closure.
    assert {c.scope for c in changes} == EXPECTED_PREREQUISITES[scope]
    assert len(changes) == len(EXPECTED_PREREQUISITES[scope])
    for change in changes:
        assert change.because in closed
        assert change.scope in cat.scopes[change.because].requires


def test_closure_reports_why_in_order(cat):
    closed, changes = cat.closure(["models.patch"])
    assert closed == {"models.patch", "models.get", "models.train"}
    assert changes == (Change("models.get", "models.patch"), Change("models.train", "models.patch"))


def test_closure_of_nothing_and_all(cat):
    assert cat.closure([]) == (frozenset(), ())
    assert cat.closure(["all"]) == (frozenset({"all"}), ())
    assert cat.closure(["all", "models.patch"]) == (frozenset({"all"}), ())


def test_closure_adds_nothing_already_held(cat):
    closed, changes = cat.closure(["models.patch", "models.get", "models.train"])
    assert closed == {"models.patch", "models.get", "models.train"}
    assert changes == ()


def test_expand(cat):
    assert cat.expand(["all"]) == frozenset(SCOPE_IDS)
    assert cat.expand(["search"]) == {"search"}


# --- closure properties -------------------------------------------------------------
@settings(deadline=None)
@given(scope_sets)
def test_closure_matches_the_table(scopes):
    closed, changes = builtin().closure(scopes)
    assert closed == oracle_close(scopes)
    assert {c.scope for c in changes} == closed - scopes


@settings(deadline=None)
@given(scope_sets)
def test_closure_is_idempotent(scopes):
    cat = builtin()
    once, _ = cat.closure(scopes)
    twice, changes = cat.closure(once)
    assert twice == once
    assert changes == ()


@settings(deadline=None)
@given(scope_sets, scope_sets)
def test_closure_is_monotone(s, extra):
    cat = builtin()
    t = s | extra
    assert cat.closure(s)[0] <= cat.closure(t)[0]


@settings(deadline=None)
@given(scope_sets)
def test_closure_is_extensive_and_prerequisite_closed(scopes):
    cat = builtin()
    closed, _ = cat.closure(scopes)
    assert scopes <= closed
    for s in closed:
        assert set(cat.scopes[s].requires) <= closed


# --- removal ------------------------------------------------------------------------
@settings(deadline=None)
@given(scope_sets, scope_sets)
def test_removal_leaves_every_prerequisite(granted, removing):
    cat = builtin()
    granted_closed, _ = cat.closure(granted)
    remaining, removed = cat.remove(granted_closed, removing)
    assert remaining <= granted_closed
    assert not (remaining & removing)
    for s in remaining:
        assert EXPECTED_PREREQUISITES[s] <= remaining, s
    # Exactly the scopes that needed none of the removed ones stay.
    assert remaining == {s for s in granted_closed if not (EXPECTED_CLOSURE[s] & removing)}
    # Every dependent removed (not asked for) is reported with a scope it required.
    assert {c.scope for c in removed} == granted_closed - remaining - removing
    for change in removed:
        assert change.because in cat.scopes[change.scope].requires
        assert change.because not in remaining


@settings(deadline=None)
@given(scope_sets)
def test_removal_from_all_expands_first(removing):
    cat = builtin()
    remaining, removed = cat.remove({"all"}, removing)
    assert "all" not in remaining
    assert (remaining, removed) == cat.remove(frozenset(SCOPE_IDS), removing)
    assert remaining == {s for s in SCOPE_IDS if not (EXPECTED_CLOSURE[s] & removing)}


def test_removal_from_all_example(cat):
    remaining, removed = cat.remove({"all"}, {"models.get"})
    assert remaining == set(SCOPE_IDS) - {"models.get", "models.patch", "models.delete", "models.train"}
    assert {c.scope for c in removed} == {"models.patch", "models.delete", "models.train"}


def test_removal_reports_dependents(cat):
    remaining, removed = cat.remove({"models.patch", "models.get", "models.train"}, {"models.get"})
    assert remaining == frozenset()
    assert removed == (Change("models.patch", "models.get"), Change("models.train", "models.get"))


def test_removing_a_scope_not_granted_changes_nothing(cat):
    granted = frozenset({"search", "inputs.get"})
    assert cat.remove(granted, {"models.train"}) == (granted, ())


def test_removing_all_removes_everything(cat):
    assert cat.remove({"all"}, {"all"}) == (frozenset(), ())
    assert cat.remove({"search", "inputs.patch", "inputs.get"}, {"all"})[0] == frozenset()


# --- names --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "typed", ["inputs.patch", "Inputs:Patch", "INPUTS.PATCH", "inputs:patch", "  inputs.patch "]
)
def test_resolve_is_case_insensitive_and_takes_display_form(cat, typed):
    assert cat.resolve(typed) == {"inputs.patch"}


@pytest.mark.parametrize("typed", ["inputs", "inputs.*", "Inputs", "INPUTS.*", "inputs:*"])
def test_resolve_group(cat, typed):
    assert cat.resolve(typed) == {"inputs.add", "inputs.get", "inputs.patch", "inputs.delete"}


@pytest.mark.parametrize("typed", ["all", "ALL", "All"])
def test_resolve_all(cat, typed):
    assert cat.resolve(typed) == {"all"}


def test_resolve_every_scope_by_its_id(cat):
    for scope in SCOPE_IDS:
        assert cat.resolve(scope) == {scope}


def test_unknown_scope_message_and_suggestion(cat):
    with pytest.raises(UnknownScopeError) as info:
        cat.resolve("inputs.pach")
    err = info.value
    assert str(err) == "unknown scope 'inputs.pach'; did you mean 'inputs.patch'?"
    assert err.name == "inputs.pach"
    assert err.suggestion == "inputs.patch"
    assert err.exit_code == 2


def test_unknown_scope_without_suggestion(cat):
    with pytest.raises(UnknownScopeError) as info:
        cat.resolve("zzzzzzzz")
    assert info.value.suggestion is None
    assert str(info.value).startswith("unknown scope 'zzzzzzzz'")
    assert "did you mean" not in str(info.value)


def test_resolve_many_splits_comma_lists(cat):
    got = cat.resolve_many(["predict.call,Search", "concepts"])
    assert got == {"predict.call", "search", "concepts.add", "concepts.get", "concepts.patch"}
    assert cat.resolve_many(["search, models.get"]) == {"search", "models.get"}


def test_resolve_many_all_wins(cat):
    assert cat.resolve_many(["search", "all"]) == {"all"}
    assert cat.resolve_many(["search,ALL"]) == {"all"}


@pytest.mark.parametrize(
    "names",
    [["search,,models.get"], [""], ["search,"], [",search"], ["search", " "], ["Search, ,inputs"]],
)
def test_resolve_many_refuses_empty_items(cat, names):
    with pytest.raises(UnknownScopeError) as info:
        cat.resolve_many(names)
    assert "empty scope name" in str(info.value)
    assert info.value.exit_code == 2


def test_resolve_many_refuses_a_list_with_an_empty_item():
    # 'a' and 'b' are not scopes either, so which problem is reported first is not
    # pinned down; the list is refused whatever.
    with pytest.raises(UnknownScopeError):
        builtin().resolve_many(["a,,b"])


def test_resolve_many_unknown_name(cat):
    with pytest.raises(UnknownScopeError):
        cat.resolve_many(["search,modles.get"])


def test_resolve_operations_of_a_group_in_catalog_order(cat):
    assert cat.resolve_operations(["inputs"]) == (
        "inputs.add",
        "inputs.get",
        "inputs.patch",
        "inputs.delete",
    )
    # Order is the catalog's, whatever the order asked in; no repeats.
    assert cat.resolve_operations(["models.train,search", "predict", "search"]) == (
        "predict.call",
        "predict.feedback",
        "search",
        "models.train",
    )
    assert cat.resolve_operations(["Models:*"]) == EXPECTED_GROUPS["models"]


def test_resolve_operations_none_or_all_gives_every_operation(cat):
    assert cat.resolve_operations([]) == SCOPE_IDS
    assert cat.resolve_operations(["all"]) == SCOPE_IDS
    assert cat.resolve_operations(["search", "all"]) == SCOPE_IDS


def test_resolve_operations_unknown(cat):
    with pytest.raises(UnknownOperationError) as info:
        cat.resolve_operations(["models.trian"])
    assert str(info.value) == "unknown operation 'models.trian'; did you mean 'models.train'?"
    assert info.value.exit_code == 2
    with pytest.raises(UnknownScopeError):
        cat.resolve_operations(["a,,b"])


# --- display ------------------------------------------------------------------------
def test_compact_shows_complete_groups_by_name(cat):
    inputs = set(EXPECTED_GROUPS["inputs"])
    assert cat.compact(inputs | {"search"}) == ("inputs", "search")
    assert cat.compact(inputs - {"inputs.delete"}) == ("inputs.add", "inputs.get", "inputs.patch")
    assert cat.compact(set(SCOPE_IDS)) == ("concepts", "inputs", "models", "predict", "search")
    assert cat.compact({"all"}) == ("all",)
    assert cat.compact(set()) == ()
    assert cat.compact({"models.train", "models.get", "predict.call", "predict.feedback"}) == (
        "models.get",
        "models.train",
        "predict",
    )


def test_sorted_ids(cat):
    assert cat.sorted_ids({"search", "inputs.get"}) == ["inputs.get", "search"]
    assert cat.sorted_ids({"all", "search"}) == ["all"]


# --- the loader's validation --------------------------------------------------------
def load(name: str):
    path = CATALOGS / name
    return parse_catalog(path.read_text(encoding="utf-8"), source=path.name)


def load_error(name: str) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        load(name)
    err = info.value
    assert err.exit_code == 2
    assert str(err).startswith(f"{name}: "), str(err)
    return err


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("bad_duplicate_scope.toml", "scope 'reports.read': duplicate id 'reports.read'"),
        (
            "bad_unknown_prerequisite.toml",
            "scope 'reports.write': requires 'reports.raed', which names no scope",
        ),
        (
            "bad_unknown_group_member.toml",
            "group 'reports': member 'reports.delete' names no scope",
        ),
        (
            "bad_cycle.toml",
            "prerequisite cycle: reports.read -> reports.write -> reports.admin -> reports.read",
        ),
        (
            "bad_operation_no_scope.toml",
            "operation 'reports.export': names no scope: give 'requires' or use a scope's id",
        ),
        (
            "bad_operation_unknown_requires.toml",
            "operation 'reports.export': requires 'reports.exprot', which names no scope",
        ),
        ("bad_unknown_top_field.toml", "unknown field 'colour' at the top level"),
        ("bad_unknown_scope_field.toml", "scope 'reports.write': unknown field 'require'"),
        ("bad_requires_itself.toml", "scope 'reports.write': requires itself"),
    ],
)
def test_each_validation_error_names_its_entry(filename, expected):
    err = load_error(filename)
    assert err.problems == (expected,)
    assert str(err) == f"{filename}: {expected}"


def test_cycle_message_holds_the_cycle_path():
    err = load_error("bad_cycle.toml")
    assert "reports.read -> reports.write -> reports.admin -> reports.read" in str(err)
    # The scope outside the cycle is not in it.
    assert "billing" not in str(err)


def test_invalid_toml():
    err = load_error("bad_toml.toml")
    assert "not valid TOML" in str(err)
    assert len(err.problems) == 1


def test_validate_reports_every_problem():
    err = load_error("bad_three_problems.toml")
    assert len(err.problems) == 3
    assert set(err.problems) == {
        "unknown field 'flavour' at the top level",
        "scope 'reports.write': requires 'reports.raed', which names no scope",
        "group 'reports': member 'reports.archive' names no scope",
    }
    assert str(err).endswith("(and 2 more problem(s))")


def test_validate_directly_lists_every_problem():
    import tomllib

    data = tomllib.loads((CATALOGS / "bad_three_problems.toml").read_text(encoding="utf-8"))
    assert len(validate(data)) == 3


@pytest.mark.parametrize("path", sorted(CATALOGS.glob("bad_*.toml")), ids=lambda p: p.name)
def test_every_bad_catalog_is_refused(path):
    with pytest.raises(CatalogError) as info:
        parse_catalog(path.read_text(encoding="utf-8"), source=path.name)
    assert info.value.exit_code == 2
    assert info.value.problems


MINIMAL = """
name = "reports"

[groups]
reports = ["reports.read", "reports.write"]

[[scopes]]
id = "reports.read"

[[scopes]]
id = "reports.write"
requires = ["reports.read"]
billable = true

[[operations]]
id = "reports.export"
requires = ["reports.write"]
billable = true
"""


def test_a_valid_small_catalog_loads():
    cat = parse_catalog(MINIMAL, source="mini")
    assert tuple(cat.scopes) == ("reports.read", "reports.write")
    assert tuple(cat.operations) == ("reports.read", "reports.write", "reports.export")
    # An operation's requirements are closed under prerequisites.
    assert cat.operations["reports.export"].requires == {"reports.read", "reports.write"}
    assert cat.operations["reports.export"].billable is True
    assert cat.operations["reports.write"].billable is True
    assert cat.operations["reports.read"].billable is None  # the catalog does not say
    assert cat.resolve("reports.*") == {"reports.read", "reports.write"}


# The built-in catalog lists every prerequisite directly (models.patch names both
# models.get and models.train), so transitivity is shown on a chain of its own.
CHAIN = """
name = "chain"

[[scopes]]
id = "reports.read"

[[scopes]]
id = "reports.write"
requires = ["reports.read"]

[[scopes]]
id = "reports.admin"
requires = ["reports.write"]

[[scopes]]
id = "audit"

[[operations]]
id = "reports.purge"
requires = ["reports.admin"]
"""


@pytest.fixture(scope="module")
def chain():
    return parse_catalog(CHAIN, source="chain")


def test_closure_is_transitive(chain):
    closed, changes = chain.closure(["reports.admin"])
    assert closed == {"reports.admin", "reports.write", "reports.read"}
    assert changes == (Change("reports.write", "reports.admin"), Change("reports.read", "reports.write"))
    assert chain.operations["reports.purge"].requires == {"reports.admin", "reports.write", "reports.read"}


def test_removal_is_transitive(chain):
    granted = frozenset({"reports.admin", "reports.write", "reports.read", "audit"})
    remaining, removed = chain.remove(granted, {"reports.read"})
    assert remaining == {"audit"}
    assert removed == (Change("reports.write", "reports.read"), Change("reports.admin", "reports.write"))
    remaining, removed = chain.remove({"all"}, {"reports.write"})
    assert remaining == {"reports.read", "audit"}
    assert removed == (Change("reports.admin", "reports.write"),)


def test_decide_uses_transitive_requirements(chain):
    from keyctl.decide import Outcome, decide

    v = decide(chain, frozenset({"reports.admin"}), "reports.purge", key="ops")
    assert v.outcome is Outcome.REJECTED
    assert v.missing_scopes == ("reports.read", "reports.write")
    # reports.write brings reports.read with it: naming it is enough.
    assert v.reason.endswith("`keyctl scope add ops reports.write`")
    assert decide(chain, chain.closure({"reports.admin"})[0], "reports.purge").outcome is Outcome.ALLOWED
