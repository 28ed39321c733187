"""The key lifecycle on the command line: create, list, show, scope add|remove|set,
update, disable, enable, rotate, delete, log. Each test asserts what a user sees (stdout,
stderr, exit code) and what the store holds afterwards."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import create_key as create
from conftest import answering, pretend_terminal, rows, warnings

KEY_FIELDS = {"id", "name", "description", "scopes", "status", "created_at", "expires_at", "hint", "in_keyring"}
# "stored_in" (the keyring backend, or null) belongs to the keyring's contract (issue 5):
# always present so that the shape does not depend on --keyring.
CREATED_FIELDS = KEY_FIELDS | {"secret", "added_prerequisites", "stored_in"}
SCOPE_CHANGE_FIELDS = KEY_FIELDS | {"added_prerequisites", "removed_dependents"}




def stored_scopes(db_path: Path, key_id: str) -> list[str]:
    """The key's scopes as the store holds them: a JSON array of sorted ids."""
    return json.loads(rows(db_path, "SELECT scopes FROM keys WHERE id = ?", key_id)[0][0])


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))




# --- create ---------------------------------------------------------------------------
def test_create_prints_the_secret_id_and_scopes(run, db_path):
    r = run("create", "--name", "ci-bot", "--scope", "predict")
    assert r.code == 0, r
    lines = dict(line.split(":", 1) for line in r.stdout.splitlines())
    secret = lines["secret"].strip()
    assert secret.startswith("kc_") and len(secret) == 39
    key_id = lines["key"].split()[0]
    assert key_id.startswith("key_") and "(ci-bot)" in lines["key"]
    assert lines["scopes"].strip() == "predict.call, predict.feedback"
    assert rows(db_path, "SELECT id, name, scopes FROM keys") == [
        (key_id, "ci-bot", '["predict.call","predict.feedback"]')
    ]


def test_create_json_has_exactly_the_documented_fields(run):
    data = create(run, "search", name="finder")
    assert set(data) == CREATED_FIELDS
    assert data["name"] == "finder"
    assert data["description"] is None
    assert data["scopes"] == ["search"]
    assert data["status"] == "active"
    assert data["expires_at"] is None
    assert data["hint"] == data["secret"][-4:]
    assert data["in_keyring"] is False
    assert data["added_prerequisites"] == []
    assert data["stored_in"] is None
    assert data["created_at"].endswith("Z")
    assert abs(parse(data["created_at"]) - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_create_json_parses_while_prerequisite_warnings_are_printed(run):
    r = run("create", "--name", "patcher", "--scope", "inputs.patch", "--scope", "models.patch", "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)  # stdout is pure JSON: the warnings went to stderr
    assert "warning" not in r.stdout
    assert warnings(r.stderr) == [
        "warning: inputs.patch requires inputs.get; added inputs.get",
        "warning: models.patch requires models.get; added models.get",
        "warning: models.patch requires models.train; added models.train",
    ]
    assert set(data) == CREATED_FIELDS
    assert data["scopes"] == ["inputs.get", "inputs.patch", "models.get", "models.patch", "models.train"]
    assert sorted(data["added_prerequisites"]) == ["inputs.get", "models.get", "models.train"]


def test_create_json_through_a_real_process_with_warnings(sh):
    r = sh("create", "-s", "inputs.patch", "--json")
    assert r.code == 0, r
    assert json.loads(r.stdout)["added_prerequisites"] == ["inputs.get"]
    assert "warning: inputs.patch requires inputs.get; added inputs.get" in r.stderr.splitlines()


def test_create_scope_repeats_comma_lists_groups_and_display_form(run, db_path):
    data = create(run, "predict.call,Search", "concepts", "Inputs:Get")
    assert data["scopes"] == [
        "concepts.add", "concepts.get", "concepts.patch", "inputs.get", "predict.call", "search",
    ]
    assert stored_scopes(db_path, data["id"]) == ["concepts.add", "concepts.get", "concepts.patch", "inputs.get", "predict.call", "search"]


def test_create_with_all(run, db_path):
    data = create(run, "all", "inputs.get")
    assert data["scopes"] == ["all"]
    assert data["added_prerequisites"] == []
    assert stored_scopes(db_path, data["id"]) == ["all"]


def test_create_needs_a_scope(run, db_path):
    r = run("create", "--name", "nothing")
    assert r.code == 2
    assert "--scope" in r.stderr
    assert not db_path.exists()


@pytest.mark.parametrize("scope", ["inputs.pach", "inputs,,get", "nope"])
def test_create_with_an_unknown_scope_is_a_usage_error(run, db_path, scope):
    r = run("create", "--scope", scope)
    assert r.code == 2
    assert r.stderr.startswith("error: ")
    assert r.stdout == ""
    assert not db_path.exists()


def test_unknown_scope_says_did_you_mean(run):
    r = run("create", "--scope", "inputs.pach")
    assert r.stderr == "error: unknown scope 'inputs.pach'; did you mean 'inputs.patch'?\n"


@pytest.mark.parametrize("name", ["a", "A.b_c-d@e9", "x" * 64, "keyring", "kcx"])
def test_valid_names(run, name):
    assert create(run, "search", name=name)["name"] == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 65, "has space", "semi;colon", "slash/", "key_abc", "kc_abc", "tab\t"],
)
def test_invalid_names_are_usage_errors_and_write_nothing(run, db_path, name):
    r = run("create", "--scope", "search", "--name", name)
    assert r.code == 2, r
    assert r.stderr.startswith("error: invalid name")
    assert len(r.stderr.splitlines()) == 1
    assert not db_path.exists()


