"""Answers that never mislead: what a command says matches what it did (or did not
do). Each case through the CLI as a user sees it, and through the library, which
decides (rotate's keyring case is in tests/test_keyring.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

import keyctl.when
from conftest import create_key, rows, warnings
from keyctl.errors import KeyctlError, NotFoundError, UsageError


def test_delete_json_says_deleted(run, ks, db_path):
    made = create_key(run, "search", name="gone")
    r = run("delete", "gone", "--yes", "--json")
    assert r.code == 0, r
    assert (r.json["id"], r.json["name"], r.json["status"]) == (made["id"], "gone", "deleted")
    assert rows(db_path, "SELECT id FROM keys") == []
    ks.create(["search"], name="lib")
    assert ks.delete("lib").status == "deleted"


@pytest.fixture
def expired(run, monkeypatch, db_path):
    """bot, disabled, whose expiry has passed."""
    create_key(run, "predict", name="bot", extra=("--expires", "1h"))
    assert run("disable", "bot").code == 0
    later = keyctl.when.utcnow() + timedelta(hours=2)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    return rows(db_path, "SELECT * FROM keys")


def test_enable_of_an_expired_key_exits_1_with_the_fix(run, db_path, expired):
    r = run("enable", "bot")
    assert r.code == 1, r
    assert r.stderr.startswith("error: bot expired at ")
    assert "extend it first with `keyctl update bot --expires 30d`" in r.stderr
    assert rows(db_path, "SELECT * FROM keys") == expired  # still disabled: nothing changed
    assert run("update", "bot", "--expires", "30d").code == 0  # the fix works
    assert run("enable", "bot", "--json").json["status"] == "active"


def test_enable_of_an_expired_key_in_the_library(tmp_path, monkeypatch):
    from keyctl import KeyStore

    with KeyStore(tmp_path / "lib.db") as ks:
        ks.create(["predict"], name="bot", expires="1h")
        later = keyctl.when.utcnow() + timedelta(hours=2)
        monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
        with pytest.raises(KeyctlError) as info:
            ks.enable("bot")
        assert info.value.exit_code == 1 and "keyctl update bot --expires 30d" in info.value.message


def test_scope_remove_of_a_scope_not_held_warns_and_changes_nothing(run, ks):
    create_key(run, "predict", "search", name="ci-bot")
    r = run("scope", "remove", "ci-bot", "models.train", "search", "--json")
    assert r.code == 0, r
    assert warnings(r.stderr) == ["warning: ci-bot does not hold models.train; nothing to remove"]
    assert r.json["scopes"] == ["predict.call", "predict.feedback"]  # what it did hold went
    ks.create(["predict"], name="lib")
    change = ks.scope_remove("lib", ["models.train"])
    assert change.not_held == ("models.train",) and change.key.scopes == ("predict.call", "predict.feedback")


def test_update_with_nothing_to_change_is_a_usage_error(run, ks, db_path):
    create_key(run, "search", name="ana")
    before = rows(db_path, "SELECT * FROM keys"), rows(db_path, "SELECT count(*) FROM audit")
    r = run("update", "ana")
    assert r.code == 2, r
    assert r.stderr == "error: nothing to change: give --name, --description or --expires\n"
    assert (rows(db_path, "SELECT * FROM keys"), rows(db_path, "SELECT count(*) FROM audit")) == before
    ks.create(["search"], name="lib")
    with pytest.raises(UsageError):
        ks.update("lib")


@pytest.mark.parametrize("args", [["show", "{typo}"], ["check", "{typo}", "search"], ["delete", "{typo}", "--yes"],
                                  ["log", "{typo}"], ["scope", "add", "{typo}", "search"], ["rotate", "{typo}"]])
@pytest.mark.parametrize("names, typo, meant", [
    (["ana", "bo"], "anna", "ana"),
    (["ANA", "ama"], "ana", "ANA"),  # the same but for case wins over a near one
    (["ci-bot", "ci-box"], "CI-BOT", "ci-bot"),
])
def test_a_mistyped_name_gets_did_you_mean(run, args, names, typo, meant):
    for name in names:
        create_key(run, "search", name=name)
    r = run(*[a.format(typo=typo) for a in args])
    assert r.code == 1, r
    assert r.stderr == f"error: no key with the name '{typo}'; did you mean '{meant}'?\n"


def test_no_suggestion_when_nothing_is_near(run, ks):
    create_key(run, "search", name="ana")
    assert run("show", "zed").stderr == "error: no key with the name 'zed'; see `keyctl list`\n"
    ks.create(["search"], name="ana")
    with pytest.raises(NotFoundError, match="did you mean 'ana'"):
        ks.get("Ana")


def test_log_finds_a_deleted_key_by_the_name_it_had(run, sh):
    old = create_key(run, "search", name="old-bot")
    run("scope", "add", "old-bot", "predict")
    run("delete", "old-bot", "--yes")
    r = run("log", "old-bot", "--json")
    assert r.code == 0, r
    assert [e["action"] for e in r.json] == ["delete", "scope.add", "create"]
    assert {(e["key_id"], e["key_name"]) for e in r.json} == {(old["id"], "old-bot")}
    table = sh("log", "old-bot").stdout.splitlines()  # NAME column: the name, not a bare id
    assert [line.split("\t")[3] for line in table[1:]] == ["old-bot"] * 3
    assert run("log", "never-was").code == 1


def test_log_entries_keep_the_name_a_key_had_then(run):
    made = create_key(run, "search", name="first")
    run("update", "first", "--name", "second")
    run("disable", "second")
    entries = run("log", "second", "--json").json  # by its current name: every entry
    assert [(e["action"], e["key_name"]) for e in entries] == [
        ("disable", "second"), ("update", "second"), ("create", "first")]
    assert all(e["key_id"] == made["id"] for e in entries)
    assert [e["action"] for e in run("log", "first", "--json").json] == ["create"]  # the old name: its own entries
