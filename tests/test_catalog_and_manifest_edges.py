"""Catalog and manifest edge cases: ids that hide white space, names with white space
inside, documents nested thousands deep, prerequisite chains a thousand long, expiry
times beyond the year 9999 once in UTC, and limits too large for SQLite. Each is a
clean usage error (exit 2) or simply works; none is a crash."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import rows, warnings

from keyctl import KeyStore
from keyctl.catalog import parse_catalog
from keyctl.errors import CatalogError, InvalidWhenError, UsageError
from keyctl.store.base import decode_scopes, encode_scopes


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- ids that hide white space -------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["admin\n", "admin\r\n", "admin ", " admin", "admin\t", "ad min", "ADMIN",
                                 "admin\u00a0", "admin\u2028"])
def test_a_catalog_id_hiding_white_space_is_refused(bad: str, tmp_path: Path, run) -> None:
    text = (f'name = "roles"\n\n[[scopes]]\nid = {json.dumps(bad)}\n\n'
            f'[[scopes]]\nid = "viewer"\nrequires = [{json.dumps(bad)}]\n')
    with pytest.raises(CatalogError):
        parse_catalog(text)
    path = _write(tmp_path, "roles.toml", text)
    assert run("catalog", "validate", path).code == 2
    # ...so no store can be made with it, and no key granted viewer can hold "admin".
    r = run("--catalog", path, "create", "--scope", "viewer")
    assert r.code == 2 and r.stdout == ""
    assert not (tmp_path / "keyctl.db").exists()


def test_scopes_are_stored_as_a_json_array_that_keeps_each_id_whole(db_path: Path) -> None:
    tricky = frozenset({"admin\n", "viewer", "a b"})
    assert decode_scopes(encode_scopes(tricky)) == tricky
    assert decode_scopes(encode_scopes(tricky)) != frozenset({"admin", "viewer", "a", "b"})
    with KeyStore(db_path) as ks:
        ks.create(scopes=["inputs.patch", "search"], name="bob")
    assert rows(db_path, "SELECT scopes FROM keys") == [('["inputs.get","inputs.patch","search"]',)]


# --- white space inside a name ---------------------------------------------------------------------
@pytest.mark.parametrize("args, suggestion", [
    (("create", "--scope", "pre dict"), "predict"),
    (("create", "--scope", "inputs .get"), "inputs.get"),
    (("scope", "add", "bob", "inputs. get"), "inputs.get"),
    (("scope", "set", "bob", "se arch"), "search"),
    (("list", "--scope", "pre dict"), "predict"),
    (("check", "bob", "inputs .get"), "inputs.get"),
    (("check", "bob", "predict .call"), "predict.call"),
])
def test_white_space_inside_a_name_is_an_unknown_name_with_a_suggestion(args, suggestion, run) -> None:
    run("create", "--scope", "predict", "--name", "bob")
    r = run(*args)
    assert r.code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: unknown ") and f"did you mean '{suggestion}'?" in r.stderr


def test_white_space_around_a_name_case_and_the_display_form_are_accepted(run) -> None:
    made = run("create", "--scope", " Inputs:Get ", "--scope", "PREDICT", "--json")
    assert made.code == 0 and made.json["scopes"] == ["inputs.get", "predict.call", "predict.feedback"]
    assert run("check", made.json["id"], " inputs.get ", "Predict:Call").code == 3


# --- nested too deeply ----------------------------------------------------------------------------------
DEEP = 5000
NESTINGS = {
    "arrays": "x = " + "[" * DEEP + "]" * DEEP + "\n",
    "inline tables": "x = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n",
    "dotted keys": "x" + ".a" * DEEP + " = 1\n",
    "table headers": "[x" + ".a" * DEEP + "]\n",
}


@pytest.mark.parametrize("nesting", NESTINGS, ids=list(NESTINGS))
def test_a_catalog_nested_thousands_deep_is_a_clean_usage_error(nesting: str, tmp_path: Path, run) -> None:
    path = _write(tmp_path, "deep.toml", 'name = "deep"\n' + NESTINGS[nesting])
    for args in (("catalog", "validate", path), ("catalog", "validate", path, "--json"),
                 ("--catalog", path, "scopes")):
        r = run(*args)
        assert r.code == 2, (args, r)
        assert r.stderr.count("error: ") == len(r.stderr.splitlines()) and "bug" not in r.stderr
    with pytest.raises(CatalogError):
        parse_catalog(NESTINGS[nesting])


@pytest.mark.parametrize("nesting", NESTINGS, ids=list(NESTINGS))
def test_a_manifest_nested_thousands_deep_is_a_clean_usage_error(nesting: str, tmp_path: Path, run) -> None:
    path = _write(tmp_path, "deep.toml", '[keys.bob]\nscopes = ["predict"]\n' + NESTINGS[nesting])
    r = run("apply", path)
    assert r.code == 2 and r.stdout == "", r
    assert r.stderr.startswith("error: ") and "bug" not in r.stderr


# A value nested a thousand deep where a field's value is expected: the problem quotes the
# value, and quoting must not walk it whole (str() of it recursed without end).
DEEP_FIELDS = {
    "operation auth": ('name = "t"\n[[scopes]]\nid = "a"\n[[operations]]\nid = "a"\n', "operations.auth"),
    "operation redacts": ('name = "t"\n[[scopes]]\nid = "a"\n[[operations]]\nid = "a"\n', "operations.redacts.p"),
    "operation billable": ('name = "t"\n[[scopes]]\nid = "a"\n[[operations]]\nid = "a"\n', "operations.billable"),
    "scope description": ('name = "t"\n[[scopes]]\nid = "a"\n', "scopes.description"),
    "scope requires": ('name = "t"\n[[scopes]]\nid = "a"\n', "scopes.requires"),
    "scope aliases": ('name = "t"\n[[scopes]]\nid = "a"\n', "scopes.aliases"),
    "group": ('name = "t"\n[[scopes]]\nid = "a"\n', "groups.g"),
    "catalog name": ('[[scopes]]\nid = "a"\n', "name"),
}


@pytest.mark.parametrize("field", DEEP_FIELDS, ids=list(DEEP_FIELDS))
def test_a_value_nested_thousands_deep_in_a_catalog_field_is_a_problem_naming_it(field: str, tmp_path: Path,
                                                                                 run) -> None:
    head, table = DEEP_FIELDS[field]
    path = _write(tmp_path, "deep.toml", head + f"[{table}" + ".a" * 1000 + "]\nx = 1\n")
    for args in (("catalog", "validate", path), ("--catalog", path, "create", "-s", "a")):
        r = run(*args)
        assert r.code == 2, (args, r)
        assert r.stderr.startswith("error: ") and "bug" not in r.stderr and len(r.stderr) < 2000, r
    with pytest.raises(CatalogError), KeyStore(tmp_path / "lib.db", catalog=path) as ks:
        ks.create(["a"])


@pytest.mark.parametrize("field", ["scopes", "description", "expires", "enabled"])
def test_a_value_nested_thousands_deep_in_a_manifest_field_is_a_problem_naming_it(field: str, tmp_path: Path,
                                                                                  run) -> None:
    head = '[keys.bob]\n' + ('' if field == "scopes" else 'scopes = ["predict"]\n')
    path = _write(tmp_path, "deep.toml", head + f"[keys.bob.{field}" + ".a" * 1000 + "]\nx = 1\n")
    r = run("apply", path)
    assert r.code == 2 and r.stdout == "", r
    assert r.stderr.startswith("error: ") and "bug" not in r.stderr and "dotted parts" in r.stderr, r


@pytest.mark.parametrize("parts", [15_000, 101])
def test_a_key_of_too_many_dotted_parts_is_refused_before_it_is_parsed(parts: int, tmp_path: Path, run) -> None:
    """tomllib's memory grows with the square of one key's parts (15,000: over a
    gigabyte for a 30 KB file): such a key is refused, naming its line."""
    manifest = _write(tmp_path, "m.toml", '[keys.bob]\nscopes = ["predict"]\n' + "x" + ".a" * parts + " = 1\n")
    r = run("apply", manifest, "--dry-run")
    assert r.code == 2 and r.stderr == f"error: {manifest}: line 3: a key of more than 100 dotted parts (a.b.c...), " \
        "more than anything keyctl reads has\n", r
    catalog = _write(tmp_path, "c.toml", 'name = "t"\n[[scopes]]\nid = "a"\n[x' + ".a" * parts + "]\n")
    r = run("catalog", "validate", catalog)
    assert r.code == 2 and "line 4: a key of more than 100 dotted parts" in r.stderr, r
    fine = _write(tmp_path, "ok.toml", '[keys."' + "a." * 30 + 'b"]\nscopes = ["predict"]\n')  # a dotted name
    assert run("apply", fine, "--dry-run").code == 0


def test_dots_that_are_no_key_s_parts_are_not_counted(tmp_path: Path, run) -> None:
    """A comment, a line of an array, a line of a multi-line string and a quoted part
    of a key may hold any number of dots."""
    dots = "." * 120
    manifest = _write(tmp_path, "m.toml", f'# {dots}\n[keys.ana]\nscopes = ["predict"]\n'
                      f'description = """\nsee {dots} = here\n"""\n')
    r = run("apply", manifest, "--dry-run")
    assert r.code == 2 and "dotted parts" not in r.stderr and "control characters" in r.stderr, r  # the newline
    manifest = _write(tmp_path, "m2.toml", f'# {dots}\n[keys.ana]\nscopes = ["predict"]\n')
    assert run("apply", manifest, "--dry-run").code == 0
    members = ", ".join(f'"s.a{i}"' for i in range(110))
    catalog = _write(tmp_path, "c.toml", 'name = "t"\n[groups]\ns = [\n  ' + members + "\n]\n"
                     + "".join(f'[[scopes]]\nid = "s.a{i}"\n' for i in range(110)))
    assert run("catalog", "validate", catalog).code == 0


def test_an_operation_id_of_the_wrong_type_is_a_problem_not_a_crash(tmp_path: Path, run) -> None:
    for value in ('["x"]', "{t = 1}", "5"):
        path = _write(tmp_path, "c.toml", f'name = "u"\n[[scopes]]\nid = "a"\n[[operations]]\nid = {value}\n'
                      'requires = ["a"]\n')
        r = run("catalog", "validate", path)
        assert r.code == 2 and "'id' must be" in r.stderr and "bug" not in r.stderr, (value, r)


def test_a_value_too_deep_for_str_is_quoted_a_few_levels_deep() -> None:
    """What a problem quotes is never walked whole (str() of a value nested a thousand
    deep recursed without end)."""
    from keyctl.text import printable

    deep: dict = {}
    inner = deep
    for _ in range(5000):
        inner["a"] = {}
        inner = inner["a"]
    assert printable(deep, 60) == "{'a': {'a': {'a': {...}}}}"
    assert printable(["\x1b[2J"] * 50, 60).startswith("['\\x1b[2J', ")


def test_an_empty_group_is_refused(tmp_path: Path, run) -> None:
    """It would stand for no scope: a key granted it would hold nothing."""
    path = _write(tmp_path, "empty.toml", 'name = "t"\n[groups]\ng = []\n[[scopes]]\nid = "a"\n')
    r = run("catalog", "validate", path)
    assert r.code == 2 and "group 'g': a group needs at least one scope" in r.stderr, r
    with pytest.raises(CatalogError, match="a group needs at least one scope"), \
            KeyStore(tmp_path / "lib.db", catalog=path) as ks:
        ks.create(["a"])


def test_catalog_validate_names_the_file_once_and_a_byte_order_mark_is_not_the_catalog(tmp_path: Path, run,
                                                                                       db_path: Path) -> None:
    bad = _write(tmp_path, "bad.toml", 'name = "t"\n[[scopes]\n')
    r = run("catalog", "validate", bad)
    assert r.code == 2 and r.stderr.startswith(f"error: {bad}: not valid TOML") and r.stderr.count(bad) == 1, r
    r = run("catalog", "validate", str(tmp_path / "missing.toml"))
    assert r.code == 2 and r.stderr.count("missing.toml") == 1, r
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b'\xef\xbb\xbfname = "t"\n[[scopes]]\nid = "a"\n')
    assert run("catalog", "validate", str(bom)).code == 0
    created = run("--catalog", str(bom), "create", "-s", "a", "--json")
    assert created.code == 0 and created.json["scopes"] == ["a"], created
    with KeyStore(db_path) as ks:
        assert ks.catalog.text.startswith('name = "t"')  # the store keeps the catalog without the mark


# --- a long prerequisite chain -----------------------------------------------------------------------------
CHAIN = 1200


def _chain(length: int, cycle: bool = False) -> str:
    """s0000 requires s0001, which requires s0002, ... (and the last requires the first)."""
    parts = ['name = "chain"']
    for i in range(length):
        nxt = i + 1 if i < length - 1 else (0 if cycle else None)
        requires = f'\nrequires = ["s{nxt:04d}"]' if nxt is not None else ""
        parts.append(f'[[scopes]]\nid = "s{i:04d}"{requires}')
    return "\n\n".join(parts) + "\n"


def test_prerequisites_whose_closures_would_take_seconds_are_refused(tmp_path: Path, run) -> None:
    """A chain of 1,500 makes closures of 1,125,750 scopes in all, over the limit of
    1,000,000 (README, Limits); operations that require the chain's end count too."""
    r = run("catalog", "validate", _write(tmp_path, "long.toml", _chain(1500)))
    assert r.code == 2 and "prerequisites too deep: the closures of the scopes and operations hold 1,125,750" \
        in r.stderr, r
    ops = "".join(f'[[operations]]\nid = "Op{i}"\nrequires = ["s0000"]\n\n' for i in range(600))
    r = run("catalog", "validate", _write(tmp_path, "ops.toml", _chain(1000) + ops))  # 500,500 + 600 x 1,000
    assert r.code == 2 and "prerequisites too deep: the closures of the scopes and operations hold 1,100,500" \
        in r.stderr, r
    assert run("catalog", "validate", _write(tmp_path, "fine.toml", _chain(1000))).code == 0


