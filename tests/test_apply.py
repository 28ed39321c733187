"""`keyctl apply`: manifests planned against the store and applied in one transaction.
Each test asserts what a user sees (plan lines, summary, exit code, JSON) and what the
store holds afterwards; a refused manifest leaves the store byte-for-byte unchanged."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend

import keyctl.when
from keyctl.api import KeyStore
from keyctl.errors import ManifestError, StoreError
from conftest import rows, warnings

TEAM = """
[keys.ci-bot]
scopes = ["predict", "inputs.patch"]
description = "CI predictions"
expires = "90d"

[keys.etl]
scopes = ["inputs.add", "inputs.get"]
"""


# --- helpers -------------------------------------------------------------------------
def write(tmp_path: Path, text: str, name: str = "team.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# What `create --json` prints, and apply's "created" entries with it.
CREATE_FIELDS = {"id", "name", "description", "scopes", "status", "created_at", "expires_at", "hint", "in_keyring",
                 "secret", "added_prerequisites", "stored_in"}

def key_row(db_path: Path, name: str) -> dict:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute("SELECT * FROM keys WHERE name = ?", (name,)).fetchone()
        return dict(found) if found else {}
    finally:
        conn.close()


def snapshot(db_path: Path) -> dict[str, bytes]:
    """The store's bytes (main file and WAL), after folding the WAL into the main
    file so that a later checkpoint cannot change the bytes of an unchanged store."""
    if db_path.exists():
        conn = sqlite3.connect(db_path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    out = {}
    for suffix in ("", "-wal"):
        p = Path(f"{db_path}{suffix}")
        if p.exists() and p.stat().st_size:  # an empty WAL comes and goes with connections
            out[suffix] = p.read_bytes()
    return out


def plan_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:2] in ("+ ", "~ ", "- ", "= ")]




def secrets_table(stdout: str) -> dict[str, tuple[str, str]]:
    """NAME -> (id, secret) from the table printed after an apply."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:3] == ["NAME", "ID", "SECRET"])
    out = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        name, kid, secret = line.split()
        out[name] = (kid, secret)
    return out


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def audit(db_path: Path) -> list[tuple[str, str | None, dict]]:
    return [(a, k, json.loads(d)) for a, k, d in rows(db_path, "SELECT action, key_id, details FROM audit ORDER BY id")]


# --- create ----------------------------------------------------------------------------
def test_apply_creates_keys_and_prints_each_secret_once(run, tmp_path, db_path):
    r = run("apply", write(tmp_path, TEAM))
    assert r.code == 0, r
    assert plan_lines(r.stdout) == ["+ ci-bot", "+ etl"]
    assert "2 to create, 0 to update, 0 to delete, 0 unchanged" in r.stdout
    assert "    scopes: inputs.get, inputs.patch, predict" in r.stdout
    assert '    description: "CI predictions"' in r.stdout
    assert "    expires: 90d" in r.stdout
    assert warnings(r.stderr) == ["warning: ci-bot: inputs.patch requires inputs.get; added inputs.get"]
    assert "shown only this once" in r.stderr
    table = secrets_table(r.stdout)
    assert set(table) == {"ci-bot", "etl"}
    ci = key_row(db_path, "ci-bot")
    assert ci["id"] == table["ci-bot"][0]
    assert ci["scopes"] == '["inputs.get","inputs.patch","predict.call","predict.feedback"]'
    assert ci["description"] == "CI predictions"
    assert ci["expires_spec"] == "90d"
    delta = parse(ci["expires_at"]) - parse(ci["created_at"])
    assert delta == timedelta(days=90)
    assert ci["disabled"] == 0
    etl = key_row(db_path, "etl")
    assert etl["description"] is None and etl["expires_at"] is None and etl["expires_spec"] is None
    # The printed secrets are the keys' secrets.
    assert run("check", table["ci-bot"][1], "inputs.patch").code in (0, 3)
    assert run("check", "-", "inputs.add", input=table["etl"][1] + "\n").code == 0


def test_enabled_false_creates_a_disabled_key_and_absolute_expiry_is_kept(run, tmp_path, db_path):
    r = run("apply", write(tmp_path, """
[keys."paused.bot"]
scopes = ["models"]
enabled = false
expires = "2099-01-31"
"""))
    assert r.code == 0, r
    assert plan_lines(r.stdout) == ['+ paused.bot']
    assert "    enabled: false" in r.stdout
    row = key_row(db_path, "paused.bot")
    assert row["disabled"] == 1
    assert row["expires_at"] == "2099-01-31T00:00:00Z" and row["expires_spec"] is None
    assert run("show", "paused.bot", "--json").json["status"] == "disabled"