def test_a_taken_name_is_a_runtime_error(run, db_path):
    first = create(run, "search", name="dup")
    r = run("create", "--scope", "predict", "--name", "dup")
    assert r.code == 1
    assert r.stderr.startswith("error: ") and "taken" in r.stderr
    assert rows(db_path, "SELECT id, scopes FROM keys") == [(first["id"], '["search"]')]
    assert [a for (a,) in rows(db_path, "SELECT action FROM audit")] == ["create"]


@pytest.mark.parametrize(
    "when, delta",
    [("90m", timedelta(minutes=90)), ("12h", timedelta(hours=12)), ("30d", timedelta(days=30)),
     ("2w", timedelta(weeks=2))],
)
def test_create_relative_expiry(run, when, delta):
    data = create(run, "search", extra=("--expires", when))
    assert parse(data["expires_at"]) - parse(data["created_at"]) == delta


@pytest.mark.parametrize(
    "when, expected",
    [("2099-01-31", "2099-01-31T00:00:00Z"), ("2099-01-31T12:30", "2099-01-31T12:30:00Z"),
     ("2099-01-31T12:30:00+02:00", "2099-01-31T10:30:00Z"), ("2099-01-31T12:30Z", "2099-01-31T12:30:00Z"),
     ("never", None)],
)
def test_create_absolute_expiry(run, db_path, when, expected):
    data = create(run, "search", extra=("--expires", when))
    assert data["expires_at"] == expected
    assert rows(db_path, "SELECT expires_at FROM keys")[0][0] == expected


@pytest.mark.parametrize(
    "when", ["0m", "0d", "2000-01-01", "2001-02-03T04:05", "yesterday", "30", "3y", "999999999w", "10000-01-01"],
)
def test_create_refuses_a_bad_or_past_expiry(run, db_path, when):
    r = run("create", "--scope", "search", "--expires", when)
    assert r.code == 2, r
    assert r.stderr.startswith("error: --expires")
    assert not db_path.exists()


def test_create_human_output_tells_expiry_and_notes_on_stderr(run):
    r = run("create", "-s", "search", "-e", "2099-01-31")
    assert r.code == 0
    assert "expires: 2099-01-31T00:00:00Z" in r.stdout.splitlines()
    assert "shown only this once" in r.stderr


# --- list -----------------------------------------------------------------------------
def test_list_on_an_empty_store_prints_a_friendly_line(run, db_path, tty):
    run("create", "-n", "gone", "-s", "search")
    run("delete", "gone", "--yes")
    r = run("list")
    assert r.code == 0
    assert r.stdout.startswith("No keys yet.")
    assert run("list", "--json").json == []


