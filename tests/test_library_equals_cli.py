"""The library decides, the CLI translates: one table per kind of call, run through
KeyStore and through the command line, must give the same answer (outcome and exit
status, resulting scopes, the same refusals). ``KeyStore.check`` takes exactly one
operation; groups, ``all`` and lists are refused there (exit 2) and answered by
``check_many``, as ``keyctl check`` answers them. Wrong argument types raise TypeError
and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import store_content

from keyctl import KeyStore
from keyctl.errors import KeyctlError, UsageError

EXIT = {"allowed": 0, "redacted": 3, "rejected": 4}

# operations as typed -> check's exit status (2: a usage error)
CHECKS: dict[str, tuple[tuple[str, ...], int]] = {
    "one operation, allowed": (("predict.call",), 0),
    "one operation, redacted": (("inputs.get",), 3),
    "one operation, rejected": (("inputs.patch",), 4),
    "display form": (("Inputs:Get",), 3),
    "any case": (("PREDICT.CALL",), 0),
    "a group": (("predict",), 4),
    "a group as a wildcard": (("inputs.*",), 4),
    "all": (("all",), 4),
    "a comma list": (("predict.call,inputs.get",), 3),
    "two operations": (("predict.call", "inputs.get"), 3),
    "white space inside": (("pre dict",), 2),
    "white space before a dot": (("inputs .get",), 2),
    "an empty name": (("",), 2),
    "an empty item in a list": (("predict.call,,inputs.get",), 2),
    "a misspelt operation": (("predict.cal",), 2),
    "an escape sequence": (("predict\x1b[2J",), 2),
}


@pytest.fixture
def bob(db_path: Path) -> str:
    with KeyStore(db_path) as ks:
        return ks.create(scopes=["predict.call", "inputs.get"], name="bob").secret


def _library_check_many(db: Path, key: str, ops: tuple[str, ...]) -> int:
    with KeyStore(db) as ks:
        try:
            return EXIT[ks.check_many(key, ops).outcome.value]
        except KeyctlError as exc:
            return exc.exit_code


@pytest.mark.parametrize("case", CHECKS, ids=list(CHECKS))
def test_check_answers_the_same_through_the_cli_and_the_library(case: str, bob: str, db_path: Path, run) -> None:
    ops, code = CHECKS[case]
    for key in ("bob", bob):
        assert run("check", key, *ops).code == code
        assert _library_check_many(db_path, key, ops) == code
        with KeyStore(db_path) as ks:
            if case.startswith(("one operation", "display form", "any case")):
                assert EXIT[ks.check(key, ops[0]).outcome.value] == code  # as check_many answers
            else:  # anything but one operation id is refused, never answered for its first
                with pytest.raises(UsageError) as refused:
                    ks.check(key, ",".join(ops))
                assert refused.value.exit_code == 2


def test_a_key_holding_only_predict_call_is_never_allowed_all(db_path: Path, run) -> None:
    with KeyStore(db_path) as ks:
        secret = ks.create(scopes=["predict.call"], name="narrow").secret
        for op in ("all", "predict", "predict.call,inputs.get", "predict.*"):
            with pytest.raises(UsageError, match="check_many"):
                ks.check(secret, op)
            assert ks.check_many(secret, [op]).outcome.value == "rejected"
            assert run("check", secret, op).code == 4


# --- scope changes --------------------------------------------------------------------------
# (action, scopes) on a key holding predict.call, inputs.get and inputs.patch
SCOPE_CHANGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "add, with a prerequisite": ("add", ("concepts.patch",)),
    "add a group": ("add", ("models",)),
    "add in display form": ("add", ("Search",)),
    "add all": ("add", ("all",)),
    "add a comma list": ("add", ("search,models.get",)),
    "add with white space inside": ("add", ("pre dict",)),
    "add with white space before a dot": ("add", ("inputs .get",)),
    "add an empty item": ("add", ("search,,",)),
    "add an unknown scope": ("add", ("serch",)),
    "remove, with dependents": ("remove", ("inputs.get",)),
    "remove what it does not hold": ("remove", ("search",)),
    "remove everything": ("remove", ("all",)),
    "set": ("set", ("search", "inputs.patch")),
    "set with white space inside": ("set", ("sea rch",)),
}


def _cli_scope(run, action: str, scopes: tuple[str, ...]) -> tuple[int, list[str] | None]:
    r = run("scope", action, "k", *scopes, "--json")
    return r.code, (r.json["scopes"] if r.code == 0 else None)


def _library_scope(db: Path, action: str, scopes: tuple[str, ...]) -> tuple[int, list[str] | None]:
    with KeyStore(db) as ks:
        try:
            result = getattr(ks, f"scope_{action}")("k", list(scopes))
        except KeyctlError as exc:
            return exc.exit_code, None
        return 0, list(result.key.scopes)


@pytest.mark.parametrize("case", SCOPE_CHANGES, ids=list(SCOPE_CHANGES))
def test_scope_changes_are_the_same_through_the_cli_and_the_library(case: str, tmp_path: Path, run,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    action, scopes = SCOPE_CHANGES[case]
    answers = []
    for where in ("cli", "library"):
        db = tmp_path / f"{where}.db"
        with KeyStore(db) as ks:
            ks.create(scopes=["predict.call", "inputs.patch"], name="k")
        before = store_content(db)
        if where == "cli":
            monkeypatch.setenv("KEYCTL_DB", str(db))
            answers.append(_cli_scope(run, action, scopes))
        else:
            answers.append(_library_scope(db, action, scopes))
        if answers[-1][0] != 0:
            assert store_content(db) == before  # a refusal changes nothing
    assert answers[0] == answers[1]


# --- list filters ------------------------------------------------------------------------------
LIST_FILTERS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "no filter": (None, ()),
    "active": ("active", ()),
    "disabled": ("disabled", ()),
    "expired": ("expired", ()),
    "a status that is not one": ("bogus", ()),
    "a status in capitals": ("ACTIVE", ()),
    "a status holding an escape": ("\x1b[2J", ()),
    "an empty status": ("", ()),
    "a scope": (None, ("inputs.get",)),
    "a group": (None, ("predict",)),
    "a scope and a status": ("disabled", ("search",)),
    "a scope with white space inside": (None, ("inputs .get",)),
    "an unknown scope": (None, ("serch",)),
}


@pytest.mark.parametrize("case", LIST_FILTERS, ids=list(LIST_FILTERS))
def test_list_filters_are_the_same_through_the_cli_and_the_library(case: str, db_path: Path, run) -> None:
    with KeyStore(db_path) as ks:
        ks.create(scopes=["predict", "inputs.get"], name="reader")
        ks.create(scopes=["search"], name="off")
        ks.disable("off")
        ks.create(scopes=["all"], name="root")
    status, scopes = LIST_FILTERS[case]
    args = ["list", "--json"] + (["--status", status] if status is not None else [])
    for s in scopes:
        args += ["--scope", s]
    r = run(*args)
    with KeyStore(db_path) as ks:
        try:
            names = [k.name for k in ks.list(status=status, scope=scopes or None)]
            code = 0
        except KeyctlError as exc:
            names, code = None, exc.exit_code
    assert r.code == code
    if code == 0:
        assert [k["name"] for k in r.json] == names
    else:
        assert code == 2 and r.stdout == "" and "\x1b" not in r.stderr


# --- wrong types -----------------------------------------------------------------------------------
WRONG_TYPES = {
    "check(None, op)": lambda ks, s: ks.check(None, "search"),
    "check(123, op)": lambda ks, s: ks.check(123, "search"),
    "check(secret, None)": lambda ks, s: ks.check(s, None),
    "check(secret, ['search'])": lambda ks, s: ks.check(s, ["search"]),
    "check_many(None)": lambda ks, s: ks.check_many(None, ["search"]),
    "check_many(secret, [5])": lambda ks, s: ks.check_many(s, [5]),
    "create(expires=5)": lambda ks, s: ks.create(scopes=["search"], expires=5),
    "create(scopes=[5])": lambda ks, s: ks.create(scopes=[5]),
    "create(name=5)": lambda ks, s: ks.create(scopes=["search"], name=5),
    "create(description=b'x')": lambda ks, s: ks.create(scopes=["search"], description=b"x"),
    "create(in_keyring='no')": lambda ks, s: ks.create(scopes=["search"], in_keyring="no"),
    "update(expires=5)": lambda ks, s: ks.update("bob", expires=5),
    "update(name=5)": lambda ks, s: ks.update("bob", name=5),
    "scope_add(None)": lambda ks, s: ks.scope_add("bob", None),
    "scope_add([b'search'])": lambda ks, s: ks.scope_add("bob", [b"search"]),
    "rotate(None)": lambda ks, s: ks.rotate(None),
    "rotate(in_keyring=1)": lambda ks, s: ks.rotate("bob", in_keyring=1),
    "delete(b'bob')": lambda ks, s: ks.delete(b"bob"),
    "disable(5)": lambda ks, s: ks.disable(5),
    "get(None)": lambda ks, s: ks.get(None),
    "show(5)": lambda ks, s: ks.show(5),
    "secret(None)": lambda ks, s: ks.secret(None),
    "list(status=5)": lambda ks, s: list(ks.list(status=5)),
    "log(limit='5')": lambda ks, s: list(ks.log(limit="5")),
    "log(5)": lambda ks, s: list(ks.log(5)),
    "names_by_prefix(5)": lambda ks, s: ks.names_by_prefix(5),
    "read_manifest(b'')": lambda ks, s: ks.read_manifest(b""),
    "read_manifest(text, source={})": lambda ks, s: ks.read_manifest("[keys]", source={"evil": [1, 2]}),
    "apply(manifest, source=12345)": lambda ks, s: ks.apply(ks.read_manifest('[keys.x]\nscopes = ["search"]\n'),
                                                             source=12345),
    "plan('[keys]')": lambda ks, s: ks.plan("[keys]"),
    "apply(None)": lambda ks, s: ks.apply(None),
    "apply(manifest, prune='yes')": lambda ks, s: ks.apply(ks.read_manifest("[keys]"), prune="yes"),
    "catalog_upgrade(5)": lambda ks, s: ks.catalog_upgrade(5),
    "catalog_upgrade(yes='no')": lambda ks, s: ks.catalog_upgrade("clarifai-live", yes="no"),
    "KeyStore(5)": lambda ks, s: KeyStore(5),
    "KeyStore(on_warning=5)": lambda ks, s: KeyStore(ks.path, on_warning=5),
}


@pytest.mark.parametrize("case", WRONG_TYPES, ids=list(WRONG_TYPES))
def test_a_wrong_type_is_a_type_error_and_changes_nothing(case: str, db_path: Path) -> None:
    ks = KeyStore(db_path)
    secret = ks.create(scopes=["predict"], name="bob").secret
    before = store_content(db_path)
    with pytest.raises(TypeError) as raised:
        WRONG_TYPES[case](ks, secret)
    assert type(raised.value) is TypeError and "object has no attribute" not in str(raised.value)
    ks.close()
    assert store_content(db_path) == before


# --- what the command line refuses, the library refuses -----------------------------------------
def test_an_empty_scope_filter_is_refused_by_both(run, db_path: Path) -> None:
    run("create", "-n", "bob", "-s", "predict")
    r = run("list", "--scope", "")
    assert r.code == 2 and "empty scope name" in r.stderr, r
    with KeyStore(db_path) as ks:
        for scope in ("", " ", [""]):
            with pytest.raises(UsageError, match="empty scope name"):
                list(ks.list(scope=scope))
        assert [k.name for k in ks.list(scope=[])] == ["bob"]  # no filter, as no --scope


def test_a_name_is_changed_never_taken_away_by_both(run, db_path: Path) -> None:
    run("create", "-n", "bob", "-s", "predict")
    r = run("update", "bob", "--name", "")
    assert r.code == 2, r
    before = store_content(db_path)
    with KeyStore(db_path) as ks:
        with pytest.raises(UsageError, match="a key's name can be changed, not removed"):
            ks.update("bob", name=None)
    assert store_content(db_path) == before


def test_a_completion_limit_out_of_range_is_a_usage_error(db_path: Path) -> None:
    with KeyStore(db_path) as ks:
        for limit in (0, 2 ** 70):
            with pytest.raises(UsageError, match="limit must be between 1 and"):
                ks.names_by_prefix("b", limit)


def test_the_manifest_limit_is_in_bytes_for_both(tmp_path: Path, run, db_path: Path) -> None:
    """16 MiB of UTF-8, however few characters: é is two bytes."""
    from keyctl.errors import ManifestError
    from keyctl.manifest import MAX_MANIFEST_BYTES

    text = '[keys.bob]\nscopes = ["predict"]\ndescription = "' + "é" * (MAX_MANIFEST_BYTES // 2) + '"\n'
    assert len(text) < MAX_MANIFEST_BYTES < len(text.encode())
    path = tmp_path / "big.toml"
    path.write_text(text, encoding="utf-8")
    r = run("apply", str(path))
    assert r.code == 2 and "larger than 16 MiB" in r.stderr, r
    with KeyStore(db_path) as ks, pytest.raises(ManifestError, match="larger than 16 MiB"):
        ks.read_manifest(text, "big.toml")


def test_an_empty_key_is_a_usage_error_everywhere(run, db_path: Path) -> None:
    run("create", "-n", "bob", "-s", "predict")
    for args in (("secret", ""), ("show", ""), ("check", "", "predict.call"), ("log", ""), ("disable", "")):
        r = run(*args)
        assert r.code == 2 and "KEY is empty" in r.stderr, (args, r)
    with KeyStore(db_path) as ks:
        for call in (lambda: ks.get(""), lambda: ks.check("", "predict.call"), lambda: ks.check_many("", []),
                     lambda: list(ks.log("")), lambda: ks.secret(""), lambda: ks.delete(""),
                     lambda: ks.scope_add("", ["search"]), lambda: ks.update("", description="x")):
            with pytest.raises(UsageError, match="KEY is empty"):
                call()