def test_toml_native_dates_are_accepted(run, tmp_path, db_path):
    r = run("apply", write(tmp_path, '[keys.a]\nscopes = ["search"]\nexpires = 2099-02-01\n'
                                     '[keys.b]\nscopes = ["search"]\nexpires = 2099-02-01T10:30:00+02:00\n'))
    assert r.code == 0, r
    assert key_row(db_path, "a")["expires_at"] == "2099-02-01T00:00:00Z"
    assert key_row(db_path, "b")["expires_at"] == "2099-02-01T08:30:00Z"


# --- update ----------------------------------------------------------------------------
def test_update_shows_scope_and_field_changes_and_writes_them(run, tmp_path, db_path):
    assert run("apply", write(tmp_path, TEAM)).code == 0
    ci_id = key_row(db_path, "ci-bot")["id"]
    changed = """
[keys.ci-bot]
scopes = ["predict.call", "search"]
description = "CI, searching"
expires = "30d"
enabled = false

[keys.etl]
scopes = ["inputs.add", "inputs.get"]
"""
    r = run("apply", write(tmp_path, changed))
    assert r.code == 0, r
    assert plan_lines(r.stdout) == ["~ ci-bot", "= etl"]
    assert "    scopes: +search -inputs.get -inputs.patch -predict.feedback" in r.stdout
    assert '    description: "CI predictions" -> "CI, searching"' in r.stdout
    assert "    expires: 90d -> 30d" in r.stdout
    assert "    enabled: true -> false" in r.stdout
    assert "0 to create, 1 to update, 0 to delete, 1 unchanged" in r.stdout
    assert "applied" in r.stdout and "1 updated" in r.stdout
    assert "SECRET" not in r.stdout  # no new secret to show
    row = key_row(db_path, "ci-bot")
    assert row["id"] == ci_id  # the same key, updated in place
    assert row["scopes"] == '["predict.call","search"]'
    assert row["description"] == "CI, searching"
    assert row["expires_spec"] == "30d"
    assert parse(row["expires_at"]) - parse(row["updated_at"]) == timedelta(days=30)
    assert row["disabled"] == 1


def test_fields_left_out_mean_their_defaults(run, tmp_path, db_path):
    assert run("apply", write(tmp_path, """
[keys.k]
scopes = ["search"]
description = "x"
expires = "2099-01-01"
enabled = false
""")).code == 0
    r = run("apply", write(tmp_path, '[keys.k]\nscopes = ["search"]\n'))
    assert r.code == 0, r
    assert '    description: "x" -> none' in r.stdout
    assert "    expires: 2099-01-01T00:00:00Z -> never" in r.stdout
    assert "    enabled: false -> true" in r.stdout
    row = key_row(db_path, "k")
    assert (row["description"], row["expires_at"], row["expires_spec"], row["disabled"]) == (None, None, None, 0)


def test_prerequisite_warning_only_where_scopes_are_written(run, tmp_path):
    first = run("apply", write(tmp_path, TEAM))
    assert "ci-bot: inputs.patch requires inputs.get" in first.stderr
    again = run("apply", write(tmp_path, TEAM))
    assert warnings(again.stderr) == []  # the key already holds it: nothing to say


def test_all_and_groups_compare_after_closure(run, tmp_path, db_path):
    assert run("apply", write(tmp_path, '[keys.admin]\nscopes = ["all"]\n[keys.m]\nscopes = ["models"]\n')).code == 0
    r = run("apply", write(tmp_path, '[keys.admin]\nscopes = ["all"]\n[keys.m]\nscopes = '
                                     '["models.patch", "models.add", "models.delete"]\n'))
    assert plan_lines(r.stdout) == ["= admin", "= m"]  # models.patch brings get and train
    assert key_row(db_path, "admin")["scopes"] == '["all"]'