def test_list_table_shows_groups_by_name_and_never_a_secret(run, tty):
    a = create(run, "predict", "inputs.patch", name="alpha")
    b = create(run, "all", name="beta")
    r = run("list")
    assert r.code == 0
    assert a["secret"] not in r.stdout and b["secret"] not in r.stdout
    assert "kc_" not in r.stdout
    lines = r.stdout.splitlines()
    header = lines[0].split()
    assert header == ["NAME", "ID", "STATUS", "SCOPES", "CREATED", "EXPIRES"]
    alpha = next(line for line in lines if a["id"] in line)
    beta = next(line for line in lines if b["id"] in line)
    assert "alpha" in alpha and "inputs.get, inputs.patch, predict" in alpha
    assert "predict.call" not in alpha  # a complete group is shown by its name
    assert " all " in beta and "active" in beta and "never" in beta
    assert lines.index(alpha) < lines.index(beta)  # oldest first


def test_list_json_is_a_list_of_keys_without_secrets(run):
    a = create(run, "search", name="one")
    b = create(run, "inputs.get", name="two")
    r = run("list", "--json")
    assert r.code == 0
    data = r.json
    assert [k["id"] for k in data] == [a["id"], b["id"]]
    for k in data:
        assert set(k) == KEY_FIELDS
    assert a["secret"] not in r.stdout and b["secret"] not in r.stdout


def test_list_status_filters(run):
    a = create(run, "search", name="on")
    b = create(run, "search", name="off")
    assert run("disable", "off").code == 0
    assert [k["id"] for k in run("list", "--status", "active", "--json").json] == [a["id"]]
    assert [k["id"] for k in run("list", "--status", "disabled", "--json").json] == [b["id"]]
    assert run("list", "--status", "expired", "--json").json == []
    r = run("list", "--status", "bogus")
    assert r.code == 2 and r.stderr.startswith("error: --status")


def test_list_scope_filter_holds_everything_the_scope_stands_for(run):
    p = create(run, "inputs.patch", name="patcher")
    g = create(run, "inputs.get", name="getter")
    every = create(run, "all", name="admin")
    create(run, "search", name="finder")

    def names(*args: str) -> list[str]:
        r = run("list", "--json", *args)
        assert r.code == 0, r
        return [k["name"] for k in r.json]

    assert names("--scope", "inputs.patch") == ["patcher", "admin"]
    assert names("--scope", "inputs.get") == ["patcher", "getter", "admin"]
    assert names("--scope", "inputs") == ["admin"]  # a group: every one of its scopes
    assert names("--scope", "inputs.get,search") == ["admin"]
    assert names("--scope", "all") == ["admin"]
    assert {p["id"], g["id"], every["id"]}  # ids were created
    r = run("list", "--scope", "inputs.pach")
    assert r.code == 2 and "did you mean 'inputs.patch'" in r.stderr


def _expire(db_path: Path, key_id: str, when: str = "2001-01-01T00:00:00Z") -> None:
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE keys SET expires_at = ? WHERE id = ?", (when, key_id))
    conn.close()


def test_expired_and_disabled_statuses(run, db_path):
    expired = create(run, "search", name="old")
    both = create(run, "search", name="both")
    active = create(run, "search", name="fresh")
    _expire(db_path, expired["id"])
    _expire(db_path, both["id"])
    assert run("disable", "both").code == 0
    status = {k["name"]: k["status"] for k in run("list", "--json").json}
    assert status == {"old": "expired", "both": "disabled", "fresh": "active"}
    assert [k["id"] for k in run("list", "--status", "expired", "--json").json] == [expired["id"]]
    assert [k["id"] for k in run("list", "--status", "disabled", "--json").json] == [both["id"]]
    line = next(line for line in run("list").stdout.splitlines() if both["id"] in line)
    assert "disabled" in line and "expired" not in line
    assert active["id"]