def test_a_prerequisite_chain_twelve_hundred_long_loads_closes_and_decides(tmp_path: Path, run) -> None:
    path = _write(tmp_path, "chain.toml", _chain(CHAIN))
    assert run("catalog", "validate", path).code == 0
    made = run("--catalog", path, "create", "--scope", "s0000", "--name", "top", "--json")
    assert made.code == 0 and len(made.json["scopes"]) == CHAIN
    assert len(warnings(made.stderr)) == CHAIN - 1
    assert run("check", "top", "s0000").code == 0
    with KeyStore(tmp_path / "keyctl.db") as ks:
        ks.create(scopes=["s0600"], name="middle")
        verdict = ks.check("middle", "s0000")
        assert verdict.outcome.value == "rejected" and len(verdict.missing_scopes) == 600
        assert verdict.reason.endswith("add it with `keyctl scope add middle s0000`")
        assert set(ks.show("middle").operations.values()) == {"allowed", "rejected"}
    assert run("scope", "remove", "middle", "s1199").code == 1  # it would leave no scope


def test_a_prerequisite_cycle_twelve_hundred_long_is_refused_briefly(tmp_path: Path, run) -> None:
    r = run("catalog", "validate", _write(tmp_path, "cycle.toml", _chain(CHAIN, cycle=True)))
    assert r.code == 2
    (line,) = r.stderr.splitlines()
    assert "prerequisite cycle: s0000 -> s0001" in line and "more" in line and len(line) < 300


