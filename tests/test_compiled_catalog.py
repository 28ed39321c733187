"""A store keeps its catalog compiled beside the text (issue 15): later commands load it
without validating it again; a compiled form that does not match the text, or none at
all (a store written before keyctl kept one), falls back to parsing the text."""

from __future__ import annotations

import sqlite3

import pytest

from keyctl import KeyStore
from keyctl.catalog import builtin, load
from keyctl.catalog.compiled import compile_catalog, load_compiled
from keyctl.errors import CatalogError

from conftest import rows

MANY = 40  # more operations than a report shows one line each


def _meta(db, key):
    found = rows(db, "SELECT value FROM meta WHERE key = ?", key)
    return found[0][0] if found else None


def _set_meta(db, key, value):
    conn = sqlite3.connect(db)
    with conn:
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    conn.close()


def _refuse(data):
    raise AssertionError("validated again")


@pytest.mark.parametrize("name", ["clarifai", "clarifai-live"])
def test_a_store_keeps_its_catalog_compiled_and_loads_it_without_validating(run, db_path, name, monkeypatch):
    assert run("--catalog", name, "create", "-n", "k", "-s", "apps.get" if name != "clarifai" else "inputs.get").code == 0
    assert _meta(db_path, "catalog_compiled") == compile_catalog(builtin(name))
    monkeypatch.setattr(load, "validate", _refuse)  # what loads now must not validate again
    monkeypatch.setattr("keyctl.api._STORED_CACHE", {})
    with KeyStore(db_path) as ks:
        assert ks.check("k", "inputs.get" if name == "clarifai" else "apps.get").outcome.value in ("allowed", "redacted")
        assert ks.catalog == builtin(name)  # every scope, operation and group as parsed


def test_a_compiled_form_that_does_not_match_the_text_is_ignored(run, db_path):
    # As a keyctl that kept only the text would leave a store after replacing its catalog.
    assert run("create", "-n", "k", "-s", "inputs.get").code == 0
    live = builtin("clarifai-live")
    _set_meta(db_path, "catalog_text", live.text)
    _set_meta(db_path, "catalog", live.name)
    assert _meta(db_path, "catalog_compiled") == compile_catalog(builtin("clarifai"))  # stale
    r = run("check", "k", "ListInputs", "--json")
    assert r.code == 4 and "apps.get" in r.json["results"][0]["missing_scopes"]  # the text's rules


def test_a_store_without_a_compiled_catalog_still_works(run, db_path):
    assert run("--catalog", "clarifai-live", "create", "-n", "k", "-s", "predict").code == 0
    _set_meta(db_path, "catalog_compiled", None)
    r = run("check", "k", "PostModelOutputs", "--json")
    assert r.code == 4 and r.json["results"][0]["missing_scopes"] == ["apps.get", "concepts.get", "models.get"]


@pytest.mark.parametrize("damage", ["not json", '{"format": 1}', "[]", '{"format": 99}'])
def test_a_compiled_form_keyctl_cannot_read_is_ignored(damage):
    catalog = builtin("clarifai")
    assert load_compiled(damage, catalog.text) is None


def test_catalog_upgrade_keeps_the_new_catalog_compiled(run, db_path):
    assert run("create", "-n", "k", "-s", "inputs.get").code == 0
    assert run("catalog", "upgrade", "clarifai-live", "--yes").code == 0
    assert _meta(db_path, "catalog_compiled") == compile_catalog(builtin("clarifai-live"))
    assert "apps.get" in run("check", "k", "ListInputs", "--json").json["results"][0]["missing_scopes"]


def test_a_big_catalog_round_trips(tmp_path):
    text = _catalog(MANY, redacting=True)
    path = tmp_path / "many.toml"
    path.write_text(text, encoding="utf-8")
    parsed = load.load_catalog(str(path))
    loaded = load_compiled(compile_catalog(parsed), parsed.text)
    assert loaded == parsed and dict(loaded.groups) == dict(parsed.groups)
    assert dict(loaded.aliases) == dict(parsed.aliases) == {"r00_read": "r00.read"}


def _catalog(pairs: int, redacting: bool = False) -> str:
    lines = ['name = "many"', "[groups]"]
    lines += [f'r{i:02d} = ["r{i:02d}.read", "r{i:02d}.write"]' for i in range(pairs // 2)]
    for i in range(pairs // 2):
        lines += ["[[scopes]]", f'id = "r{i:02d}.read"'] + (['aliases = ["R00_Read"]'] if i == 0 else [])
        lines += ["[[scopes]]", f'id = "r{i:02d}.write"', f'requires = ["r{i:02d}.read"]']
        if redacting:
            lines += ["[[operations]]", f'id = "r{i:02d}.read"', f'redacts = {{ secret = "r{i:02d}.write" }}']
    return "\n".join(lines) + "\n"


def test_a_report_of_many_operations_is_grouped_with_redactions_and_billing_left_out(run, tmp_path):
    path = tmp_path / "many.toml"
    path.write_text(_catalog(MANY, redacting=True), encoding="utf-8")
    assert run("--catalog", str(path), "create", "-n", "k", "-s", "r00.read,r01.read,r02.write").code == 0
    r = run("check", "k")
    assert r.code == 4
    lines = r.stdout.splitlines()
    at = lines.index("r00 (2)")
    assert lines[at + 1:at + 3] == ["  ◐ redacted  r00.read  [hidden: secret; without r00.write]",
                                    "  ✘ rejected  r00.write  [missing: r00.write]"]
    assert lines[lines.index("r02 (2)") + 1] == "  ✔ allowed   r02.read, r02.write"
    assert lines[-1].startswith(f"{MANY} operations: 1 allowed, 2 redacted, 37 rejected") or \
        lines[-1].startswith(f"{MANY} operations: 2 allowed, 2 redacted, 36 rejected")
    assert len(run("check", "k", "--json").json["results"]) == MANY
    few = run("check", "k", "r00.read", "r02.write")
    assert few.stdout.splitlines()[0].startswith("◐ redacted  r00.read ")  # a line each when few


def test_validation_problems_still_stop_a_catalog_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(_catalog(4).replace('requires = ["r01.read"]', 'requires = ["r09.read"]'), encoding="utf-8")
    with pytest.raises(CatalogError, match="names no scope"):
        load.load_catalog(str(path))