def test_a_key_expires_when_its_time_passes(run, monkeypatch):
    import keyctl.when

    data = create(run, "search", name="brief", extra=("--expires", "90m"))
    later = parse(data["expires_at"]) + timedelta(seconds=1)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    assert run("list", "--json").json[0]["status"] == "expired"
    r = run("check", "brief", "search", "--json")
    assert r.code == 4
    assert r.json["results"][0]["status"] == {"code": 11008, "name": "CONN_KEY_INVALID"}
    assert run("check", data["secret"], "search").code == 4


# --- show -----------------------------------------------------------------------------
def test_show_json_has_every_operation_outcome(run):
    from keyctl.catalog import builtin

    data = create(run, "inputs.patch", "predict.call", name="ci")
    r = run("show", "ci", "--json")
    assert r.code == 0
    shown = r.json
    assert KEY_FIELDS <= set(shown) and {"operations", "updated_at"} <= set(shown)
    assert shown["id"] == data["id"]
    ops = shown["operations"]
    assert list(ops) == list(builtin().operations)
    assert ops["inputs.get"] == "redacted" and ops["inputs.patch"] == "redacted"
    assert ops["predict.call"] == "allowed"
    assert {ops[o] for o in ops if o not in ("inputs.get", "inputs.patch", "predict.call")} == {"rejected"}
    assert data["secret"] not in r.stdout


def test_show_by_id_secret_and_stdin(run, sh):
    data = create(run, "search", name="finder")
    for ref in (data["id"], data["secret"], "finder"):
        r = run("show", ref, "--json")
        assert r.code == 0, r
        assert r.json["id"] == data["id"]
    r = run("show", "-", "--json", input=data["secret"] + "\n")
    assert r.code == 0 and r.json["id"] == data["id"]
    r = sh("show", "-", input=data["secret"] + "\n")
    assert r.code == 0, r
    assert "kc_..." + data["hint"] in r.stdout
    assert data["secret"] not in r.stdout
    assert "✔ allowed" in r.stdout and "✘ rejected" in r.stdout


def test_show_of_a_disabled_key_rejects_everything(run):
    create(run, "all", name="admin")
    run("disable", "admin")
    assert set(run("show", "admin", "--json").json["operations"].values()) == {"rejected"}


@pytest.mark.parametrize("ref", ["ghost", "key_aaaaaaaaaaaaaaaa", "kc_" + "A" * 36])
def test_show_of_an_unknown_key_is_a_runtime_error(run, ref, db_path):
    create(run, "search")
    r = run("show", ref)
    assert r.code == 1
    assert r.stderr.startswith("error: ")
    assert r.stdout == ""


def test_show_of_a_well_formed_unknown_secret_is_not_found(run):
    from keyctl import tokens

    create(run, "search")
    r = run("show", tokens.new_secret())
    assert r.code == 1 and "no key has that secret" in r.stderr


# --- scope add / remove / set ---------------------------------------------------------
def test_scope_add_adds_prerequisites_with_warnings(run, db_path):
    data = create(run, "search", name="ci")
    r = run("scope", "add", "ci", "inputs.patch", "models.train", "--json")
    assert r.code == 0, r
    assert set(r.json) == SCOPE_CHANGE_FIELDS
    assert r.json["scopes"] == ["inputs.get", "inputs.patch", "models.get", "models.train", "search"]
    assert sorted(r.json["added_prerequisites"]) == ["inputs.get", "models.get"]
    assert r.json["removed_dependents"] == []
    assert warnings(r.stderr) == [
        "warning: inputs.patch requires inputs.get; added inputs.get",
        "warning: models.train requires models.get; added models.get",
    ]
    assert stored_scopes(db_path, data["id"]) == ["inputs.get", "inputs.patch", "models.get", "models.train", "search"]


def test_scope_add_of_a_held_prerequisite_does_not_warn(run):
    create(run, "inputs.get", name="ci")
    r = run("scope", "add", "ci", "inputs.patch")
    assert r.code == 0
    assert warnings(r.stderr) == []
    assert "inputs.get, inputs.patch" in r.stdout