# --- unchanged / idempotence -------------------------------------------------------------
def test_applying_the_same_file_twice_changes_nothing(run, tmp_path, db_path):
    path = write(tmp_path, TEAM)
    assert run("apply", path).code == 0
    before = snapshot(db_path)
    audit_before = audit(db_path)
    r = run("apply", path)
    assert r.code == 0, r
    assert plan_lines(r.stdout) == ["= ci-bot", "= etl"]
    assert "0 to create, 0 to update, 0 to delete, 2 unchanged" in r.stdout
    assert "nothing to do" in r.stdout
    assert snapshot(db_path) == before
    assert audit(db_path) == audit_before


# --- dry run ---------------------------------------------------------------------------
def test_dry_run_prints_the_plan_and_changes_nothing(run, tmp_path, db_path):
    assert run("apply", write(tmp_path, TEAM)).code == 0
    before = snapshot(db_path)
    changed = TEAM.replace('"90d"', '"30d"') + '\n[keys.new-one]\nscopes = ["search"]\n'
    r = run("apply", write(tmp_path, changed), "--dry-run", "--prune")
    assert r.code == 0, r
    assert plan_lines(r.stdout) == ["~ ci-bot", "= etl", "+ new-one"]
    assert "1 to create, 1 to update, 0 to delete, 1 unchanged" in r.stdout
    assert "dry run: nothing was changed" in r.stdout
    assert "SECRET" not in r.stdout and "kc_" not in r.stdout
    assert snapshot(db_path) == before


def test_dry_run_on_a_missing_store_creates_nothing(run, tmp_path, db_path):
    r = run("apply", write(tmp_path, TEAM), "--dry-run")
    assert r.code == 0, r
    assert "2 to create" in r.stdout
    assert not db_path.exists()


def test_dry_run_json(run, tmp_path):
    r = run("apply", write(tmp_path, TEAM), "--dry-run", "--json")
    assert r.code == 0, r
    assert r.json | {"created": None} == {
        "dry_run": True, "created": None, "updated": [], "deleted": [], "unchanged": [],
    }
    ci, etl = r.json["created"]  # create's shape; null where only creating tells
    assert set(ci) == CREATE_FIELDS
    assert {k: ci[k] for k in ("id", "name", "secret", "created_at", "hint", "status")} == {
        "id": None, "name": "ci-bot", "secret": None, "created_at": None, "hint": None, "status": "active"}
    assert ci["scopes"] == ["inputs.get", "inputs.patch", "predict.call", "predict.feedback"]
    assert ci["added_prerequisites"] == ["inputs.get"] and ci["description"] == "CI predictions"
    assert ci["expires_at"].endswith("Z") and (etl["name"], etl["expires_at"]) == ("etl", None)
    assert "+ ci-bot" in r.stderr


# --- prune -----------------------------------------------------------------------------
def test_prune_deletes_named_keys_the_manifest_lacks_but_never_unnamed_ones(run, tmp_path, db_path):
    assert run("apply", write(tmp_path, TEAM)).code == 0
    unnamed = run("create", "--scope", "search", "--json").json["id"]
    gone = run("create", "--name", "old-bot", "--scope", "search", "--json").json["id"]
    only_ci = '[keys.ci-bot]\nscopes = ["predict", "inputs.patch"]\ndescription = "CI predictions"\nexpires = "90d"\n'
    path = write(tmp_path, only_ci)

    kept = run("apply", path)  # without --prune: nothing deleted, and it says so
    assert kept.code == 0, kept
    assert plan_lines(kept.stdout) == ["= ci-bot"]
    assert "2 named key(s) in the store are not in" in kept.stdout
    assert {n for (n,) in rows(db_path, "SELECT name FROM keys WHERE name IS NOT NULL")} == {"ci-bot", "etl", "old-bot"}

    etl_id = key_row(db_path, "etl")["id"]
    r = run("apply", path, "--prune", "--yes")
    assert r.code == 0, r
    assert plan_lines(r.stdout) == ["= ci-bot", f"- etl ({etl_id})", f"- old-bot ({gone})"]
    assert "0 to create, 0 to update, 2 to delete, 1 unchanged" in r.stdout
    left = rows(db_path, "SELECT id, name FROM keys ORDER BY name")
    assert sorted(left, key=str) == sorted([(unnamed, None), (key_row(db_path, "ci-bot")["id"], "ci-bot")], key=str)