# --- beyond the year 9999, and other numbers too large ------------------------------------------------------
BEYOND = "9999-12-31T23:00:00-05:00"  # 10000-01-01T04:00Z


@pytest.mark.parametrize("value", [BEYOND, f'"{BEYOND}"', "0001-01-01T00:00:00+05:00", '"99999999d"'])
def test_a_manifest_expiry_outside_the_years_1_to_9999_is_a_usage_error(value: str, tmp_path: Path,
                                                                         run, db_path: Path) -> None:
    path = _write(tmp_path, "team.toml", f'[keys.bob]\nscopes = ["predict"]\nexpires = {value}\n')
    r = run("apply", path)
    assert r.code == 2 and r.stdout == "", r
    assert r.stderr.startswith("error: ") and "keys.bob.expires" in r.stderr and "bug" not in r.stderr
    assert not db_path.exists()


def test_an_expiry_beyond_9999_in_utc_is_a_usage_error_in_the_library(ks) -> None:
    beyond = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
    ks.create(scopes=["predict"], name="bob")
    for call in (lambda: ks.create(scopes=["predict"], expires=beyond),
                 lambda: ks.create(scopes=["predict"], expires=BEYOND),
                 lambda: ks.update("bob", expires=beyond)):
        with pytest.raises(InvalidWhenError, match="beyond the year 9999") as raised:
            call()
        assert raised.value.exit_code == 2
    assert [k.expires_at for k in ks.list()] == [None]
    latest = ks.create(scopes=["predict"], expires=datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc))
    assert latest.key.expires_at == "9999-12-31T23:59:00Z"