def test_scope_remove_removes_dependents_with_warnings(run, db_path):
    data = create(run, "inputs.patch", "inputs.delete", "search", name="ci")
    r = run("scope", "remove", "ci", "inputs.get", "--json")
    assert r.code == 0, r
    assert warnings(r.stderr) == [
        "warning: removed inputs.patch, which requires inputs.get",
        "warning: removed inputs.delete, which requires inputs.get",
    ]
    assert set(r.json) == SCOPE_CHANGE_FIELDS
    assert r.json["scopes"] == ["search"]
    assert r.json["removed_dependents"] == ["inputs.patch", "inputs.delete"]
    assert r.json["added_prerequisites"] == []
    assert stored_scopes(db_path, data["id"]) == ["search"]


def test_scope_remove_from_all_expands_first(run, db_path):
    from keyctl.catalog import builtin

    data = create(run, "all", name="admin")
    r = run("scope", "remove", "admin", "models.get", "--json")
    assert r.code == 0, r
    expected = sorted(set(builtin().scopes) - {"models.get", "models.patch", "models.delete", "models.train"})
    assert r.json["scopes"] == expected
    assert sorted(r.json["removed_dependents"]) == ["models.delete", "models.patch", "models.train"]
    assert stored_scopes(db_path, data["id"]) == sorted(expected)


def test_scope_remove_of_an_unheld_scope_changes_nothing(run, db_path):
    data = create(run, "search", name="ci")
    before = rows(db_path, "SELECT * FROM keys")
    r = run("scope", "remove", "ci", "inputs.get", "--json")
    assert r.code == 0
    assert r.json["scopes"] == ["search"]
    assert r.json["removed_dependents"] == []
    assert warnings(r.stderr) == ["warning: ci does not hold inputs.get; nothing to remove"]
    assert rows(db_path, "SELECT * FROM keys") == before
    assert [a for (a,) in rows(db_path, "SELECT action FROM audit")] == ["create"]
    assert data["id"]


@pytest.mark.parametrize("removing", [["inputs.get"], ["all"], ["inputs"]])
def test_scope_remove_that_leaves_no_scope_is_refused(run, db_path, removing):
    create(run, "inputs.patch", name="ci")
    before = rows(db_path, "SELECT * FROM keys")
    r = run("scope", "remove", "ci", *removing)
    assert r.code == 1
    assert r.stderr.startswith("error: that would leave ci with no scope")
    assert r.stdout == ""
    assert rows(db_path, "SELECT * FROM keys") == before
    assert [a for (a,) in rows(db_path, "SELECT action FROM audit")] == ["create"]


def test_scope_set_replaces_and_closes(run, db_path):
    data = create(run, "all", name="ci")
    r = run("scope", "set", "ci", "models.patch", "predict", "--json")
    assert r.code == 0, r
    assert r.json["scopes"] == ["models.get", "models.patch", "models.train", "predict.call", "predict.feedback"]
    assert sorted(r.json["added_prerequisites"]) == ["models.get", "models.train"]
    assert len(warnings(r.stderr)) == 2
    assert stored_scopes(db_path, data["id"]) == ["models.get", "models.patch", "models.train", "predict.call", "predict.feedback"]


def test_scope_commands_usage_errors(run, db_path):
    create(run, "search", name="ci")
    before = rows(db_path, "SELECT * FROM keys")
    r = run("scope", "add", "ci", "inputs.pach")
    assert r.code == 2 and "did you mean 'inputs.patch'" in r.stderr
    r = run("scope", "set", "ci")
    assert r.code == 2 and r.stderr.startswith("error: ")
    r = run("scope", "add", "nobody", "search")
    assert r.code == 1 and r.stderr.startswith("error: no key")
    assert rows(db_path, "SELECT * FROM keys") == before


def test_scope_human_output(run):
    create(run, "search", name="ci")
    r = run("scope", "add", "ci", "predict")
    assert r.code == 0
    assert "scopes:   predict, search" in r.stdout


