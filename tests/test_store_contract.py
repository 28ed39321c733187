"""The store contract: what every backend does, from one set of tests run on SQLite
and on PostgreSQL (a real server, tests/pgserver.py; the ``location`` fixture gives a
store that does not exist yet on each in turn). Through the library and through the
command line (``KEYCTL_DB`` set to the store, real processes for ``check``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyctl import KeyStore, tokens
from keyctl.decide import Outcome
from keyctl.errors import CatalogMismatchError, KeyctlError, NameTakenError, NotFoundError
from keyctl.store import SCHEMA_VERSION, is_url


@pytest.fixture
def store(location):
    with KeyStore(location) as ks:
        yield ks


def made(location: str, request) -> bool:
    """Whether the store exists, seen from outside keyctl."""
    if not is_url(location):
        return Path(location).exists()
    schema = location.rsplit("%3D", 1)[1]
    return bool(request.getfixturevalue("pg_server").sql(f"SELECT 1 FROM pg_namespace WHERE nspname = '{schema}'"))


def actions(ks: KeyStore, ref: str | None = None) -> list[str]:
    return [e.action for e in ks.log(ref)]


def test_reads_of_a_missing_store_answer_empty_and_create_nothing(location, request):
    with KeyStore(location) as ks:
        assert list(ks.list()) == [] and list(ks.log()) == []
        assert ks.check(tokens.new_secret(), "search").status.code == 11009
        assert ks.names_by_prefix("a") == []
        with pytest.raises(NotFoundError):
            ks.get("nobody")
        status = ks.status()
        assert (status["exists"], status["schema_version"], status["keys"]["total"]) == (False, None, 0)
        assert ks.export().keys == {}
        with pytest.raises(NotFoundError):
            ks.catalog_upgrade("clarifai-live", yes=True)
    assert not made(location, request)


def test_create_list_filters_show_and_lookups(store):
    admin = store.create(scopes=["all"], name="admin")
    store.create(scopes=["inputs.patch"], name="patcher", description="patches", expires="30d")
    store.create(scopes=["search"], name="finder")
    anonymous = store.create(scopes=["search"])
    store.disable("finder")
    assert [k.name for k in store.list()] == ["admin", "patcher", "finder", None]  # oldest first
    assert [k.name for k in store.list(scope=["inputs.get"])] == ["admin", "patcher"]
    assert [k.name for k in store.list(status="disabled")] == ["finder"]
    assert [k.name for k in store.list(status="active", scope=["search"])] == ["admin", None]
    patcher = store.get("patcher")
    assert (patcher.description, patcher.scopes, patcher.expires_at is not None) == (
        "patches", ("inputs.get", "inputs.patch"), True)
    assert store.get(admin.secret).id == admin.key.id == store.get(admin.key.id).id
    assert store.get(anonymous.key.id).name is None
    detail = store.show("patcher")
    assert (detail.operations["inputs.patch"], detail.operations["search"]) == ("redacted", "rejected")
    assert [name for _, name in store.names_by_prefix("p")] == ["patcher"]
    assert store.names_by_prefix(anonymous.key.id[:8])[0][0].startswith(anonymous.key.id[:8])
    for missing in ("nobody", "a\x00b", "key_aaaaaaaaaaaaaaaa", tokens.new_secret()):
        with pytest.raises(NotFoundError):
            store.get(missing)


def test_scope_changes_follow_prerequisites_and_are_audited(store):
    store.create(scopes=["search"], name="ci")
    assert store.scope_add("ci", ["inputs.patch"]).key.scopes == ("inputs.get", "inputs.patch", "search")
    change = store.scope_remove("ci", ["inputs.get"])
    assert change.key.scopes == ("search",) and [c.scope for c in change.removed_dependents] == ["inputs.patch"]
    assert store.scope_set("ci", ["predict"]).key.scopes == ("predict.call", "predict.feedback")
    entries = list(store.log("ci"))
    assert [e.action for e in entries] == ["scope.set", "scope.remove", "scope.add", "create"]
    assert entries[2].details["after"] == ["inputs.get", "inputs.patch", "search"]
    assert entries[1].details["before"] == entries[2].details["after"]


def test_disable_enable_update_rotate_delete_and_the_log(store):
    created = store.create(scopes=["search"], name="ci")
    assert store.disable("ci").status == "disabled"
    assert store.check(created.secret, "search").status.code == 11008
    assert store.enable("ci").status == "active"
    assert store.update("ci", name="ci2", description="d").name == "ci2"
    rotated = store.rotate("ci2")
    assert store.check(created.secret, "search").status.code == 11009
    assert store.check(rotated.secret, "search").outcome is Outcome.ALLOWED
    assert store.delete("ci2").status == "deleted"
    # the trail of a deleted key, by its id, and by either name it had: the whole trail
    assert actions(store, created.key.id) == ["delete", "rotate", "update", "enable", "disable", "create"]
    assert actions(store, "ci2") == actions(store, "ci") == actions(store, created.key.id)
    assert [e.key_name for e in store.log(limit=2)] == ["ci2", "ci2"]
    assert all(e.actor for e in store.log())


def test_check_by_secret_id_and_name_and_of_what_matches_nothing(store):
    created = store.create(scopes=["inputs.patch"], name="reader")
    for ref in (created.secret, created.key.id, "reader"):
        verdict = store.check(ref, "inputs.get")
        assert (verdict.outcome, verdict.missing_scopes) == (Outcome.REDACTED, ("concepts.get",))
    mistyped = created.secret[:-1] + ("A" if created.secret[-1] != "A" else "B")
    assert store.check(mistyped, "search").status.code == 11008  # its checksum fails: malformed
    assert store.check(tokens.new_secret(), "search").status.code == 11009
    with pytest.raises(NotFoundError):
        store.check("nobody", "search")
    report = store.check_many("reader", ["inputs"])
    assert [v.outcome.value for v in report.results] == ["rejected", "redacted", "redacted", "rejected"]


def test_a_taken_name_and_a_refused_change_write_nothing(store):
    store.create(scopes=["search"], name="a")
    store.create(scopes=["search"], name="b")
    with pytest.raises(NameTakenError):
        store.create(scopes=["search"], name="a")
    with pytest.raises(NameTakenError):
        store.update("b", name="a")
    with pytest.raises(KeyctlError):
        store.scope_remove("a", ["search"])  # would leave no scope
    assert actions(store) == ["create", "create"]


def test_apply_then_export_round_trip(store, tmp_path):
    manifest = store.read_manifest(
        '[keys.ci-bot]\nscopes = ["predict", "inputs.patch"]\nexpires = "90d"\n'
        '[keys.etl]\nscopes = ["inputs.add"]\ndescription = "nightly"\nenabled = false\n', "team.toml")
    result = store.apply(manifest)
    assert sorted(c.key.name for c in result.created) == ["ci-bot", "etl"]
    assert store.get("etl").status == "disabled"
    exported = store.export()
    assert exported.keys["ci-bot"]["expires"] == "90d"
    again = store.plan(store.read_manifest(exported.text, "export"))
    assert not again.has_changes
    pruned = store.apply(store.read_manifest('[keys.etl]\nscopes = ["inputs.add"]\n', "small.toml"), prune=True)
    assert [k.name for k in store.list()] == ["etl"] and pruned.plan.has_changes
    assert {e.details.get("manifest") for e in store.log()} == {"team.toml", "small.toml"}


def test_catalog_upgrade_adds_prerequisites_and_is_kept(store, location):
    store.create(scopes=["inputs.add"], name="adder")
    report = store.catalog_upgrade("clarifai-live", yes=True)
    assert report.applied and [k.name for k, _ in report.additions] == ["adder"]
    assert store.get("adder").scopes == ("inputs.add", "inputs.get")
    with KeyStore(location) as again:
        assert again.catalog.name == "clarifai-live"
        assert again.status()["catalog"] == {"name": "clarifai-live", "builtin": True}
    assert actions(store)[:2] == ["catalog.upgrade", "scope.add"]


def test_status_describes_the_store(store, location):
    store.create(scopes=["search"], name="one")
    store.disable(store.create(scopes=["search"]).key.id)
    status = store.status()
    assert (status["exists"], status["schema_version"], status["keys"]["total"], status["keys"]["disabled"]) == (
        True, SCHEMA_VERSION, 2, 1)
    assert status["backend"] == ("postgresql" if is_url(location) else "sqlite")
    assert status["location"] == store.store.location
    assert {"backend", "location", "exists", "schema_version", "mode", "warnings"} <= set(status)


# --- copy: any backend to any backend --------------------------------------------------
@pytest.fixture
def elsewhere(location, request, tmp_path):
    """A store on the OTHER backend from ``location``."""
    return request.getfixturevalue("pg_url") if not is_url(location) else str(tmp_path / "copy.db")


def test_copy_there_and_back_keeps_every_key_secret_entry_and_the_catalog(location, elsewhere, tmp_path):
    with KeyStore(location, catalog="clarifai-live") as source:
        secret = source.create(scopes=["inputs.patch"], name="ci", description="ci").secret
        source.scope_add("ci", ["search"])
        source.disable(source.create(scopes=["predict"]).key.id)
        copied = source.copy_to(elsewhere)
        keys, trail = list(source.list()), list(source.log())
    assert (copied.keys, copied.audit_entries, copied.catalog) == (2, 4, "clarifai-live")
    back = str(tmp_path / "back.db")
    with KeyStore(elsewhere) as there:
        assert list(there.list()) == keys
        assert list(there.log())[1:] == trail  # after the copy's own entry
        assert there.check(secret, "inputs.add").outcome is Outcome.ALLOWED  # clarifai-live's rules
        assert there.catalog.name == "clarifai-live"
        there.copy_to(back)
    with KeyStore(back) as final:
        assert list(final.list()) == keys
        assert [e.action for e in final.log()][:3] == ["copy", "copy", "disable"]


def test_copy_of_a_store_that_does_not_exist_creates_nothing(location, elsewhere, request):
    with KeyStore(location) as nothing, pytest.raises(NotFoundError, match="no store at"):
        nothing.copy_to(elsewhere)
    assert not made(location, request) and not made(elsewhere, request)


def test_copy_refuses_a_store_that_is_not_empty(location, elsewhere):
    with KeyStore(location) as source, KeyStore(elsewhere) as other:
        source.create(scopes=["search"], name="ours")
        other.create(scopes=["search"], name="theirs")
        with pytest.raises(KeyctlError, match="is not empty") as err:
            source.copy_to(elsewhere)
        assert err.value.exit_code == 1
        other.delete("theirs")  # no keys left, but an audit trail: not empty either
        with pytest.raises(KeyctlError, match="is not empty"):
            source.copy_to(elsewhere)
        with pytest.raises(KeyctlError, match="same store"):
            source.copy_to(location)
        assert list(other.list()) == [] and actions(other) == ["delete", "create"]


def test_copy_into_an_empty_store_of_another_catalog_is_refused(location, elsewhere):
    with KeyStore(elsewhere, catalog="clarifai-live") as other:
        assert other.catalog.name == "clarifai-live"
        with other.store.transaction():
            pass  # an empty store that keeps its catalog
    with KeyStore(location) as source:
        source.create(scopes=["search"])
        with pytest.raises(CatalogMismatchError) as err:
            source.copy_to(elsewhere)
    assert "clarifai-live" in str(err.value) and err.value.exit_code == 2
    with KeyStore(elsewhere) as other:
        assert list(other.list()) == [] and list(other.log()) == []


# --- the command line ----------------------------------------------------------------------
def test_the_command_line_on_each_backend(location, run, sh, monkeypatch, tmp_path):
    monkeypatch.setenv("KEYCTL_DB", location)
    made_key = run("create", "--name", "ci", "--scope", "inputs.patch", "--json")
    assert made_key.code == 0, made_key
    secret = made_key.json["secret"]
    checked = sh("check", "-", "inputs.patch", "concepts.get", "--json", input=secret + "\n")  # a real process
    assert (checked.code, checked.json["key"]["name"], checked.json["outcome"]) == (4, "ci", "rejected"), checked
    assert run("check", "ci", "inputs.get").code == 3
    assert run("scope", "add", "ci", "concepts.get").code == 0
    assert run("check", secret, "inputs.patch").code == 0
    assert [k["name"] for k in run("list", "--json").json] == ["ci"]
    assert [e["action"] for e in run("log", "ci", "--json").json] == ["scope.add", "create"]
    manifest = tmp_path / "team.toml"
    manifest.write_text(run("export").stdout + '[keys.etl]\nscopes = ["search"]\n')
    applied = run("apply", str(manifest), "--json")
    assert applied.code == 0 and [c["name"] for c in applied.json["created"]] == ["etl"]
    taken = run("create", "--name", "etl", "--scope", "search")
    assert (taken.code, taken.stderr.count("\n"), "taken" in taken.stderr) == (1, 1, True)
    backup = tmp_path / "backup.db"
    copied = sh("copy", location, str(backup), "--json")
    assert copied.code == 0 and copied.json["keys"] == 2, copied
    assert [k["name"] for k in run("--db", str(backup), "list", "--json").json] == ["ci", "etl"]
    assert run("delete", "ci", "--yes").code == 0
    assert run("check", secret, "inputs.get").code == 4


# --- several writers at once ----------------------------------------------------------------
# Scopes without prerequisites: each add changes the key, none is added by another's.
ADDS = (["predict.call", "predict.feedback"], ["inputs.add", "inputs.get"], ["concepts.add", "concepts.get"],
        ["models.add", "models.get"])
ADDER = """
import sys
from keyctl import KeyStore
ks = KeyStore(sys.argv[1])
for scope in sys.argv[2:]:
    ks.scope_add("shared", [scope])
"""


def test_concurrent_scope_adds_on_one_key_lose_nothing(location):
    with KeyStore(location) as ks:
        ks.create(scopes=["search"], name="shared")
    procs = [subprocess.Popen([sys.executable, "-c", ADDER, location, *scopes], stderr=subprocess.PIPE, text=True,
                              env={**os.environ}) for scopes in ADDS]
    errors = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    assert errors == [(0, "")] * len(ADDS)
    with KeyStore(location) as ks:
        assert set(ks.get("shared").scopes) == {"search", *(s for group in ADDS for s in group)}
        adds = [e for e in ks.log("shared") if e.action == "scope.add"][::-1]
    assert len(adds) == 8
    for earlier, later in zip(adds, adds[1:]):  # each change was made on the row as the last one left it
        assert later.details["before"] == earlier.details["after"]
    assert json.dumps(adds[0].details["before"]) == '["search"]'
