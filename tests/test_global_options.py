"""--db and --catalog work before or after the command's name, for every command (as
gh, kubectl and Stripe's CLI take global flags after a subcommand); a value given
twice, differently, is a usage error; the environment is only a fallback."""

from __future__ import annotations

import pytest

from conftest import command_tree, create_key, rows

# One plain call of every command that takes a store, and the store it must have used.
CALLS = {
    "keyctl create": ["create", "-n", "new", "-s", "search"],
    "keyctl list": ["list", "--json"],
    "keyctl show": ["show", "ci"],
    "keyctl scope add": ["scope", "add", "ci", "search"],
    "keyctl scope remove": ["scope", "remove", "ci", "predict.feedback"],
    "keyctl scope set": ["scope", "set", "ci", "predict.call"],
    "keyctl update": ["update", "ci", "--description", "moved"],
    "keyctl disable": ["disable", "ci"],
    "keyctl enable": ["enable", "ci"],
    "keyctl rotate": ["rotate", "ci"],
    "keyctl secret": ["secret", "ci"],
    "keyctl delete": ["delete", "ci", "--yes"],
    "keyctl log": ["log", "ci"],
    "keyctl apply": ["apply", "-"],
    "keyctl export": ["export"],
    "keyctl check": ["check", "ci", "predict.call"],
    "keyctl scopes": ["scopes"],
    "keyctl status": ["status"],
    "keyctl catalog list": ["catalog", "list"],
    "keyctl catalog validate": ["catalog", "validate", "clarifai"],
    "keyctl catalog upgrade": ["catalog", "upgrade", "clarifai"],
}
# Commands that use no store of --db's: copy names both of its stores, roles-sql prints SQL.
NO_STORE = {"keyctl copy", "keyctl roles-sql"}
MANIFEST = '[keys.ci]\nscopes = ["predict"]\n[keys.made]\nscopes = ["search"]\n'


def test_every_command_is_in_the_table():
    commands = {" ".join(path) for path, cmd, _ in command_tree() if not hasattr(cmd, "list_commands")}
    assert commands == set(CALLS) | NO_STORE


@pytest.fixture
def two_stores(run, tmp_path, db_path):
    """The default store (KEYCTL_DB) and another, each with a key named ci."""
    other = tmp_path / "other.db"
    create_key(run, "predict", name="ci")
    create_key(run, "predict", name="ci", extra=("--db", str(other)))
    return {"default": db_path, "other": other}


def _audit(db):
    return rows(db, "SELECT action FROM audit ORDER BY id")


@pytest.mark.parametrize("path", sorted(CALLS))
def test_db_after_the_command_name_is_the_store_used(run, two_stores, path):
    before = _audit(two_stores["default"]), _audit(two_stores["other"])
    r = run(*CALLS[path], "--db", str(two_stores["other"]), input=MANIFEST)
    if path == "keyctl secret":  # no keyring in the tests: refused for that reason, not for --db
        assert r.code == 1 and "nothing is stored in the keyring for ci" in r.stderr, r
    else:
        assert r.code in (0, 3, 4), r
    assert _audit(two_stores["default"]) == before[0]  # the default store was not touched
    if path in ("keyctl create", "keyctl scope add", "keyctl update", "keyctl rotate", "keyctl apply"):
        assert len(_audit(two_stores["other"])) > len(before[1])


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_same_call_either_way(run, two_stores, where):
    other = str(two_stores["other"])
    args = ["--db", other, "show", "ci", "--json"] if where == "before" else ["show", "ci", "--json", "--db", other]
    r = run(*args)
    assert r.code == 0, r
    assert r.json["id"] == rows(two_stores["other"], "SELECT id FROM keys")[0][0]


def test_catalog_after_the_command_name(run, db_path):
    r = run("create", "-n", "x", "-s", "inputs.patch", "--catalog", "clarifai-live", "--json")
    assert r.code == 0, r
    assert r.json["scopes"] == ["inputs.add", "inputs.get", "inputs.patch"]  # clarifai-live's prerequisites
    assert rows(db_path, "SELECT value FROM meta WHERE key = 'catalog'") == [("clarifai-live",)]
    r = run("list", "--catalog", "clarifai")  # the store keeps its catalog
    assert r.code == 2 and "keeps the catalog 'clarifai-live'" in r.stderr


def test_a_group_takes_them_between_its_name_and_the_command(run, two_stores):
    r = run("scope", "--db", str(two_stores["other"]), "add", "ci", "search", "--json")
    assert r.code == 0, r
    assert rows(two_stores["other"], "SELECT count(*) FROM audit WHERE action = 'scope.add'") == [(1,)]


@pytest.mark.parametrize("args", [
    ["--db", "{a}", "list", "--db", "{b}"],
    ["list", "--db", "{a}", "--db", "{b}"],
    ["--db", "{a}", "--db", "{b}", "list"],
    ["--db", "{a}", "scope", "--db", "{b}", "add", "ci", "search"],
    ["--catalog", "clarifai", "create", "-s", "search", "--catalog", "clarifai-live"],
])
def test_two_different_values_are_a_usage_error(run, tmp_path, db_path, args):
    values = {"a": str(tmp_path / "a.db"), "b": str(tmp_path / "b.db")}
    r = run(*[a.format(**values) for a in args])
    assert r.code == 2, r
    assert "given twice with different values" in r.stderr
    assert r.stderr.startswith("error: invalid value for '--")
    assert not any((tmp_path / n).exists() for n in ("a.db", "b.db", "keyctl.db"))


def test_the_same_value_twice_is_fine(run, two_stores):
    other = str(two_stores["other"])
    assert run("--db", other, "show", "ci", "--db", other).code == 0


def test_an_empty_value_is_a_usage_error(run, db_path):
    r = run("list", "--db", "")
    assert r.code == 2 and "'--db': is empty" in r.stderr


def test_a_typed_value_wins_over_the_environment(run, two_stores, monkeypatch):
    monkeypatch.setenv("KEYCTL_DB", str(two_stores["default"]))
    r = run("create", "-n", "only-there", "-s", "search", "--db", str(two_stores["other"]))
    assert r.code == 0, r
    assert rows(two_stores["other"], "SELECT count(*) FROM keys WHERE name = 'only-there'") == [(1,)]
    assert rows(two_stores["default"], "SELECT count(*) FROM keys WHERE name = 'only-there'") == [(0,)]


def test_in_a_real_process_and_its_help(sh, two_stores):
    r = sh("list", "--json", "--db", str(two_stores["other"]))
    assert r.code == 0 and [k["name"] for k in r.json] == ["ci"]
    text = sh("list", "--help").stdout
    assert "--db PATH" in text and "--catalog NAME|FILE" in text