# --- update ---------------------------------------------------------------------------
def test_update_name_description_expiry(run, db_path):
    data = create(run, "search", name="ci", extra=("--expires", "30d"))
    r = run("update", "ci", "--name", "ci-2", "--description", "CI predictions", "--expires", "2099-01-31", "--json")
    assert r.code == 0, r
    assert set(r.json) == KEY_FIELDS
    assert (r.json["name"], r.json["description"], r.json["expires_at"]) == ("ci-2", "CI predictions", "2099-01-31T00:00:00Z")
    assert rows(db_path, "SELECT name, description, expires_at FROM keys") == [("ci-2", "CI predictions", "2099-01-31T00:00:00Z")]
    r = run("update", "ci-2", "--expires", "never", "--json")
    assert r.json["expires_at"] is None
    assert rows(db_path, "SELECT expires_at FROM keys") == [(None,)]
    assert run("show", "ci", "--json").code == 1  # the old name is gone
    assert run("show", data["id"], "--json").json["name"] == "ci-2"


def test_update_errors_change_nothing(run, db_path):
    create(run, "search", name="ci")
    create(run, "search", name="other")
    before = rows(db_path, "SELECT * FROM keys")
    assert run("update", "ci", "--name", "other").code == 1
    assert run("update", "ci", "--name", "key_x").code == 2
    assert run("update", "ci", "--expires", "2000-01-01").code == 2
    assert run("update", "ghost", "--description", "x").code == 1
    assert rows(db_path, "SELECT * FROM keys") == before
    assert [a for (a,) in rows(db_path, "SELECT action FROM audit")] == ["create", "create"]


def test_update_human_output(run):
    create(run, "search", name="ci")
    r = run("update", "ci", "--description", "hello")
    assert r.code == 0
    assert "description: hello" in r.stdout


# --- disable / enable -----------------------------------------------------------------
def test_disable_rejects_every_check_and_enable_restores(run, db_path):
    data = create(run, "inputs.patch", "concepts.get", name="ci")
    assert run("check", "ci", "inputs.patch").code == 0
    r = run("disable", "ci", "--json")
    assert r.code == 0 and r.json["status"] == "disabled"
    assert rows(db_path, "SELECT disabled FROM keys") == [(1,)]
    r = run("check", data["secret"], "--json")
    assert r.code == 4
    assert {v["status"]["code"] for v in r.json["results"]} == {11008}
    assert {v["status"]["name"] for v in r.json["results"]} == {"CONN_KEY_INVALID"}
    r = run("check", "ci", "inputs.get")
    assert r.code == 4 and "disabled" in r.stdout
    r = run("enable", "ci", "--json")
    assert r.code == 0
    assert r.json["status"] == "active"
    assert r.json["scopes"] == data["scopes"]
    assert run("check", data["secret"], "inputs.patch").code == 0


def test_disable_human_output_and_twice(run, db_path):
    create(run, "search", name="ci")
    r = run("disable", "ci")
    assert r.code == 0 and "ci): disabled" in r.stdout
    assert run("disable", "ci").code == 0  # already disabled: nothing to do
    assert [a for (a,) in rows(db_path, "SELECT action FROM audit ORDER BY id")] == ["create", "disable"]
    assert run("enable", "ghost").code == 1


# --- rotate ---------------------------------------------------------------------------
def test_rotate_gives_a_new_secret_and_the_old_stops(run, db_path):
    data = create(run, "inputs.patch", name="ci")
    r = run("rotate", "ci", "--json")
    assert r.code == 0, r
    new = r.json
    assert set(new) == CREATED_FIELDS
    assert new["secret"] != data["secret"]
    assert (new["id"], new["name"], new["scopes"]) == (data["id"], data["name"], data["scopes"])
    assert new["hint"] == new["secret"][-4:]
    old = run("check", data["secret"], "inputs.get", "--json")
    assert old.code == 4
    assert old.json["key"] is None
    assert old.json["results"][0]["status"] == {"code": 11009, "name": "CONN_KEY_NOT_FOUND"}
    fresh = run("check", new["secret"], "inputs.get", "--json")
    assert fresh.code == 3  # redacted: no concepts.get
    assert fresh.json["key"] == {"id": data["id"], "name": "ci"}
    assert rows(db_path, "SELECT id, name, scopes, hint FROM keys") == [(data["id"], "ci", '["inputs.get","inputs.patch"]', new["hint"])]