@pytest.mark.parametrize("args", [("create", "--scope", "predict", "--expires", BEYOND),
                                  ("update", "bob", "--expires", BEYOND),
                                  ("log", "--limit", "99999999999999999999"),
                                  ("log", "bob", "--limit", str(2**63))])
def test_numbers_too_large_on_the_command_line_are_usage_errors(args, run) -> None:
    run("create", "--scope", "predict", "--name", "bob")
    r = run(*args)
    assert r.code == 2 and r.stderr.startswith("error: ") and "bug" not in r.stderr, r


def test_a_log_limit_too_large_is_a_usage_error_in_the_library(ks) -> None:
    with pytest.raises(UsageError, match="--limit"):
        list(ks.log(limit=10**20))
    assert list(ks.log(limit=2**63 - 1)) == []


# --- descriptions have a maximum length ---------------------------------------------------------------------
@pytest.mark.parametrize("length, code", [(1024, 0), (1025, 2), (10 * 1024 * 1024, 2)])
def test_a_description_is_at_most_1024_characters_everywhere(length: int, code: int, tmp_path: Path, run,
                                                             db_path: Path) -> None:
    text = "d" * length
    r = run("create", "--scope", "predict", "--name", "bob", "--description", text)
    assert r.code == code and (code == 0 or "at most 1024 characters" in r.stderr)
    if code:
        assert not db_path.exists()
        with pytest.raises(UsageError, match="at most 1024"), KeyStore(db_path) as ks:
            ks.create(scopes=["predict"], description=text)
        manifest = _write(tmp_path, "team.toml", f'[keys.bob]\nscopes = ["predict"]\ndescription = "{text}"\n')
        applied = run("apply", manifest)
        assert applied.code == 2 and "keys.bob.description" in applied.stderr
        assert len(applied.stderr) < 400
    else:
        assert run("update", "bob", "--description", text + "d").code == 2
        with KeyStore(db_path) as ks:
            assert ks.get("bob").description == text
