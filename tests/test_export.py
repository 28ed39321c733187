"""`keyctl export`: the store as a manifest. The round trip `export > team.toml && apply
team.toml --dry-run` shows no changes, whatever way the keys were made."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import keyctl.when


def plan_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:2] in ("+ ", "~ ", "- ", "= ")]


def snapshot(db_path: Path) -> bytes:
    """The store's bytes, its WAL folded in first (see tests/test_apply.py)."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db_path.read_bytes()


def export_to(run, path: Path) -> str:
    r = run("export")
    assert r.code == 0, r
    path.write_text(r.stdout, encoding="utf-8")
    return r.stdout


def make_varied_store(run) -> str:
    """Keys made every way keyctl makes them; returns the unnamed key's id."""
    assert run("create", "--name", "ci-bot", "--scope", "predict", "--scope", "inputs.patch",
               "--description", 'CI "predictions" \u2713').code == 0
    assert run("create", "--name", "etl", "--scope", "inputs", "--expires", "30d").code == 0
    assert run("create", "--name", "admin", "--scope", "all", "--expires", "2099-05-01T12:00").code == 0
    assert run("create", "--name", "paused.bot@corp", "--scope", "models.train").code == 0
    assert run("disable", "paused.bot@corp").code == 0
    unnamed = run("create", "--scope", "search", "--json").json["id"]
    return unnamed


def test_export_then_apply_dry_run_shows_no_changes(run, tmp_path, db_path):
    unnamed = make_varied_store(run)
    r = run("export")
    assert r.code == 0, r
    # No secrets and no ids in the manifest; the unnamed key is left out, with a warning.
    assert "kc_" not in r.stdout and "key_" not in r.stdout
    assert f"1 key(s) without a name left out (a manifest names its keys): {unnamed}" in r.stderr
    path = tmp_path / "team.toml"
    path.write_text(r.stdout, encoding="utf-8")
    before = snapshot(db_path)
    dry = run("apply", str(path), "--dry-run")
    assert dry.code == 0, dry
    assert plan_lines(dry.stdout) == ["= admin", "= ci-bot", "= etl", "= paused.bot@corp"]
    assert "0 to create, 0 to update, 0 to delete, 4 unchanged" in dry.stdout
    # Even with --prune: the unnamed key is never pruned.
    pruned = run("apply", str(path), "--prune")
    assert "0 to create, 0 to update, 0 to delete" in pruned.stdout
    assert snapshot(db_path) == before
    assert unnamed in [k["id"] for k in run("list", "--json").json]


def test_export_content(run, tmp_path):
    make_varied_store(run)
    data = tomllib.loads(run("export").stdout)
    keys = data["keys"]
    assert list(keys) == ["admin", "ci-bot", "etl", "paused.bot@corp"]  # sorted by name
    assert keys["ci-bot"] == {
        "scopes": ["inputs.get", "inputs.patch", "predict.call", "predict.feedback"],
        "description": 'CI "predictions" \u2713',
    }
    assert keys["admin"] == {"scopes": ["all"], "expires": "2099-05-01T12:00:00Z"}
    # create --expires 30d stores an absolute time: it is exported as that time.
    assert keys["etl"]["expires"].endswith("Z") and keys["etl"]["expires"][:2] == "20"
    assert keys["paused.bot@corp"] == {"scopes": ["models.get", "models.train"], "enabled": False}


def test_export_keeps_the_manifest_relative_expiry(run, tmp_path, monkeypatch):
    manifest = tmp_path / "in.toml"
    manifest.write_text('[keys.ci-bot]\nscopes = ["search"]\nexpires = "90d"\n', encoding="utf-8")
    assert run("apply", str(manifest)).code == 0
    exported = tomllib.loads(run("export").stdout)
    assert exported["keys"]["ci-bot"]["expires"] == "90d"
    # Weeks later the export still says 90d, and applying it changes nothing.
    later = datetime.now(timezone.utc) + timedelta(days=40)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    out = tmp_path / "out.toml"
    export_to(run, out)
    assert plan_lines(run("apply", str(out), "--dry-run").stdout) == ["= ci-bot"]


def test_round_trip_of_an_expired_key(run, tmp_path, monkeypatch):
    assert run("create", "--name", "old", "--scope", "search", "--expires", "1d").code == 0
    later = datetime.now(timezone.utc) + timedelta(days=5)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    assert run("show", "old", "--json").json["status"] == "expired"
    path = tmp_path / "team.toml"
    export_to(run, path)
    dry = run("apply", str(path), "--dry-run")
    assert dry.code == 0, dry  # a past expiry that the key already has is not an error
    assert plan_lines(dry.stdout) == ["= old"]


def test_export_recreates_the_keys_in_another_store(run, tmp_path):
    make_varied_store(run)
    path = tmp_path / "team.toml"
    export_to(run, path)
    other = tmp_path / "other.db"
    r = run("--db", str(other), "apply", str(path), "--json")
    assert r.code == 0, r
    assert sorted(c["name"] for c in r.json["created"]) == ["admin", "ci-bot", "etl", "paused.bot@corp"]

    def view(db: Path) -> list[tuple]:
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT name, scopes, description, expires_at, disabled FROM keys "
                                "WHERE name IS NOT NULL ORDER BY name").fetchall()
        finally:
            conn.close()

    assert view(other) == view(tmp_path / "keyctl.db")


def test_export_json(run):
    make_varied_store(run)
    r = run("export", "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert list(data) == ["keys"]
    assert data["keys"]["ci-bot"] == {
        "scopes": ["inputs.get", "inputs.patch", "predict.call", "predict.feedback"],
        "description": 'CI "predictions" \u2713', "expires": None, "enabled": True,
    }
    assert data["keys"]["paused.bot@corp"]["enabled"] is False
    assert "without a name" in r.stderr


def test_export_of_a_missing_store_is_an_empty_manifest_and_creates_nothing(run, tmp_path, db_path):
    r = run("export")
    assert r.code == 0, r
    assert tomllib.loads(r.stdout) == {"keys": {}}
    assert not db_path.exists()
    path = tmp_path / "empty.toml"
    path.write_text(r.stdout, encoding="utf-8")
    assert "0 to create, 0 to update, 0 to delete, 0 unchanged" in run("apply", str(path), "--dry-run").stdout


def test_export_pipes_into_apply_from_stdin(sh, tmp_path, db_path):
    assert sh("create", "--name", "a", "--scope", "search").code == 0
    text = sh("export").stdout
    r = sh("apply", "-", "--dry-run", input=text)
    assert r.code == 0, r
    assert plan_lines(r.stdout) == ["= a"]
