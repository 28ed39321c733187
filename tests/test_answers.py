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


BOTH_FIXES = ("rejected: bot is disabled and has expired; extend it with `keyctl update bot --expires 30d`, "
              "then enable it with `keyctl enable bot`")


def test_check_of_a_disabled_key_that_has_expired_names_both_fixes_in_the_order_they_work(run, db_path, expired):
    """Not `keyctl enable bot` alone, which is refused for an expired key."""
    from keyctl import KeyStore

    r = run("check", "bot", "predict.call", "--json")
    assert r.code == 4 and r.json["results"][0]["reason"] == BOTH_FIXES, r
    assert BOTH_FIXES in run("check", "bot").stdout
    with KeyStore(db_path) as ks:
        assert ks.check("bot", "predict.call").reason == BOTH_FIXES
        assert ks.check_many("bot", ["predict"]).results[0].reason == BOTH_FIXES
        assert ks.show("bot").operations["predict.call"] == "rejected"
    assert run("list", "--json").json[0]["status"] == "disabled"  # listed as before
    assert run("update", "bot", "--expires", "30d").code == 0
    assert "enable it with `keyctl enable bot`" in run("check", "bot", "predict.call").stdout
    assert run("enable", "bot").code == 0
    assert run("check", "bot", "predict.call").code == 0


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


def test_between_two_names_that_differ_only_by_case_the_suggestion_is_the_same_every_run(run, db_path):
    """Whatever the interpreter's hash seed (the prefixes were a set)."""
    import os
    import subprocess
    import sys

    create_key(run, "search", name="zed")
    create_key(run, "search", name="Zed")
    said = set()
    for seed in range(6):
        p = subprocess.run([sys.executable, "-m", "keyctl", "--db", str(db_path), "show", "ZED"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": str(seed)})
        said.add((p.returncode, p.stderr))
    assert said == {(1, "error: no key with the name 'ZED'; did you mean 'Zed'?\n")}


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


def test_log_of_a_name_is_one_key_s_trail_and_a_deleted_key_s_whole_trail(run, db_path):
    """A name a key has now: that key's entries only, not those of a deleted key that
    had the name before it. A name no key has: every entry of the deleted keys that had
    it, from before a rename too. Through the library as through the command line."""
    gone = create_key(run, "search", name="bob")
    run("delete", "bob", "--yes")
    live = create_key(run, "predict", name="bob")
    entries = run("log", "bob", "--json").json
    assert [(e["action"], e["key_id"]) for e in entries] == [("create", live["id"])]
    from keyctl import KeyStore

    ks = KeyStore(db_path)
    assert [e.key_id for e in ks.log("bob")] == [live["id"]]
    assert {e["key_id"] for e in run("log", gone["id"], "--json").json} == {gone["id"]}
    renamed = create_key(run, "search", name="carol")
    run("update", "carol", "--name", "dave")
    run("delete", "dave", "--yes")
    trail = run("log", "dave", "--json").json
    assert [(e["action"], e["key_name"]) for e in trail] == [("delete", "dave"), ("update", "dave"),
                                                              ("create", "carol")]
    assert {e["key_id"] for e in trail} == {renamed["id"]}
    assert [e.action for e in ks.log("carol")] == ["delete", "update", "create"]  # by its first name too
    ks.close()


def test_log_entries_keep_the_name_a_key_had_then(run):
    made = create_key(run, "search", name="first")
    run("update", "first", "--name", "second")
    run("disable", "second")
    entries = run("log", "second", "--json").json  # by its current name: every entry
    assert [(e["action"], e["key_name"]) for e in entries] == [
        ("disable", "second"), ("update", "second"), ("create", "first")]
    assert all(e["key_id"] == made["id"] for e in entries)
    # the old name, which no key has now: the whole trail of the key that had it
    assert [e["action"] for e in run("log", "first", "--json").json] == ["disable", "update", "create"]