def test_rotate_human_output_shows_secret_once(run):
    create(run, "search", name="ci")
    r = run("rotate", "ci")
    assert r.code == 0
    secret = next(line.split()[-1] for line in r.stdout.splitlines() if line.startswith("secret:"))
    assert run("check", secret, "search").code == 0
    assert run("rotate", "ghost").code == 1


# --- delete ---------------------------------------------------------------------------
def test_delete_without_terminal_and_without_yes_is_refused(run, db_path):
    create(run, "search", name="ci")
    r = run("delete", "ci")
    assert r.code == 2
    assert r.stderr.startswith("error: ") and "--yes" in r.stderr
    assert len(rows(db_path, "SELECT id FROM keys")) == 1


def test_delete_without_terminal_through_a_real_process(run, sh, db_path):
    create(run, "search", name="ci")
    r = sh("delete", "ci", input="y\n")
    assert r.code == 2, r
    assert "--yes" in r.stderr
    assert len(rows(db_path, "SELECT id FROM keys")) == 1
    r = sh("delete", "ci", "--yes", "--json")
    assert r.code == 0, r
    assert json.loads(r.stdout)["name"] == "ci"
    assert rows(db_path, "SELECT id FROM keys") == []


@pytest.fixture
def terminal(monkeypatch):
    """Make `delete` believe it runs on a terminal (stdin only)."""
    pretend_terminal(monkeypatch, "<stdin>")


def test_delete_on_a_terminal_answering_no_deletes_nothing(run, db_path, terminal):
    create(run, "search", name="ci")
    r = run("delete", "ci", input="n\n")
    assert r.code == 1
    assert "Delete key ci" in r.stderr
    assert r.stderr.splitlines()[-1].endswith("[y/N] nothing deleted")  # plain: nothing broke
    assert "error" not in r.stderr
    assert len(rows(db_path, "SELECT id FROM keys")) == 1


def test_delete_on_a_terminal_answering_yes_deletes(run, db_path, terminal):
    data = create(run, "search", name="ci")
    r = run("delete", "ci", "--json", input="y\n")
    assert r.code == 0, r
    assert "Delete key ci" in r.stderr
    # CliRunner echoes the typed answer on stdout, as a terminal would show it
    assert json.loads(r.stdout[r.stdout.index("{"):])["id"] == data["id"]
    assert rows(db_path, "SELECT id FROM keys") == []


def test_delete_yes_keeps_the_audit_trail(run, db_path):
    data = create(run, "search", name="ci")
    run("disable", "ci")
    r = run("delete", "ci", "--yes")
    assert r.code == 0
    assert data["id"] in r.stdout
    assert rows(db_path, "SELECT id FROM keys") == []
    r = run("log", data["id"], "--json")
    assert r.code == 0
    assert [e["action"] for e in r.json] == ["delete", "disable", "create"]
    assert r.json[0]["details"]["name"] == "ci"
    assert run("show", data["id"]).code == 1
    by_name = run("log", "ci", "--json")  # the trail is found by the name the key had
    assert by_name.code == 0 and by_name.json == r.json
    assert run("delete", "ci", "--yes").code == 1


