"""Say which store: `keyctl status`, `list` on a store that does not exist yet, and the
note of the write that creates a store."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from conftest import create_key, in_terminal, snapshot

STATUS_FIELDS = {"backend", "location", "exists", "schema_version", "mode", "usable", "problem", "catalog",
                 "keys", "warnings"}


def test_status_of_a_store_that_does_not_exist_yet(run, db_path):
    r = run("status", "--json")
    assert r.code == 0, r
    assert set(r.json) == STATUS_FIELDS
    assert r.json | {"warnings": []} == {
        "backend": "sqlite", "location": str(db_path), "exists": False, "schema_version": None, "mode": None,
        "usable": True, "problem": None, "catalog": {"name": "clarifai", "builtin": True},
        "keys": {"active": 0, "disabled": 0, "expired": 0, "total": 0}, "warnings": [],
    }
    human = run("status")
    assert human.stdout.splitlines()[1].strip().startswith("does not exist yet")
    assert not db_path.exists()


def test_status_counts_keys_by_status(run, db_path, monkeypatch):
    create_key(run, "predict", name="a")
    create_key(run, "predict", name="b")
    create_key(run, "search", name="soon", extra=("--expires", "1h"))
    run("disable", "b")
    import keyctl.when

    later = keyctl.when.utcnow() + timedelta(hours=2)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    r = run("status", "--json")
    assert r.code == 0, r
    assert r.json["keys"] == {"active": 1, "disabled": 1, "expired": 1, "total": 3}
    assert r.json["exists"] is True and r.json["schema_version"] >= 4 and r.json["mode"] == "0600"
    lines = run("status").stdout.splitlines()
    assert lines[0] == f"store:    {db_path}"
    assert lines[1].strip() == f"SQLite, schema {r.json['schema_version']}, mode 0600"
    assert lines[2:] == ["catalog:  clarifai (built in)", "keys:     3 (1 active, 1 disabled, 1 expired)"]


def test_status_names_a_catalog_from_a_file(run, tmp_path):
    catalog = os.path.join(os.path.dirname(__file__), "..", "examples", "catalogs", "github-like.toml")
    db = str(tmp_path / "gh.db")
    assert run("--db", db, "--catalog", catalog, "create", "-s", "pulls.write").code == 0
    r = run("status", "--db", db, "--json")
    assert r.json["catalog"] == {"name": "github-like", "builtin": False}
    assert "from a catalog file" in run("status", "--db", db).stdout


@pytest.mark.parametrize("content, problem", [
    (b"not a database at all" * 50, "not a keyctl store"),
    (b"", "is an empty file"),
])
def test_status_of_a_store_that_cannot_be_used_exits_1_with_the_reason(run, db_path, content, problem):
    db_path.write_bytes(content)
    os.chmod(db_path, 0o600)
    before = snapshot(db_path)
    r = run("status", "--json")
    assert r.code == 1, r
    assert r.json["usable"] is False and problem in r.json["problem"]
    assert r.json["keys"] is None and r.json["catalog"] is None
    assert r.stderr.splitlines() == [f"error: {r.json['problem']}"]
    human = run("status")
    assert human.code == 1 and "cannot be used" in human.stdout
    assert snapshot(db_path) == before


def test_status_of_a_store_whose_folder_cannot_exist(run, tmp_path):
    (tmp_path / "plain").write_text("a file")
    r = run("--db", str(tmp_path / "plain" / "k.db"), "status")
    assert r.code == 1 and "is a file, not a folder" in r.stderr


def test_status_warns_of_loose_permissions_once(run, db_path):
    create_key(run, "predict")
    os.chmod(db_path, 0o644)
    r = run("status", "--json")
    assert r.code == 0
    assert r.json["mode"] == "0644"
    assert any("readable or writable by other users" in w for w in r.json["warnings"])
    assert r.stderr.count("readable or writable by other users") == 1


def test_a_group_writable_folder_is_warned_and_a_sticky_one_is_not(run, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    r = run("--db", str(shared / "k.db"), "status", "--json")
    assert any("writable by other users, who could replace" in w for w in r.json["warnings"])
    os.chmod(shared, 0o1777)
    r = run("--db", str(shared / "k.db"), "status", "--json")
    assert r.json["warnings"] == []


def test_first_write_says_it_created_the_store_once(run, sh, db_path):
    r = sh("create", "-n", "first", "-s", "search")
    assert r.code == 0
    assert r.stderr.splitlines()[-1] == f"note: created a new store at {db_path}"
    again = sh("create", "-n", "second", "-s", "search")
    assert "created a new store" not in again.stderr
    assert "created a new store" not in sh("list").stderr


def test_a_copy_into_a_new_store_says_it_created_it(run, sh, db_path, tmp_path):
    create_key(run, "predict", name="a")
    into = tmp_path / "copy.db"
    r = sh("copy", str(db_path), str(into), "--json")
    assert r.code == 0, r
    assert set(r.json) == {"source", "destination", "keys", "audit_entries", "catalog"}  # as README says
    assert r.stderr == f"note: created a new store at {into}\n"
    human = sh("copy", str(db_path), str(tmp_path / "again.db"))
    assert human.stdout.startswith("Copied 1 key(s)")
    assert human.stderr.splitlines() == [f"note: created a new store at {tmp_path / 'again.db'}"]
    refused = sh("copy", str(db_path), str(into))  # not empty: refused, and no note
    assert refused.code == 1 and "created a new store" not in refused.stderr


def test_a_refused_first_write_makes_no_store_and_no_note(run, db_path):
    r = run("apply", "-", input='[keys.a]\nscopes = ["search"]\n[keys.b]\nscopes = ["nope"]\n')
    assert r.code == 2 and not db_path.exists()  # a bad manifest: nothing, not even a store
    assert "created a new store" not in r.stderr


def test_list_on_a_store_that_does_not_exist(run, db_path):
    r = in_terminal("list", columns=80)
    assert r.code == 0 and r.stdout == ""
    assert r.stderr == f"note: no store at {db_path} yet; `keyctl create` makes it\n"
    assert run("list", "--json").stdout == "[]\n"
    assert not db_path.exists()
    create_key(run, "search", name="x")
    run("delete", "x", "--yes")
    r = in_terminal("list", columns=80)
    assert r.stdout.startswith("No keys yet.") and r.stderr == ""


DAMAGE = {
    "catalog text": "UPDATE meta SET value = 'this is [not toml' WHERE key = 'catalog_text'",
    "catalog name": "DELETE FROM meta WHERE key IN ('catalog_text', 'catalog_compiled'); "
                    "UPDATE meta SET value = 'nosuch' WHERE key = 'catalog'",
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_store_whose_own_catalog_cannot_be_read_is_reported_not_a_usage_error(damage, run, db_path):
    import sqlite3

    from keyctl import KeyStore

    create_key(run, "predict", name="bot")
    conn = sqlite3.connect(db_path)
    conn.executescript(DAMAGE[damage])
    conn.close()
    r = run("status", "--json")
    assert r.code == 1 and r.json["usable"] is False, r
    assert "the store's own catalog cannot be read" in r.json["problem"] and "restore it from a backup" in r.json["problem"]
    for args in (("check", "bot", "predict.call"), ("show", "bot"), ("scope", "add", "bot", "search")):
        other = run(*args)
        assert other.code == 1 and other.stderr.startswith("error: the store's own catalog cannot be read"), other
    assert KeyStore(db_path).status()["usable"] is False


def test_a_damaged_compiled_catalog_is_read_from_the_text_instead(run, db_path):
    import json
    import sqlite3

    create_key(run, "predict", name="bot")
    conn = sqlite3.connect(db_path)
    compiled = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'catalog_compiled'").fetchone()[0])
    del compiled["groups"]
    conn.execute("UPDATE meta SET value = ? WHERE key = 'catalog_compiled'", (json.dumps(compiled),))
    conn.commit()
    conn.close()
    assert run("check", "bot", "predict.call").code == 0
    assert run("status", "--json").json["usable"] is True