def test_prune_json_lists_deleted_keys(run, tmp_path, db_path):
    assert run("apply", write(tmp_path, TEAM)).code == 0
    etl_id = key_row(db_path, "etl")["id"]
    r = run("apply", write(tmp_path, '[keys.ci-bot]\nscopes = ["predict", "inputs.patch"]\n'), "--prune", "--yes", "--json")
    assert r.code == 0, r
    assert r.json["deleted"] == [{"name": "etl", "id": etl_id}]
    assert r.json["updated"][0]["changes"] == {"description": ["CI predictions", None], "expires": ["90d", None]}


def test_empty_manifest_with_prune_warns(run, tmp_path, db_path):
    assert run("apply", write(tmp_path, TEAM)).code == 0
    r = run("apply", write(tmp_path, "# nobody\n"), "--prune", "--dry-run")
    assert r.code == 0, r
    assert "holds no keys; --prune deletes every named key" in r.stderr
    assert "0 to create, 0 to update, 2 to delete" in r.stdout


# --- JSON ------------------------------------------------------------------------------
def test_json_stdout_is_pure_json_and_plan_goes_to_stderr(sh, tmp_path, db_path):
    r = sh("apply", write(tmp_path, TEAM), "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)  # nothing else on stdout
    assert set(data) == {"dry_run", "created", "updated", "deleted", "unchanged"}
    assert [c["name"] for c in data["created"]] == ["ci-bot", "etl"]
    made = sh("create", "-s", "search", "--json").json
    for c in data["created"]:
        assert set(c) == set(made) == CREATE_FIELDS  # the same object as `create --json`
        assert c["id"] == key_row(db_path, c["name"])["id"]
        assert c["created_at"].endswith("Z") and c["secret"].startswith("kc_") and c["stored_in"] is None
    assert "+ ci-bot" in r.stderr and "2 to create" in r.stderr
    assert "warning: ci-bot: inputs.patch requires inputs.get; added inputs.get" in r.stderr
    secret = data["created"][0]["secret"]
    assert sh("check", "-", "predict.call", input=secret + "\n").code == 0

    r2 = sh("apply", write(tmp_path, TEAM.replace('"CI predictions"', '"CI"')), "--json")
    data2 = json.loads(r2.stdout)
    assert data2["created"] == [] and data2["deleted"] == []
    assert data2["updated"] == [{"name": "ci-bot", "id": data["created"][0]["id"],
                                 "changes": {"description": ["CI predictions", "CI"]}}]
    assert data2["unchanged"] == [{"name": "etl", "id": data["created"][1]["id"]}]


def test_changes_json_names_scopes_added_and_removed(run, tmp_path):
    assert run("apply", write(tmp_path, TEAM)).code == 0
    r = run("apply", write(tmp_path, TEAM.replace('["inputs.add", "inputs.get"]', '["inputs.add", "search"]')), "--json")
    assert r.json["updated"][0]["changes"] == {"scopes": {"added": ["search"], "removed": ["inputs.get"]}}


# --- audit -----------------------------------------------------------------------------
def test_audit_entries_carry_the_manifest_file_name(run, tmp_path, db_path):
    path = write(tmp_path, TEAM)
    assert run("apply", path).code == 0
    run("create", "--name", "old-bot", "--scope", "search")
    changed = TEAM.replace('"90d"', '"30d"').replace('["inputs.add", "inputs.get"]', '["inputs.add"]')
    changed = changed.replace('description = "CI predictions"', 'description = "CI"\nenabled = false')
    assert run("apply", write(tmp_path, changed, "v2.toml"), "--prune", "--yes").code == 0
    log = run("log", "--json").json
    mine = [e for e in log if e["details"].get("manifest")]
    actions = sorted((e["action"], e["details"]["manifest"]) for e in mine)
    v1, v2 = path, str(tmp_path / "v2.toml")
    assert actions == sorted([("create", v1), ("create", v1), ("scope.set", v2), ("update", v2),
                              ("disable", v2), ("delete", v2)])
    update = next(e for e in mine if e["action"] == "update")
    assert update["details"]["description"] == ["CI predictions", "CI"]
    assert update["details"]["expires"] == ["90d", "30d"]
    scope_set = next(e for e in mine if e["action"] == "scope.set")
    assert scope_set["details"]["before"] == ["inputs.add", "inputs.get"]
    assert scope_set["details"]["after"] == ["inputs.add"]
    deleted = next(e for e in mine if e["action"] == "delete")
    assert deleted["details"]["name"] == "old-bot"
    # The create entries say what was created.
    created = {e["details"]["name"]: e["details"] for e in mine if e["action"] == "create"}
    assert created["ci-bot"]["added_prerequisites"] == ["inputs.get"]


# --- relative expiry ----------------------------------------------------------------------
def shift_clock(monkeypatch, days: int) -> datetime:
    later = datetime.now(timezone.utc) + timedelta(days=days)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    return later


def test_relative_expiry_is_not_pushed_forward_by_a_later_apply(run, tmp_path, db_path, monkeypatch):
    path = write(tmp_path, TEAM)
    assert run("apply", path).code == 0
    first = key_row(db_path, "ci-bot")
    shift_clock(monkeypatch, 10)
    r = run("apply", path)
    assert r.code == 0, r
    assert plan_lines(r.stdout) == ["= ci-bot", "= etl"]
    assert "0 to create, 0 to update, 0 to delete" in r.stdout
    assert key_row(db_path, "ci-bot")["expires_at"] == first["expires_at"]

    later = shift_clock(monkeypatch, 10)
    r = run("apply", write(tmp_path, TEAM.replace('"90d"', '"30d"')))
    assert plan_lines(r.stdout) == ["~ ci-bot", "= etl"]
    assert "    expires: 90d -> 30d" in r.stdout
    row = key_row(db_path, "ci-bot")
    assert parse(row["expires_at"]) == (later + timedelta(days=30)).replace(microsecond=0)
    assert row["expires_spec"] == "30d"


def test_an_expired_relative_key_stays_unchanged(run, tmp_path, db_path, monkeypatch):
    path = write(tmp_path, '[keys.short]\nscopes = ["search"]\nexpires = "1d"\n')
    assert run("apply", path).code == 0
    shift_clock(monkeypatch, 3)
    r = run("apply", path)
    assert plan_lines(r.stdout) == ["= short"]
    assert run("show", "short", "--json").json["status"] == "expired"


def test_relative_spec_is_normalised(run, tmp_path, db_path):
    assert run("apply", write(tmp_path, '[keys.k]\nscopes = ["search"]\nexpires = "90d"\n')).code == 0
    r = run("apply", write(tmp_path, '[keys.k]\nscopes = ["search"]\nexpires = " 090D "\n'))
    assert plan_lines(r.stdout) == ["= k"]


def test_expiry_set_by_hand_makes_the_manifest_value_a_change(run, tmp_path, db_path):
    path = write(tmp_path, TEAM)
    assert run("apply", path).code == 0
    assert run("update", "ci-bot", "--expires", "5d").code == 0
    assert key_row(db_path, "ci-bot")["expires_spec"] is None
    r = run("apply", path)
    assert plan_lines(r.stdout) == ["~ ci-bot", "= etl"]
    assert "    expires: " in r.stdout and "-> 90d" in r.stdout
    row = key_row(db_path, "ci-bot")
    assert row["expires_spec"] == "90d"
    assert parse(row["expires_at"]) - parse(row["updated_at"]) == timedelta(days=90)


def test_absolute_expiry_compares_with_expires_at(run, tmp_path, db_path):
    created = run("create", "--name", "k", "--scope", "search", "--expires", "2099-03-01", "--json").json
    assert created["expires_at"] == "2099-03-01T00:00:00Z"
    same = run("apply", write(tmp_path, '[keys.k]\nscopes = ["search"]\nexpires = "2099-03-01T00:00:00Z"\n'))
    assert plan_lines(same.stdout) == ["= k"]
    other = run("apply", write(tmp_path, '[keys.k]\nscopes = ["search"]\nexpires = "2099-03-02"\n'))
    assert plan_lines(other.stdout) == ["~ k"]
    assert key_row(db_path, "k")["expires_at"] == "2099-03-02T00:00:00Z"


def test_a_key_with_an_expiry_and_none_in_the_manifest_becomes_never(run, tmp_path, db_path):
    run("create", "--name", "k", "--scope", "search", "--expires", "30d")
    r = run("apply", write(tmp_path, '[keys.k]\nscopes = ["search"]\n'))
    assert plan_lines(r.stdout) == ["~ k"]
    assert key_row(db_path, "k")["expires_at"] is None


# --- invalid manifests: exit 2, file/key/field named, store unchanged -------------------------
INVALID = [
    ("not toml", '[keys.ci-bot\nscopes = ["predict"]\n', ["team.toml: not valid TOML:", "line 1"]),
    ("unknown scope", '[keys.ci-bot]\nscopes = ["inputs.pach"]\n',
     ["team.toml: keys.ci-bot.scopes: unknown scope 'inputs.pach'; did you mean 'inputs.patch'?"]),
    ("repeated name", '[keys.ci-bot]\nscopes = ["predict"]\n\n[keys.ci-bot]\nscopes = ["search"]\n',
     ["team.toml: not valid TOML: Cannot declare ('keys', 'ci-bot') twice", "line 4"]),
    ("repeated field", '[keys.ci-bot]\nscopes = ["predict"]\nscopes = ["search"]\n',
     ["team.toml: not valid TOML: Cannot overwrite a value", "line 3"]),
    ("unknown field", '[keys.ci-bot]\nscopes = ["predict"]\nscope = ["search"]\n',
     ["team.toml: keys.ci-bot.scope: unknown field; a key has scopes, description, expires, enabled"]),
    ("unknown top-level field", 'version = 2\n[keys.ci-bot]\nscopes = ["predict"]\n',
     ["team.toml: unknown field 'version' at the top level"]),
    ("bad expires", '[keys.ci-bot]\nscopes = ["predict"]\nexpires = "soon"\n',
     ["team.toml: keys.ci-bot.expires: 'soon' is not a time keyctl understands"]),
    ("zero expires", '[keys.ci-bot]\nscopes = ["predict"]\nexpires = "0d"\n',
     ["team.toml: keys.ci-bot.expires: '0d' is not in the future"]),
    ("expires a number", '[keys.ci-bot]\nscopes = ["predict"]\nexpires = 90\n',
     ["team.toml: keys.ci-bot.expires: must be a string such as \"90d\""]),
    ("past date for a new key", '[keys.ci-bot]\nscopes = ["predict"]\nexpires = "2001-01-01"\n',
     ["team.toml: keys.ci-bot.expires: '2001-01-01T00:00:00Z' is not in the future"]),
    ("scopes a string", '[keys.ci-bot]\nscopes = "predict"\n',
     ["team.toml: keys.ci-bot.scopes: must be a list of scope names"]),
    ("scopes with a number", '[keys.ci-bot]\nscopes = ["predict", 3]\n',
     ["team.toml: keys.ci-bot.scopes: must be a list of scope names"]),
    ("scopes empty", '[keys.ci-bot]\nscopes = []\n', ["team.toml: keys.ci-bot.scopes: is empty"]),
    ("scopes missing", '[keys.ci-bot]\ndescription = "x"\n', ["team.toml: keys.ci-bot.scopes: missing"]),
    ("description a number", '[keys.ci-bot]\nscopes = ["predict"]\ndescription = 5\n',
     ["team.toml: keys.ci-bot.description: must be a string, not the number 5"]),
    ("enabled a string", '[keys.ci-bot]\nscopes = ["predict"]\nenabled = "yes"\n',
     ["team.toml: keys.ci-bot.enabled: must be true or false, not the string 'yes'"]),
    ("invalid name", '[keys."ci bot"]\nscopes = ["predict"]\n',
     ['team.toml: keys."ci bot": invalid name: a key name may hold only letters'],),
    ("name like an id", '[keys.key_abc]\nscopes = ["predict"]\n',
     ["team.toml: keys.key_abc: invalid name: a key name may not start with 'key_'"]),
    ("key not a table", '[keys]\nci-bot = "predict"\n', ["team.toml: keys.ci-bot: must be a table"]),
    ("keys not a table", 'keys = 3\n', ["team.toml: keys: must be a table"]),
    ("deep nesting", "x = " + "[" * 3000 + "]" * 3000 + "\n", ["team.toml: nested too deeply"]),
    ("bad syntax inside a key", '[keys.ci-bot]\nscopes = ["predict"\n', ["team.toml: not valid TOML: Unclosed array (at end of document)"]),
]


@pytest.fixture
def populated(run, tmp_path, db_path) -> dict[str, bytes]:
    """A store with keys in it, and its bytes."""
    assert run("apply", write(tmp_path, TEAM, "base.toml")).code == 0
    run("create", "--scope", "search")
    return snapshot(db_path)


@pytest.mark.parametrize("label, text, expected", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_manifest_exits_2_names_file_key_field_and_changes_nothing(
        run, tmp_path, db_path, populated, label, text, expected, monkeypatch):
    (tmp_path / "team.toml").write_text(text, encoding="utf-8")
    # The path as a user types it in the manifest's folder: messages name it as given.
    monkeypatch.chdir(tmp_path)
    r = run("apply", "team.toml")
    assert r.code == 2, r
    assert r.stdout == ""
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors, r
    for fragment in expected:
        assert any(fragment in line for line in errors), (fragment, r.stderr)
    assert "Traceback" not in r.stderr
    assert snapshot(db_path) == populated


def test_every_problem_is_reported_one_line_each(run, tmp_path, db_path, populated):
    r = run("apply", write(tmp_path, """
[keys.a]
scopes = ["inputs.pach"]
[keys.b]
scopes = ["predict"]
expires = "soon"
colour = "red"
"""))
    assert r.code == 2, r
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert "keys.a.scopes: unknown scope 'inputs.pach'" in errors[0]
    assert any("keys.b.colour: unknown field" in e for e in errors)
    assert any("keys.b.expires: 'soon'" in e for e in errors)
    assert snapshot(db_path) == populated


def test_missing_file_folder_and_non_utf8_exit_2(run, tmp_path, db_path, populated):
    r = run("apply", str(tmp_path / "nope.toml"))
    assert r.code == 2 and "nope.toml: cannot be read" in r.stderr
    r = run("apply", str(tmp_path))
    assert r.code == 2 and "is a folder" in r.stderr
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[keys.caf\xe9]\nscopes = ["predict"]\n'.encode("latin-1"))
    r = run("apply", str(bad))
    assert r.code == 2 and "latin1.toml: is not UTF-8 text" in r.stderr
    assert snapshot(db_path) == populated


def test_huge_manifest_is_refused_before_parsing(run, tmp_path, db_path, populated, monkeypatch):
    import keyctl.manifest

    monkeypatch.setattr(keyctl.manifest, "MAX_MANIFEST_BYTES", 1000)
    r = run("apply", write(tmp_path, "# padding\n" * 200 + TEAM))
    assert r.code == 2, r
    assert "team.toml: is larger than" in r.stderr
    assert snapshot(db_path) == populated


def test_a_bad_manifest_on_a_missing_store_creates_nothing(run, tmp_path, db_path):
    r = run("apply", write(tmp_path, '[keys.a]\nscopes = ["nope"]\n'))
    assert r.code == 2
    assert not db_path.exists()


def test_names_differing_only_by_case_warn(run, tmp_path, db_path):
    r = run("apply", write(tmp_path, '[keys.ci-bot]\nscopes = ["search"]\n[keys.CI-Bot]\nscopes = ["search"]\n'))
    assert r.code == 0, r
    assert any("keys.ci-bot and keys.CI-Bot differ only by case" in w for w in warnings(r.stderr))
    assert len(rows(db_path, "SELECT id FROM keys")) == 2


# --- stdin, the Python API, a stale plan -----------------------------------------------------
def test_manifest_from_stdin(run, db_path):
    r = run("apply", "-", "--json", input=TEAM)
    assert r.code == 0, r
    assert len(r.json["created"]) == 2
    assert {d.get("manifest") for _, _, d in audit(db_path)} == {"<stdin>"}


def test_python_api_apply_a_manifest(db_path):
    ks = KeyStore(db_path)
    manifest = ks.read_manifest(TEAM, "team.toml")
    result = ks.apply(manifest)
    assert sorted(c.key.name for c in result.created) == ["ci-bot", "etl"]
    assert ks.plan(manifest).counts() == {"create": 0, "update": 0, "delete": 0, "unchanged": 2}
    with pytest.raises(ManifestError) as caught:
        ks.read_manifest('[keys.x]\nscopes = ["inputs.pach"]\n', "t.toml")
    assert caught.value.exit_code == 2
    assert caught.value.problems == ("t.toml: keys.x.scopes: unknown scope 'inputs.pach'; did you mean 'inputs.patch'?",)


def test_a_stale_plan_is_refused_and_changes_nothing(db_path):
    ks = KeyStore(db_path)
    ks.create(scopes=["search"], name="other")
    planned = ks.plan(ks.read_manifest(TEAM, "team.toml"))
    KeyStore(db_path).create(scopes=["search"], name="etl")  # another process, meanwhile
    before = snapshot(db_path)
    with pytest.raises(StoreError, match="changed after the plan was made"):
        ks.apply(planned)
    assert snapshot(db_path) == before


def test_a_plan_is_refused_after_a_change_made_by_the_same_keystore(db_path):
    ks = KeyStore(db_path)
    ks.create(scopes=["search"], name="other")
    planned = ks.plan(ks.read_manifest(TEAM, "team.toml"))
    ks.create(scopes=["search"], name="etl")  # the same connection writes meanwhile
    before = snapshot(db_path)
    with pytest.raises(StoreError, match="changed after the plan was made"):
        ks.apply(planned)
    assert snapshot(db_path) == before


def test_a_plan_whose_expiry_passed_while_it_waited_is_refused(db_path, monkeypatch):
    """A plan is not made again when nothing changed in the store, but its absolute
    expiries are checked against the clock of the apply."""
    ks = KeyStore(db_path)
    ks.create(scopes=["search"], name="other")
    soon = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    planned = ks.plan(ks.read_manifest(f'[keys.brief]\nscopes = ["search"]\nexpires = "{soon}"\n', "t.toml"))
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    with pytest.raises(ManifestError, match="is not in the future"):
        ks.apply(planned)
    assert [name for (name,) in rows(db_path, "SELECT name FROM keys")] == ["other"]


# --- scale -----------------------------------------------------------------------------
def test_a_manifest_of_2000_keys_applies_and_then_is_unchanged(run, tmp_path, db_path):
    text = "".join(f'[keys.user-{i:04d}]\nscopes = ["predict", "inputs.patch"]\ndescription = "u{i}"\nexpires = "90d"\n\n'
                   for i in range(2000))
    path = write(tmp_path, text)
    r = run("apply", path, "--json")
    assert r.code == 0, r.stderr[-500:]
    assert len(r.json["created"]) == 2000
    assert rows(db_path, "SELECT count(*) FROM keys") == [(2000,)]
    assert rows(db_path, "SELECT count(*) FROM audit WHERE action = 'create'") == [(2000,)]
    again = run("apply", path)
    assert "0 to create, 0 to update, 0 to delete, 2000 unchanged" in again.stdout


# --- --keyring ---------------------------------------------------------------------------
class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)


class FailsOnSecondWrite(MemoryKeyring):
    def set_password(self, service, username, password):
        if self.entries:
            raise keyring.errors.PasswordSetError("the keyring is full")
        super().set_password(service, username, password)


def use_keyring(monkeypatch, backend: KeyringBackend) -> KeyringBackend:
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(backend)
    return backend


def test_keyring_stores_secrets_instead_of_printing_them(run, tmp_path, db_path, monkeypatch):
    memory = use_keyring(monkeypatch, MemoryKeyring())
    r = run("apply", write(tmp_path, TEAM), "--keyring")
    assert r.code == 0, r
    assert "kc_" not in r.stdout + r.stderr
    assert "in the keyring" in r.stdout
    for name in ("ci-bot", "etl"):
        row = key_row(db_path, name)
        assert row["in_keyring"] == 1
        secret = memory.entries[("keyctl", row["id"])]
        assert run("check", "-", "search", input=secret + "\n").code == 4  # the key's own secret: known, lacks search
    js = run("apply", write(tmp_path, TEAM + '[keys.more]\nscopes = ["search"]\n'), "--keyring", "--json")
    (more,) = js.json["created"]
    assert (more["name"], more["id"], more["secret"]) == ("more", key_row(db_path, "more")["id"], None)
    assert more["stored_in"] and more["in_keyring"] is True


def test_keyring_failure_applies_nothing(run, tmp_path, db_path, populated, monkeypatch):
    backend = use_keyring(monkeypatch, FailsOnSecondWrite())
    r = run("apply", write(tmp_path, TEAM + '[keys.x]\nscopes = ["search"]\n[keys.y]\nscopes = ["search"]\n'), "--keyring")
    assert r.code == 1, r
    assert "keyring" in r.stderr
    assert snapshot(db_path) == populated
    assert backend.entries == {}  # the one stored before the failure was removed again


def test_no_keyring_backend_is_found_before_anything_is_written(run, tmp_path, db_path):
    # The autouse fixture selects keyring's "fail" backend: no keyring here.
    r = run("apply", write(tmp_path, TEAM), "--keyring")
    assert r.code == 1, r
    assert "no usable OS keyring" in r.stderr
    assert not db_path.exists()