# --- log ------------------------------------------------------------------------------
def test_log_records_every_action_newest_first(run, db_path):
    import getpass

    data = create(run, "inputs.patch", name="ci")
    run("update", "ci", "--description", "d")
    run("scope", "add", "ci", "search")
    run("scope", "remove", "ci", "search")
    run("scope", "set", "ci", "predict")
    run("disable", "ci")
    run("enable", "ci")
    run("rotate", "ci")
    other = create(run, "search", name="other")
    run("delete", "ci", "--yes")
    r = run("log", "--json")
    assert r.code == 0
    entries = r.json
    assert [(e["action"], e["key_id"]) for e in entries] == [
        ("delete", data["id"]), ("create", other["id"]), ("rotate", data["id"]), ("enable", data["id"]),
        ("disable", data["id"]), ("scope.set", data["id"]), ("scope.remove", data["id"]),
        ("scope.add", data["id"]), ("update", data["id"]), ("create", data["id"]),
    ]
    for e in entries:
        assert set(e) == {"recorded_at", "actor", "action", "key_id", "key_name", "details"}
        assert isinstance(e["details"], dict)
        assert e["actor"] == getpass.getuser()
        assert e["recorded_at"].endswith("Z")
        assert abs(parse(e["recorded_at"]) - datetime.now(timezone.utc)) < timedelta(minutes=5)
    by_action = {e["action"]: e["details"] for e in entries if e["key_id"] == data["id"]}
    assert by_action["create"]["scopes"] == ["inputs.get", "inputs.patch"]
    assert by_action["create"]["added_prerequisites"] == ["inputs.get"]
    assert by_action["update"]["description"] == [None, "d"]
    assert by_action["scope.set"]["after"] == ["predict.call", "predict.feedback"]
    assert by_action["scope.set"]["before"] == ["inputs.get", "inputs.patch"]
    assert by_action["scope.add"]["after"] == ["inputs.get", "inputs.patch", "search"]
    assert "secret" not in json.dumps(entries).lower().replace("secret_hash", "")


def test_log_limit_and_key_filter(run):
    a = create(run, "search", name="a")
    b = create(run, "search", name="b")
    run("disable", "a")
    r = run("log", "--limit", "2", "--json")
    assert [(e["action"], e["key_id"]) for e in r.json] == [("disable", a["id"]), ("create", b["id"])]
    assert [e["action"] for e in run("log", "a", "--json").json] == ["disable", "create"]
    assert [e["action"] for e in run("log", b["id"], "--json").json] == ["create"]
    assert [e["action"] for e in run("log", a["secret"], "--limit", "1", "--json").json] == ["disable"]
    r = run("log", "--limit", "0")
    assert r.code == 2 and r.stderr.startswith("error: ")
    assert run("log", "ghost").code == 1


def test_log_human_table_and_empty(run, db_path, tty):
    r = run("log")
    assert r.code == 0 and r.stdout == "The audit trail is empty.\n"
    assert run("log", "--json").json == []
    assert not db_path.exists()
    data = create(run, "search", name="ci")
    r = run("log")
    assert r.code == 0
    assert r.stdout.split()[:6] == ["RECORDED", "ACTOR", "ACTION", "NAME", "ID", "DETAILS"]
    assert data["id"] in r.stdout and "create" in r.stdout
    assert data["secret"] not in r.stdout


# --- usage errors at the edge ---------------------------------------------------------
def test_unknown_option_and_command_are_usage_errors(run, sh):
    r = run("list", "--bogus")
    assert r.code == 2 and r.stderr.startswith("error: ")
    r = sh("frobnicate")
    assert r.code == 2 and r.stderr.startswith("error: ")
    assert "Traceback" not in r.stderr


def test_every_command_has_help_with_examples(run):
    commands = [["create"], ["list"], ["show"], ["scope", "add"], ["scope", "remove"], ["scope", "set"],
                ["update"], ["disable"], ["enable"], ["rotate"], ["delete"], ["log"], ["check"], ["scopes"]]
    for cmd in commands:
        r = run(*cmd, "--help")
        assert r.code == 0, cmd
        assert "Examples:" in r.stdout, cmd
        assert "keyctl " + " ".join(cmd) in r.stdout, cmd
    top = run("--help")
    text = " ".join(top.stdout.split())
    assert "Exit status: 0 success" in text and "4 check: worst outcome rejected" in text


@pytest.mark.parametrize("answer, code, left", [("n\n", 1, 1), ("y\n", 0, 0)])
def test_delete_asks_on_a_real_terminal(run, db_path, answer, code, left):
    """The prompt path in a real process whose stdin is a pseudo-terminal."""
    create(run, "search", name="ci")
    r = answering("delete", "ci", answer=answer)
    assert r.code == code, r
    assert "Delete key ci" in r.stderr
    assert len(rows(db_path, "SELECT id FROM keys")) == left
    if code:
        assert r.stderr.endswith("[y/N] nothing deleted\n") and "error" not in r.stderr
